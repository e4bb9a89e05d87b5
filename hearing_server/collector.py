"""Python's cyclic garbage collector on a server that holds thousands of sockets.

CPython collects its oldest generation whenever it has grown by a quarter since the last
full collection, and a full collection walks every object the process holds. With 200
hearings × 12 sockets that is about 700,000 objects and 250 to 450 ms with the event loop
stopped: every page turn of every room in that moment waits, and a page turn's own
garbage makes it happen every few seconds. Measured with ``bench/room_scale.py`` at 200
rooms × 12 on one process: fan-out p95 14.4 ms and p99 438 ms beside the bare server's
4.1 ms; with the automatic full collections off, p95 5.4 ms and p99 13.3 ms.

So ``heyat serve`` (only it: not the tests' in-process servers, nor the CLI's other
commands) takes the full collections in hand:

- at start-up, what the process has loaded (its modules) is collected once and frozen
  (``gc.freeze``): it lives as long as the process, and no collection walks it again;
- the youngest two generations are collected as CPython does (short pauses: the garbage of
  one request rarely outlives them);
- the oldest is collected every ``gc_full_collection_seconds`` (``HEYAT_GC_FULL_COLLECTION_
  SECONDS``, 300 s by default) instead of whenever it grows: the same pause, once in five
  minutes instead of every few seconds. What it reclaims is what outlived the young
  generations and then became garbage (a closed socket's cycles); between two full
  collections it waits, as it would have waited for the next automatic one. 0 leaves
  CPython's own policy in place.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

log = logging.getLogger(__name__)

# gc.set_threshold's third number counts collections of the middle generation between two
# full ones; this many never come (one every few ms would take years).
NEVER = 2**31 - 1


def take_in_hand(every: float) -> threading.Thread | None:
    """Freeze what is loaded, stop the automatic full collections, and run one every
    ``every`` seconds on a thread of its own (it holds the interpreter while it runs, as
    an automatic one does). None, and nothing changed, when ``every`` is 0."""
    if every <= 0:
        return None
    gc.collect()
    gc.freeze()
    young, middle, _old = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)
    thread = threading.Thread(
        target=_collect_every, args=(every,), name="heyat-full-gc", daemon=True
    )
    thread.start()
    return thread


def _collect_every(every: float) -> None:
    while True:
        time.sleep(every)
        started = time.perf_counter()
        found = gc.collect()
        log.info(
            "full garbage collection: %d unreachable objects in %.0f ms",
            found,
            (time.perf_counter() - started) * 1000,
        )
