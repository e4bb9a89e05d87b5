"""``heyat serve``'s garbage collection (hearing_server/collector.py), each case in a
process of its own: the collector's settings are the whole interpreter's."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import EVENTUALLY_SECONDS

SCRIPT = """
import gc, json, sys, threading, weakref
from hearing_server import collector

every = float(sys.argv[1])
thread = collector.take_in_hand(every)
full = []

def count_full(phase, info):
    if phase == "stop" and info["generation"] == 2:
        full.append(1)

gc.callbacks.append(count_full)

class Node:
    pass

def cycle():
    a, b = Node(), Node()
    a.b, b.a = b, a
    return a

# Cyclic garbage that outlived the young generations (a closed socket's objects).
old = cycle()
reclaimed = threading.Event()
weakref.finalize(old, reclaimed.set)
gc.collect(1)  # survivors of the young generations go to the oldest
del old
# A server's life: objects that stay (sockets joining) and garbage.
kept = []
for n in range(400_000):
    node = cycle()
    if n % 2:
        kept.append(node)
during_churn = len(full)
reclaimed.wait(float(sys.argv[2]))  # set by the collection that reclaims it
print(json.dumps({
    "full_during_churn": during_churn,
    "reclaimed": reclaimed.is_set(),
    "threshold": gc.get_threshold(),
    "thread": thread is not None,
}))
"""


def _run(every: float, wait: float) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(every), str(wait)],
        capture_output=True,
        text=True,
        timeout=EVENTUALLY_SECONDS * 2,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_cpythons_own_policy_runs_full_collections_under_churn() -> None:
    """The baseline the collector changes (and ``0`` keeps): the same churn makes CPython
    walk the whole heap several times, and the old garbage goes at one of them."""
    mine = _run(0, 0)
    assert mine["thread"] is False
    assert isinstance(mine["full_during_churn"], int) and mine["full_during_churn"] >= 1
    assert mine["reclaimed"] is True


def test_no_full_collection_comes_between_the_scheduled_ones() -> None:
    mine = _run(3600, 0)
    assert mine["thread"] is True
    assert mine["full_during_churn"] == 0
    assert mine["reclaimed"] is False  # waits for the next scheduled collection
    threshold = mine["threshold"]
    assert isinstance(threshold, list) and threshold[2] >= 2**31 - 1


def test_the_scheduled_full_collection_reclaims_old_garbage() -> None:
    """Nothing is left for good: cyclic garbage in the oldest generation is reclaimed by
    the next scheduled collection, with no collection asked for by hand."""
    mine = _run(0.2, EVENTUALLY_SECONDS)
    assert mine["reclaimed"] is True
