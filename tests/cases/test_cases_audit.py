"""`heyat audit verify` holds for an untouched chain and names the row that was changed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from hearing_server.audit.models import AuditEvent
from hearing_server.cases.filing import do_file, do_return
from hearing_server.cases.petition import ClaimInput, PetitionInput
from hearing_server.config import Settings
from tests.cases.conftest import petition
from tests.conftest import PROJECT, server_env
from tests.factories import user_named


async def _verify(settings: Settings) -> tuple[int, str]:
    heyat = Path(sys.executable).parent / "heyat"
    process = await asyncio.create_subprocess_exec(
        str(heyat),
        "audit",
        "verify",
        env=server_env(settings, 5999),
        cwd=PROJECT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return int(process.returncode or 0), (out + err).decode()


async def test_changing_one_audit_row_breaks_the_chain_at_that_row(
    db: Any, settings: Settings
) -> None:
    async with db.transaction() as session:
        clerk = await user_named(session, "clerk")
        secretary = await user_named(session, "secretary")
        body = {k: v for k, v in petition().items() if k != "submit"}
        body["claims"] = [ClaimInput(**c) for c in body["claims"]]
        case = await do_file(session, actor=clerk, data=PetitionInput(**body))
        await do_return(session, actor=secretary, case_id=case.id, reason="ناقص است")
    code, output = await _verify(settings)
    assert code == 0, output
    assert "intact" in output
    async with db.transaction() as session:
        target = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "case.returned", AuditEvent.subject_id == str(case.id)
            )
        )
        assert target is not None
        await session.execute(
            update(AuditEvent)
            .where(AuditEvent.id == target.id)
            .values(payload={**target.payload, "reason": "پذیرفته شد"})
        )
    code, output = await _verify(settings)
    assert code == 1, output
    assert f"seq {target.seq} (row id {target.id})" in output
