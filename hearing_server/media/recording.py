"""Recording of a hearing's public part, only with everyone's consent (docs/realtime.md,
"Recording"; issue #17 item 3).

The rule:

* The secretary or the chair asks (``recording.request``), only during the hearing of the
  parties. Asking counts as their own consent.
* Everyone present in the room (open, admitted attendance: the board and the parties it
  admitted) is asked; each answers ``recording.consent {agree}``. Recording starts (Janus
  ``enable_recording``) when every person present has agreed. Until then nothing records.
* A refusal ends the request (``recording/declined``) — or, once recording, stops it.
* Someone who has not agreed and asks for audio/video while it records (a party admitted
  later, a member who arrives) pauses it for everyone before their media can reach Janus
  (``recording/paused``); it resumes when they agree. Asking again (``recording.request``)
  while asking or paused checks again who is present (someone who left without answering).
* It stops by itself when the room leaves the hearing of the parties (deliberation,
  voting, closing), in the same step that cuts the parties' media, or when the secretary or
  chair stops it (``recording.stop``).

The state is the room's log: every ``recording`` event (request, consent, start, paused,
resumed, declined, stop, stored) is a numbered room event everyone present sees, so the log
and the minutes show who agreed and when it ran. When it stops, the ``.mjr`` files go to a
folder of their own, are made into one file (:mod:`.recording_files`) and stored as a
document of each case of the hearing, visible to the board and the case's parties, with
its SHA-256 in the audit chain (``room.recording_stored``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import StrictBool
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.audit.services import do_record
from hearing_server.cases.files import (
    StoredBytes,
    discard_unrecorded,
    do_record_file,
    store_file_bytes,
)
from hearing_server.cases.models import Document, DocumentVisibility
from hearing_server.config import Settings
from hearing_server.db import Database, after_commit
from hearing_server.errors import Conflict
from hearing_server.i18n import gettext
from hearing_server.media.janus import JanusError, JanusUnavailable
from hearing_server.media.recording_files import RecordingFailed, mux, take_files
from hearing_server.media.service import MediaService, room_id
from hearing_server.rooms import events as ev
from hearing_server.rooms.access import hearing_case_ids, require_active, require_hearing
from hearing_server.rooms.events import RoomContext
from hearing_server.rooms.log import do_append_event
from hearing_server.rooms.models import Attendance, RoomEvent
from hearing_server.rooms.registry import MODERATORS, RoomAction, room_action
from hearing_server.scheduling.models import Hearing, RoomPhase

log = logging.getLogger(__name__)

EVENT = "recording"  # the room events' type
DOCUMENT_KIND = "recording"
REQUEST = "recording.request"
CONSENT = "recording.consent"
STOP = "recording.stop"
STATE = "recording.state"


class RecState(StrEnum):
    IDLE = "idle"  # nothing asked, or the last request ended
    ASKING = "asking"  # waiting for everyone present to agree
    RECORDING = "recording"
    PAUSED = "paused"  # someone present has not agreed


@dataclass
class RecordingRound:
    """The last request and what followed it, read from the room's log."""

    state: RecState = RecState.IDLE
    request_seq: int | None = None
    requested_by: int | None = None
    agreed: set[int] = field(default_factory=set)
    ever_started: bool = False


async def get_round(session: AsyncSession, hearing_id: int) -> RecordingRound:
    rows = await session.execute(
        select(RoomEvent.seq, RoomEvent.op, RoomEvent.payload, RoomEvent.actor_id)
        .where(
            RoomEvent.hearing_id == hearing_id,
            RoomEvent.type == EVENT,
            RoomEvent.audience == ev.AUDIENCE_ALL,
        )
        .order_by(RoomEvent.seq)
    )
    now = RecordingRound()
    for seq, op, payload, actor_id in rows:
        if op == "request" and now.state == RecState.IDLE:
            now = RecordingRound(RecState.ASKING, seq, actor_id, {actor_id} if actor_id else set())
        elif op == "consent" and payload.get("agree"):
            now.agreed.add(int(payload["user_id"]))
        elif op in ("start", "resumed"):
            now.state = RecState.RECORDING
            now.ever_started = True
        elif op == "paused":
            now.state = RecState.PAUSED
        elif op in ("declined", "stop"):
            now.state = RecState.IDLE
    return now


