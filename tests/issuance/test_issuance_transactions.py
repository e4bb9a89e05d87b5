"""No slow work inside a write transaction (#15 item 5): a ruling (and the minutes) is
composed in one short transaction, rendered and signed with none open, then re-checked
and recorded in a second. While the PDF is being made, other requests write; whatever
changed meanwhile is refused with 409 and leaves nothing behind.

The issue is held at its "rendering" step through the progress it reports (the hook every
process's issue page reads), so these tests wait on events, never on time."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hearing_server.accounts.models import User
from hearing_server.audit.models import AuditEvent
from hearing_server.audit.services import do_record, verify_chain
from hearing_server.cases.models import StoredFile
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.errors import Conflict
from hearing_server.issuance.compose import member_ids
from hearing_server.issuance.minutes import issue_minutes
from hearing_server.issuance.models import Approval, Minutes, MissingSignature, Ruling, RulingState
from hearing_server.issuance.progress import IssueProgress
from hearing_server.issuance.queries import lock_ruling
from hearing_server.issuance.rulings import do_draft_ruling, issue_ruling
from hearing_server.scheduling.models import PanelSeat
from hearing_server.shared import shared_state
from hearing_server.voting.models import MotionKind
from rulings.pki import PkiPaths
from tests.conftest import EVENTUALLY_SECONDS
from tests.issuance.conftest import MotionPlan, make_decided_case


class HeldAtRendering(IssueProgress):
    """The app's progress, held when the issue reaches "rendering" until released."""

    def __init__(self, shared: Any) -> None:
        super().__init__(shared)
        self.rendering = asyncio.Event()
        self.release = asyncio.Event()

    async def report(self, ruling_id: int, step: str, error: str | None = None) -> None:
        await super().report(ruling_id, step, error)
        if step == "rendering":
            self.rendering.set()
            await self.release.wait()


async def _secretary(db: Any) -> User:
    async with db.transaction(write=False) as session:
        found = await session.scalar(select(User).where(User.username == "secretary"))
    assert found is not None
    return found


async def _approved_draft(
    db: Any, settings: Settings, case_id: int, *, skip: int | None = None
) -> int:
    """A drafted ruling every voter approved (but ``skip``, whose gap the secretary records)."""
    secretary = await _secretary(db)
    async with db.transaction() as session:
        ruling = await do_draft_ruling(session, settings, actor=secretary, case_id=case_id)
        for member_id in member_ids(ruling):
            if member_id == skip:
                session.add(
                    MissingSignature(
                        ruling_id=ruling.id,
                        member_id=member_id,
                        reason="در سفر است.",
                        recorded_by_id=secretary.id,
                        at=utcnow(),
                    )
                )
            else:
                session.add(Approval(ruling_id=ruling.id, member_id=member_id, at=utcnow()))
        await session.flush()
        return ruling.id


def _files_on_disk(files_dir: Path) -> set[str]:
    return {p.name for p in files_dir.rglob("*") if p.is_file() and not p.name.startswith(".")}


async def _stored_rows(db: Any) -> set[str]:
    async with db.transaction(write=False) as session:
        return set(await session.scalars(select(StoredFile.sha256)))


async def test_other_requests_write_while_a_ruling_is_rendered_and_signed(
    db: Any, settings: Settings, pki: PkiPaths
) -> None:
    """While the issue renders, another request locks the same ruling and writes (the
    audit chain, on SQLite the database's one write lock): it commits before the issue
    ends. With the render inside the issue's transaction it waited for the whole render
    (SQLite's lock, PostgreSQL's row lock on the ruling)."""
    decided = await make_decided_case(db)
    ruling_id = await _approved_draft(db, settings, decided.case_id)
    secretary = await _secretary(db)
    shared = shared_state(db, None, "heyat-test")
    progress = HeldAtRendering(shared)
    try:
        issuing = asyncio.create_task(
            issue_ruling(db, settings, actor=secretary, ruling_id=ruling_id, progress=progress)
        )
        await asyncio.wait_for(progress.rendering.wait(), EVENTUALLY_SECONDS)

        async def another_request() -> None:
            async with db.transaction() as session:
                await lock_ruling(session, ruling_id)
                await do_record(
                    session,
                    actor_id=secretary.id,
                    action="ruling.viewed",
                    subject_type="ruling",
                    subject_id=ruling_id,
                )

        await asyncio.wait_for(another_request(), EVENTUALLY_SECONDS)
        assert not issuing.done()  # the write committed while the issue was still rendering
        progress.release.set()
        issued = await asyncio.wait_for(issuing, EVENTUALLY_SECONDS)
        assert issued.state == RulingState.ISSUED
        async with db.transaction(write=False) as session:
            assert (await verify_chain(session)).ok
        assert await IssueProgress(shared).get(ruling_id) == ("issued", None)
    finally:
        progress.release.set()
        await shared.close()


