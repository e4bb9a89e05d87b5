"""Issue #16 items 2 and 3: every statistic against numbers worked out by hand from
tests/stats/fixture.py, small cells suppressed, and `heyat stats verify` catching an
altered audit row and an altered case date."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text, update

from hearing_server.audit.models import AuditEvent
from hearing_server.boards.models import LabourOffice
from hearing_server.cases.models import Case
from hearing_server.clock import utcnow
from hearing_server.config import Settings
from hearing_server.stats.compute import compute_all, load_facts
from hearing_server.stats.services import get_snapshot, refresh
from tests.conftest import PROJECT, server_env
from tests.stats.fixture import build

HEYAT = str(PROJECT / ".venv" / "bin" / "heyat")

BOARD_D = {
    "fa": "هیأت تشخیص آزمون — اداره کار آزمون",
    "en": "Test Diagnosis Board — Test Labour Office",
}
BOARD_S = {
    "fa": "هیأت حل اختلاف آزمون — اداره کار آزمون",
    "en": "Test Settlement Board — Test Labour Office",
}

# Worked out by hand from the fixture's docstring (None: a suppressed cell).
EXPECTED: dict[str, list[dict[str, Any]]] = {
    # A: filed 10,12,14,20,30,40,41,42,43,45 days before a first hearing in Mehr:
    # median (30+40)/2, p90 the 9th of 10. B: three cases, suppressed.
    "time_to_hearing": [
        {"month": "1404-07", "cases": 10, "median_days": 35.0, "p90_days": 43.0},
        {"month": "1404-08", "cases": None, "median_days": None, "p90_days": None},
    ],
    # A1..A6 ruled 14 days after that hearing: 24,26,28,34,44,54; A7..A10 (4) suppressed.
    "time_to_ruling": [
        {"month": "1404-07", "cases": 6, "median_days": 31.0, "p90_days": 54.0},
        {"month": "1404-08", "cases": None, "median_days": None, "p90_days": None},
    ],
    "hearings": [
        {"month": "1404-07", "held": 5, "postponed": 0, "failed_quorum": None},
        {"month": "1404-08", "held": None, "postponed": 6, "failed_quorum": 0},
    ],
    "outcomes": [
        {
            "claim_kind": "overtime",
            "accepted": 0,
            "partly_accepted": 5,
            "rejected": 0,
            "no_majority": 0,
        },
        {
            "claim_kind": "unpaid_wages",
            "accepted": 7,
            "partly_accepted": 0,
            "rejected": None,
            "no_majority": 0,
        },
    ],
    "appeals": [
        {
            "board": BOARD_D,
            "rulings": 10,
            "objected": 8,
            "objection_rate": 80.0,
            "appeals_decided": 6,
            "changed": 5,
            "change_rate": 83.3,
        }
    ],
    "attendance": [
        {"board": BOARD_D, "seats": 9, "attended": 6, "attendance_rate": 66.7},
        {"board": BOARD_S, "seats": None, "attended": None, "attendance_rate": None},
    ],
    "attendance_members": [],
}


async def _compute(db: Any) -> dict[str, dict[str, Any]]:
    async with db.transaction(write=False) as session:
        return compute_all(await load_facts(session, utcnow()))


async def test_office_statistics_match_the_hand_computed_fixture(db: Any) -> None:
    async with db.transaction() as session:
        fx = await build(session)
    scopes = await _compute(db)
    office = scopes[f"office:{fx.office_id}"]
    assert office["tables"] == EXPECTED
    assert office["office"] == {"fa": "اداره کار آزمون", "en": "Test Labour Office"}
    # The whole installation includes the office (the demo's own rows are in 1405).
    overall = scopes["all"]["tables"]
    assert EXPECTED["time_to_hearing"][0] in overall["time_to_hearing"]
    assert EXPECTED["appeals"][0] in overall["appeals"]


async def test_members_are_named_only_when_the_office_allows_and_small_cells_stay_hidden(
    db: Any,
) -> None:
    async with db.transaction() as session:
        fx = await build(session)
    assert (await _compute(db))[f"office:{fx.office_id}"]["tables"]["attendance_members"] == []
    async with db.transaction() as session:
        await session.execute(
            update(LabourOffice)
            .where(LabourOffice.id == fx.office_id)
            .values(stats_name_members=True)
        )
    members = (await _compute(db))[f"office:{fx.office_id}"]["tables"]["attendance_members"]
    assert len(members) == 6
    assert {m["board"]["en"] for m in members} == {BOARD_D["en"], BOARD_S["en"]}
    assert all(m["member"] for m in members)
    # Each member sat on three hearings at most: every number is a small cell.
    assert all(
        m["seats"] is None and m["attended"] is None and m["attendance_rate"] is None
        for m in members
    )


async def test_the_snapshot_states_the_audit_head_it_was_computed_at(db: Any) -> None:
    async with db.transaction() as session:
        fx = await build(session)
    await refresh(db)
    async with db.transaction(write=False) as session:
        snap = await get_snapshot(session, f"office:{fx.office_id}")
        head = (
            await session.execute(
                select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
            )
        ).one()
    assert snap is not None
    assert (snap.checkpoint_seq, snap.checkpoint_hash) == (head.seq, head.hash)
    assert snap.data["tables"] == EXPECTED


def _verify(settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HEYAT, "stats", "verify"],
        env=server_env(settings, 5000),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def test_stats_verify_exits_1_after_an_audit_row_or_a_case_date_is_altered(
    db: Any, settings: Settings
) -> None:
    async with db.transaction() as session:
        fx = await build(session)
    await refresh(db)
    intact = _verify(settings)
    assert intact.returncode == 0, intact.stderr
    assert "verified" in intact.stdout

    async with db.transaction() as session:
        original = await session.scalar(select(AuditEvent.action).where(AuditEvent.seq == 3))
        await session.execute(text("UPDATE audit_events SET action = 'tampered' WHERE seq = 3"))
    broken = _verify(settings)
    assert broken.returncode == 1
    assert "audit chain broken at seq 3" in broken.stderr

    async with db.transaction() as session:
        await session.execute(
            text("UPDATE audit_events SET action = :a WHERE seq = 3"), {"a": original}
        )
    assert _verify(settings).returncode == 0  # restored: intact again

    async with db.transaction() as session:
        a1 = await session.get(Case, fx.cases["A1"])
        assert a1 is not None and a1.filed_at is not None
        a1.filed_at = a1.filed_at - timedelta(days=100)
    altered = _verify(settings)
    assert altered.returncode == 1
    scope = f"office:{fx.office_id}"
    assert f"{scope} time_to_hearing [1404-07] p90_days: published 43.0, recomputed" in (
        altered.stderr
    )


async def test_naming_members_is_an_office_setting_set_by_the_cli_and_audited(
    db: Any, settings: Settings
) -> None:
    async with db.transaction() as session:
        fx = await build(session)
    env = server_env(settings, 5000)
    on = subprocess.run(
        [HEYAT, "stats", "name-members", str(fx.office_id), "--on"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert on.returncode == 0, on.stderr
    async with db.transaction(write=False) as session:
        office = await session.get(LabourOffice, fx.office_id)
        assert office is not None and office.stats_name_members
        event = await session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
        assert event is not None and event.action == "office.stats_name_members"
    missing = subprocess.run(
        [HEYAT, "stats", "name-members", "999999"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert missing.returncode == 1 and "No such labour office." in missing.stderr
    assert "Traceback" not in missing.stderr


async def test_old_refreshes_are_pruned(db: Any, monkeypatch: Any) -> None:
    from hearing_server import clock
    from hearing_server.stats import services
    from hearing_server.stats.models import StatsSnapshot

    monkeypatch.setattr(services, "KEEP_REFRESHES", 2)
    made = []
    for _ in range(3):
        made.append(await refresh(db))
        clock.advance(timedelta(minutes=5))
    async with db.transaction(write=False) as session:
        times = set(await session.scalars(select(StatsSnapshot.computed_at)))
    assert times == {made[1].computed_at, made[2].computed_at}