async def present_ids(session: AsyncSession, hearing_id: int) -> set[int]:
    """Who is in the room now: open attendance, admitted (a party in the lobby is not in
    the hearing yet; asking for audio/video later is when their consent is needed)."""
    rows = await session.scalars(
        select(Attendance.user_id).where(
            Attendance.hearing_id == hearing_id,
            Attendance.left_at.is_(None),
            Attendance.admitted.is_(True),
        )
    )
    return set(rows)


def _room_dir(service: MediaService, hearing_id: int) -> Path:
    return Path(service.config.rec_dir) / room_id(hearing_id)


async def _janus_record(
    session: AsyncSession, service: MediaService, hearing_id: int, on: bool
) -> None:
    """Janus starts or stops writing the room, on the server the room is pinned to
    (hearing_server.media.fleet), looked up in the caller's transaction."""
    if on:
        await asyncio.to_thread(_room_dir(service, hearing_id).mkdir, parents=True, exist_ok=True)
        await service.ensure_room_in(session, hearing_id)
    janus = await service.janus_in(session, hearing_id)
    await janus.enable_recording(room_id(hearing_id), on)


async def _append(
    session: AsyncSession, hearing: Hearing, op: str, payload: dict[str, Any], actor: int | None
) -> None:
    await do_append_event(session, hearing, EVENT, op, payload, ev.AUDIENCE_ALL, actor_id=actor)


async def _audit(
    session: AsyncSession, hearing: Hearing, op: str, actor: int | None, **payload: Any
) -> None:
    await do_record(
        session,
        actor_id=actor,
        action=f"room.recording_{op}",
        subject_type="hearing",
        subject_id=hearing.id,
        payload=payload,
    )


async def _advance(
    session: AsyncSession,
    service: MediaService,
    hearing: Hearing,
    now: RecordingRound,
    actor: int | None,
) -> RecordingRound:
    """Start (or resume) when every person present has agreed; else say who is awaited."""
    waiting = sorted(await present_ids(session, hearing.id) - now.agreed)
    if waiting or now.state == RecState.RECORDING:
        return now
    op = "resumed" if now.state == RecState.PAUSED else "start"
    try:
        await _janus_record(session, service, hearing.id, True)
    except (JanusError, JanusUnavailable) as error:
        log.warning("recording in hearing %s: %s", hearing.id, error)
        raise Conflict(
            "Audio and video are unavailable right now.", code="media_unavailable"
        ) from None
    await _append(session, hearing, op, {"agreed": sorted(now.agreed)}, actor)
    if op == "start":
        await _audit(session, hearing, "start", actor, agreed=sorted(now.agreed))
    now.state = RecState.RECORDING
    now.ever_started = True
    return now


async def _stop(
    session: AsyncSession,
    recorder: Recorder,
    hearing: Hearing,
    now: RecordingRound,
    actor: int | None,
    reason: str,
) -> None:
    """End the round: Janus stops writing, the files are set aside and, after the commit,
    made into the case document."""
    if now.state == RecState.ASKING:
        await _append(session, hearing, "declined", {"reason": reason}, actor)
        return
    try:
        await _janus_record(session, recorder.service, hearing.id, False)
    except (JanusError, JanusUnavailable) as error:
        # A room that is gone (or a Janus that died) records nothing more either.
        log.warning("stop recording in hearing %s: %s", hearing.id, error)
    await _append(session, hearing, "stop", {"reason": reason}, actor)
    await _audit(session, hearing, "stop", actor, reason=reason)
    work = _room_dir(recorder.service, hearing.id) / f"recording-{now.request_seq}"
    await asyncio.to_thread(take_files, _room_dir(recorder.service, hearing.id), work)
    hearing_id, owner = hearing.id, now.requested_by
    if owner is None:  # every request names who asked; a log without one is not ours
        return

    async def finish() -> None:
        recorder.spawn(recorder.finish(hearing_id, work, owner))

    after_commit(session, finish)


# ---------------------------------------------------------------- the service