async def test_a_ruling_issued_by_another_request_meanwhile_is_refused_and_only_one_exists(
    db: Any, settings: Settings, pki: PkiPaths
) -> None:
    decided = await make_decided_case(db)
    ruling_id = await _approved_draft(db, settings, decided.case_id)
    secretary = await _secretary(db)
    shared = shared_state(db, None, "heyat-test")
    first = HeldAtRendering(shared)
    try:
        held = asyncio.create_task(
            issue_ruling(db, settings, actor=secretary, ruling_id=ruling_id, progress=first)
        )
        await asyncio.wait_for(first.rendering.wait(), EVENTUALLY_SECONDS)
        # Another request issues the same ruling while the first one renders.
        other = await asyncio.wait_for(
            issue_ruling(db, settings, actor=secretary, ruling_id=ruling_id), EVENTUALLY_SECONDS
        )
        assert other.state == RulingState.ISSUED
        first.release.set()
        with pytest.raises(Conflict) as refused:
            await asyncio.wait_for(held, EVENTUALLY_SECONDS)
        assert refused.value.status == 409
        assert refused.value.message == "Cannot issue ruling {number}, because it is {state}."
        assert await IssueProgress(shared).get(ruling_id) == (
            "failed",
            "Cannot issue ruling {number}, because it is {state}.",
        )
        async with db.transaction(write=False) as session:
            rows = list(
                await session.scalars(select(Ruling).where(Ruling.case_id == decided.case_id))
            )
            issued_events = await session.scalar(
                select(func.count()).where(
                    AuditEvent.action == "ruling.issued",
                    AuditEvent.subject_type == "ruling",
                    AuditEvent.subject_id == str(ruling_id),
                )
            )
        assert [(r.id, r.state) for r in rows] == [(ruling_id, RulingState.ISSUED)]
        assert rows[0].pdf_sha256 == other.pdf_sha256
        assert issued_events == 1
        # The refused issue's signed PDF was written before its transaction and removed
        # again: every file in the store is one a row names.
        assert _files_on_disk(settings.files_dir) <= await _stored_rows(db)
    finally:
        first.release.set()
        await shared.close()


async def test_a_signature_given_while_the_ruling_is_signed_refuses_the_issue(
    db: Any, settings: Settings, pki: PkiPaths
) -> None:
    """The dissenter's gap was recorded; while the ruling renders, the dissenter signs
    after all. The PDF being made does not carry that signature: 409, the ruling stays a
    draft, no file is left, and issuing again prints the signature."""
    decided = await make_decided_case(
        db, plans=[MotionPlan(MotionKind.ACCEPT, "passed", against=("employer",))] * 2
    )
    async with db.transaction(write=False) as session:
        dissenter = await session.scalar(
            select(PanelSeat.member_id).where(
                PanelSeat.hearing_id == decided.hearing_id, PanelSeat.group == "employer"
            )
        )
    assert dissenter is not None
    ruling_id = await _approved_draft(db, settings, decided.case_id, skip=dissenter)
    secretary = await _secretary(db)
    shared = shared_state(db, None, "heyat-test")
    progress = HeldAtRendering(shared)
    files_before = _files_on_disk(settings.files_dir)
    try:
        held = asyncio.create_task(
            issue_ruling(db, settings, actor=secretary, ruling_id=ruling_id, progress=progress)
        )
        await asyncio.wait_for(progress.rendering.wait(), EVENTUALLY_SECONDS)
        async with db.transaction() as session:
            session.add(Approval(ruling_id=ruling_id, member_id=dissenter, at=utcnow()))
        progress.release.set()
        with pytest.raises(Conflict) as refused:
            await asyncio.wait_for(held, EVENTUALLY_SECONDS)
        assert refused.value.status == 409
        assert refused.value.message.startswith("Ruling {number} changed while it was being signed")
        async with db.transaction(write=False) as session:
            ruling = await session.get_one(Ruling, ruling_id)
            assert ruling.state == RulingState.DRAFT
            assert ruling.pdf_sha256 is None
        assert _files_on_disk(settings.files_dir) == files_before
        again = await asyncio.wait_for(
            issue_ruling(db, settings, actor=secretary, ruling_id=ruling_id), EVENTUALLY_SECONDS
        )
        members = again.content["members"]
        assert all(m["signature_missing"] is None and m["approved_at"] for m in members), members
    finally:
        progress.release.set()
        await shared.close()


async def test_minutes_signed_twice_at_once_are_signed_once(
    db: Any, settings: Settings, pki: PkiPaths
) -> None:
    """Two requests sign a session's minutes at the same moment: both render and sign with
    no transaction open; one records, the other is refused (409); one row, and only its
    file in the store."""
    decided = await make_decided_case(db)
    secretary = await _secretary(db)
    results = await asyncio.wait_for(
        asyncio.gather(
            issue_minutes(db, settings, actor=secretary, hearing_id=decided.hearing_id),
            issue_minutes(db, settings, actor=secretary, hearing_id=decided.hearing_id),
            return_exceptions=True,
        ),
        EVENTUALLY_SECONDS,
    )
    made = [r for r in results if isinstance(r, Minutes)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(made) == 1 and len(refused) == 1, results
    assert refused[0].status == 409
    async with db.transaction(write=False) as session:
        rows = list(await session.scalars(select(Minutes)))
    assert [m.hearing_id for m in rows if m.hearing_id == decided.hearing_id] == [
        decided.hearing_id
    ]
    assert _files_on_disk(settings.files_dir) <= await _stored_rows(db)
