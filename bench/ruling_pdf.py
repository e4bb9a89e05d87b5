"""Benchmark: compose + render + sign a ruling, beside a bare WeasyPrint render of the same HTML.

Runs in one process on the synchronous path so both sides pay the same costs
(fonts, CSS, layout). The baseline is ``weasyprint.HTML(string=html,
base_url=...).write_pdf()`` with WeasyPrint's default fetcher, on the HTML our
templates produce. Last line: ``ruling_pdf: p50_ms=… p95_ms=… p99_ms=…
baseline_p95_ms=… ratio=…`` with ratio = our p50 / baseline p50.

    .venv/bin/python bench/ruling_pdf.py [iterations]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import weasyprint

from rulings.compose import (
    Board,
    BoardType,
    Claim,
    Decision,
    Member,
    MemberVote,
    MinorityOpinion,
    Party,
    PartyRole,
    RulingContent,
    SeatGroup,
    Vote,
    compose_ruling,
)
from rulings.pki import init_pki
from rulings.render import base_url, render_html, render_pdf
from rulings.sign import SignerConfig, sign_pdf_sync

WARMUP = 3
DEFAULT_ITERATIONS = 30


def compose_sample() -> RulingContent:
    issued = datetime(2026, 11, 28, 8, 30, tzinfo=UTC)
    claims = [
        Claim(
            "1",
            "unpaid_wages",
            "مطالبات مزد معوق",
            12_500_000,
            Decision.ACCEPTED,
            None,
            "فیش‌های حقوقی پرداخت نشدن مزد سه ماه را نشان می‌دهد.",
            "مواد ۳۵ و ۳۷ قانون کار",
        ),
        Claim(
            "2",
            "severance",
            "حق سنوات",
            30_000_000,
            Decision.PARTLY_ACCEPTED,
            20_000_000,
            "سابقه‌ی کار دو سال ثابت شد.",
            "ماده ۲۴ قانون کار",
        ),
        Claim(
            "3",
            "overtime",
            "اضافه‌کاری",
            5_000_000,
            Decision.REJECTED,
            None,
            "دلیلی بر انجام اضافه‌کاری ارائه نشد.",
            "ماده ۵۹ قانون کار",
        ),
        Claim(
            "4",
            "annual_leave",
            "مرخصی استحقاقی",
            4_200_000,
            Decision.ACCEPTED,
            None,
            "مرخصی استفاده‌نشده ثابت است.",
            "ماده ۶۴ قانون کار",
        ),
    ]
    votes = {
        "حسن کریمی": (SeatGroup.GOVERNMENT, True, Vote.ACCEPT),
        "رضا موسوی": (SeatGroup.WORKER, False, Vote.ACCEPT),
        "نرگس تهرانی": (SeatGroup.EMPLOYER, False, Vote.REJECT),
    }
    members = [
        Member(
            name,
            group,
            chair,
            tuple(MemberVote(c.key, vote) for c in claims),
            issued + timedelta(minutes=20),
        )
        for name, (group, chair, vote) in votes.items()
    ]
    return compose_ruling(
        board=Board(
            "هیأت تشخیص شماره ۲ تهران",
            BoardType.DIAGNOSIS,
            "اداره تعاون، کار و رفاه اجتماعی شمال تهران",
        ),
        ruling_number="1405-R-000045",
        issued_at=issued,
        case_number="1405-000123",
        parties=[
            Party("علی رضایی", PartyRole.CLAIMANT),
            Party("شرکت صنایع نمونه", PartyRole.RESPONDENT, "مریم احمدی (وکیل)"),
        ],
        claims=claims,
        members=members,
        minority_opinions=[MinorityOpinion("نرگس تهرانی", "به نظر اینجانب مزد پرداخت شده است.")],
        objection_days=15,
        audit_chain_head="9f" * 32,
        verification_code="K7QF-2MZP-9XTA",
        verification_url="https://heyat.example/verify/K7QF-2MZP-9XTA",
        locale="fa",
    )


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_ITERATIONS
    with tempfile.TemporaryDirectory(prefix="heyat-bench-") as tmp:
        pki = init_pki(Path(tmp) / "pki", "bench")
        signer = SignerConfig(pki.board_p12, b"bench")
        html = render_html(compose_sample())
        url = base_url()

        def ours() -> bytes:
            return sign_pdf_sync(render_pdf(compose_sample()), signer)

        def baseline() -> bytes:
            pdf = weasyprint.HTML(string=html, base_url=url).write_pdf()
            assert isinstance(pdf, bytes)
            return pdf

        for _ in range(WARMUP):
            ours()
            baseline()

        ours_ms: list[float] = []
        base_ms: list[float] = []
        for i in range(iterations):
            # Alternate the order so drift (thermal, other load) hits both sides alike.
            if i % 2:
                base_ms.append(timed(baseline))
                ours_ms.append(timed(ours))
            else:
                ours_ms.append(timed(ours))
                base_ms.append(timed(baseline))

    p50, base_p50 = statistics.median(ours_ms), statistics.median(base_ms)
    print(f"iterations={iterations} warmup={WARMUP}")
    print(f"ours     p50={p50:.1f} ms  min={min(ours_ms):.1f} max={max(ours_ms):.1f}")
    print(f"baseline p50={base_p50:.1f} ms  min={min(base_ms):.1f} max={max(base_ms):.1f}")
    print(
        f"ruling_pdf: p50_ms={p50:.1f} p95_ms={percentile(ours_ms, 95):.1f} "
        f"p99_ms={percentile(ours_ms, 99):.1f} baseline_p95_ms={percentile(base_ms, 95):.1f} "
        f"ratio={p50 / base_p50:.2f}"
    )


if __name__ == "__main__":
    main()