class Recorder:
    """The recording part of one app (``MediaService.recorder``, set in ``create_app``):
    what runs outside a room event — the stop at a phase change, the pause when someone
    who has not agreed asks for media, and the making of the file."""

    def __init__(self, db: Database, settings: Settings, service: MediaService) -> None:
        self.db = db
        self.settings = settings
        self.service = service
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Let the files being made finish (a stop asked for them)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=60)

    async def phase_changed(self, hearing_id: int, phase: RoomPhase) -> None:
        """The room left the hearing of the parties: stop (or drop the request)."""
        async with self.db.transaction() as session:
            hearing = await require_hearing(session, hearing_id, lock=True)
            now = await get_round(session, hearing_id)
            if now.state != RecState.IDLE:
                await _stop(session, self, hearing, now, None, f"phase:{phase.value}")

    async def check_joining(self, hearing_id: int, user_id: int) -> None:
        """Before a person gets media credentials: while recording, someone who has not
        agreed pauses it (their media never reaches a recording they did not agree to)."""
        async with self.db.transaction(write=False) as session:
            now = await get_round(session, hearing_id)
        if now.state != RecState.RECORDING or user_id in now.agreed:
            return  # the usual case: a read, no write lock
        async with self.db.transaction() as session:
            hearing = await require_hearing(session, hearing_id, lock=True)
            now = await get_round(session, hearing_id)
            if now.state != RecState.RECORDING or user_id in now.agreed:
                return
            try:
                await _janus_record(session, self.service, hearing_id, False)
            except (JanusError, JanusUnavailable) as error:
                log.warning("pause recording in hearing %s: %s", hearing_id, error)
                raise Conflict(
                    "Audio and video are unavailable right now.", code="media_unavailable"
                ) from None
            await _append(session, hearing, "paused", {"waiting": [user_id]}, None)

    async def finish(self, hearing_id: int, work: Path, owner: int) -> None:
        """Make the file, store it for each case of the hearing, audit its hash."""
        try:
            made = await mux(work)
        except (RecordingFailed, OSError) as error:
            log.warning("recording of hearing %s: %s", hearing_id, error)
            async with self.db.transaction() as session:
                hearing = await require_hearing(session, hearing_id)
                await _append(session, hearing, "failed", {"reason": str(error)[:200]}, None)
            return
        data = await asyncio.to_thread(made.path.read_bytes)
        # Written and fsynced before the transaction that records it (never inside one).
        stored = await store_file_bytes(self.settings.files_dir, data)
        try:
            async with self.db.transaction() as session:
                await do_store_recording(
                    session,
                    self.settings,
                    hearing_id,
                    stored,
                    mime_type=made.mime_type,
                    extension=made.path.suffix,
                    duration=made.duration,
                    streams=made.streams,
                    owner=owner,
                )
        except BaseException:
            await discard_unrecorded(self.db, self.settings.files_dir, stored)
            raise


async def do_store_recording(
    session: AsyncSession,
    settings: Settings,
    hearing_id: int,
    stored: StoredBytes,
    *,
    mime_type: str,
    extension: str,
    duration: float,
    streams: int,
    owner: int,
) -> list[int]:
    """Record a hearing's recording, written by :func:`store_file_bytes`, once and add it
    to each case of the hearing (visible to the board and the case's parties); its SHA-256
    goes into the audit chain and the room hears of it. Returns the documents' ids."""
    digest = stored.sha256
    hearing = await require_hearing(session, hearing_id, lock=True)
    await do_record_file(session, settings.files_dir, stored, mime_type=mime_type)
    title = gettext("Recording of the hearing's public part", settings.default_locale)
    documents = [
        Document(
            case_id=case_id,
            sha256=digest,
            title=title,
            kind=DOCUMENT_KIND,
            visibility=DocumentVisibility.PARTIES,
            original_filename=f"hearing-{hearing_id}-recording{extension}",
            uploaded_by_id=owner,
        )
        for case_id in await hearing_case_ids(session, hearing_id)
    ]
    session.add_all(documents)
    await session.flush()
    ids = [document.id for document in documents]
    await do_record(
        session,
        actor_id=owner,
        action="room.recording_stored",
        subject_type="hearing",
        subject_id=hearing_id,
        payload={
            "sha256": digest,
            "size": stored.size,
            "duration": round(duration, 3),
            "streams": streams,
            "documents": ids,
        },
    )
    await _append(
        session,
        hearing,
        "stored",
        {"documents": ids, "sha256": digest, "duration": round(duration, 3)},
        None,
    )
    return ids


# ---------------------------------------------------------------- room actions


class ConsentIn(ev.Payload):
    agree: StrictBool


def _require(ctx: RoomContext) -> Recorder:
    recorder = getattr(ctx.media, "recorder", None)
    if not isinstance(recorder, Recorder):
        raise Conflict("Audio and video are unavailable in this hearing.", code="media_unavailable")
    return recorder


async def _answer(session: AsyncSession, hearing_id: int, now: RecordingRound) -> dict[str, Any]:
    waiting = sorted(await present_ids(session, hearing_id) - now.agreed)
    if now.state == RecState.IDLE:
        waiting = []
    return {"ok": True, "state": now.state.value, "waiting": waiting, "agreed": sorted(now.agreed)}


@room_action(STATE, schema=ev.Empty, write=False)
async def state(session: AsyncSession, ctx: RoomContext, p: ev.Empty) -> dict[str, Any]:
    """Whether the room records now, who agreed, who is awaited (the page's notice)."""
    now = await get_round(session, ctx.hearing_id)
    answer = await _answer(session, ctx.hearing_id, now)
    answer["me_agreed"] = ctx.user.id in now.agreed
    return answer


@room_action(REQUEST, schema=ev.Empty, permission=MODERATORS)
async def request(session: AsyncSession, ctx: RoomContext, p: ev.Empty) -> dict[str, Any]:
    """Guard: the hearing of the parties, and no recording running. Asked while asking or
    paused: checks again who is present."""
    recorder = _require(ctx)
    hearing = await require_active(session, ctx)
    if hearing.phase != RoomPhase.HEARING:
        raise Conflict("Only the hearing of the parties may be recorded.", code="not_public_phase")
    now = await get_round(session, hearing.id)
    if now.state == RecState.RECORDING:
        raise Conflict("The hearing is being recorded already.", code="recording_running")
    if now.state == RecState.IDLE:
        await _append(session, hearing, "request", {"by": ctx.user.id}, ctx.user.id)
        now = await get_round(session, hearing.id)
    now = await _advance(session, recorder.service, hearing, now, ctx.user.id)
    return await _answer(session, hearing.id, now)


@room_action(CONSENT, schema=ConsentIn)
async def consent(session: AsyncSession, ctx: RoomContext, p: ConsentIn) -> dict[str, Any]:
    """Guard: a request is open. Agreeing may start (or resume) the recording; refusing
    ends the request, or stops the recording."""
    recorder = _require(ctx)
    hearing = await require_active(session, ctx)
    now = await get_round(session, hearing.id)
    if now.state == RecState.IDLE:
        raise Conflict("Nobody asked to record the hearing.", code="no_recording_request")
    if p.agree and ctx.user.id in now.agreed:
        return await _answer(session, hearing.id, now)
    await _append(
        session, hearing, "consent", {"user_id": ctx.user.id, "agree": p.agree}, ctx.user.id
    )
    if p.agree:
        now.agreed.add(ctx.user.id)
        now = await _advance(session, recorder.service, hearing, now, ctx.user.id)
        return await _answer(session, hearing.id, now)
    await _stop(session, recorder, hearing, now, ctx.user.id, "refused")
    return await _answer(session, hearing.id, RecordingRound())


@room_action(STOP, schema=ev.Empty, permission=MODERATORS)
async def stop(session: AsyncSession, ctx: RoomContext, p: ev.Empty) -> dict[str, Any]:
    recorder = _require(ctx)
    hearing = await require_active(session, ctx)
    now = await get_round(session, hearing.id)
    if now.state == RecState.IDLE:
        raise Conflict("The hearing is not being recorded.", code="not_recording")
    await _stop(session, recorder, hearing, now, ctx.user.id, "stopped")
    return await _answer(session, hearing.id, RecordingRound())


RECORDING_ROOM_ACTIONS: tuple[RoomAction[Any], ...] = (state, request, consent, stop)
