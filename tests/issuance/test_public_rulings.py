"""Issue #16, item 1: anonymised public copies of final rulings.

A corpus of rulings issued through the issuance services, whose parties are named with
zero-width non-joiners and Arabic ي/ك, whose reasons and minority opinions repeat those
names in other spellings with the national IDs in Persian and Arabic-Indic digits,
mobiles, addresses, the workshop's address, an IBAN and a card number. Every public PDF
is read back with poppler's pdftotext and must contain none of them in any spelling;
each copy is signed (pyHanko's validator) as a derivative of its original.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from hearing_server import clock
from hearing_server.accounts.models import User
from hearing_server.boards.models import Board, LabourOffice, Province
from hearing_server.cases.models import Case, CaseParty, ClaimKind
from hearing_server.config import Settings
from hearing_server.errors import Conflict
from hearing_server.issuance import finality
from hearing_server.issuance.files import load_blob
from hearing_server.issuance.models import Approval, PublicRuling, Ruling, RulingState
from hearing_server.issuance.publication import compose_public, jalali_key, publish_pending
from hearing_server.issuance.rulings import do_draft_ruling, do_issue_ruling
from hearing_server.law.rules import BoardType
from hearing_server.text import make_national_id, normalize_digits, normalize_persian
from hearing_server.voting.models import MotionKind
from rulings.compose import PartyRole
from rulings.persian import fa_digits
from rulings.pki import PkiPaths
from rulings.redact import CaseIdentity, PartyIdentity, scrubber_for
from rulings.verify import extract_derived_from
from tests.conftest import Person, eventually
from tests.issuance.conftest import MotionPlan, make_decided_case, pdf_text, pyhanko_status

ZWNJ = "\u200c"
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def fold(text: str) -> str:
    """Text as the checks compare it, folded here (not by the code under test): Persian
    ی/ک, ASCII digits, lower case, no spaces and no zero-width (non-)joiners."""
    plain = normalize_persian(normalize_digits(text)).lower()
    return "".join(ch for ch in plain if not ch.isspace() and ch not in "\u200c\u200d")


def arabic(text: str) -> str:
    """The spelling of an Arabic keyboard: ي for ی, ك for ک."""
    return text.replace("ی", "ي").replace("ک", "ك")


@dataclass
class Spec:
    """One ruling of the corpus: the parties as stored, and what the reasons repeat."""

    worker: str
    employer: str
    worker_typed: str  # the worker's name as the reasons spell it
    employer_typed: str
    seed: int
    employer_company: bool = False
    representative: str | None = None
    kinds: list[tuple[ClaimKind, int | None]] = field(
        default_factory=lambda: [(ClaimKind.UNPAID_WAGES, 450_000_000)]
    )
    outcome_kinds: list[MotionKind] = field(default_factory=lambda: [MotionKind.ACCEPT])

    @property
    def worker_id(self) -> str:
        return make_national_id(f"{self.seed:03d}123456")

    @property
    def employer_id(self) -> str:
        if self.employer_company:
            return f"1010{self.seed:03d}4567"  # an 11-digit company ID
        return make_national_id(f"{self.seed:03d}654321")

    @property
    def worker_mobile(self) -> str:
        return f"0912{self.seed:03d}4567"

    @property
    def employer_mobile(self) -> str:
        return f"0935{self.seed:03d}7788"

    @property
    def worker_street(self) -> str:
        return f"خیابان آزادی، کوچه نسترن {fa_digits(self.seed)}"

    @property
    def worker_address(self) -> str:
        return f"تهران، {self.worker_street}، پلاک ۱۲"

    @property
    def workshop_street(self) -> str:
        return f"شهرک صنعتی سیمین‌دشت، خیابان {fa_digits(self.seed)} شرقی"

    @property
    def workshop_address(self) -> str:
        return f"کرج، {self.workshop_street}"

    @property
    def iban(self) -> str:
        return f"IR06 0170 0000 0012 3456 78{self.seed:02d} 01"

    @property
    def card(self) -> str:
        return f"6037-9975-{self.seed:04d}-5678"

    def reasons(self) -> str:
        street = arabic(self.worker_street).replace(ZWNJ, " ")  # spelt differently
        workshop = self.workshop_street.replace(ZWNJ, "")
        return (
            f"خواهان، {self.worker_typed} با کد ملی {fa_digits(self.worker_id)} و شماره همراه "
            f"{fa_digits(self.worker_mobile[:4])}-{fa_digits(self.worker_mobile[4:])}، ساکن "
            f"{street}، در کارگاه واقع در "
            f"{workshop} کار می‌کرد و مزد به حساب "
            f"{fa_digits(self.iban)} و کارت {self.card} واریز می‌شد. "
            f"{self.employer_typed} فیش‌های حقوقی ماه‌های آخر را ارائه نکرد؛ ماده ۱۴۸ قانون کار."
        )

    def opinion(self) -> str:
        return (
            f"به نظر اینجانب {self.employer_typed} (شماره ملی "
            f"{self.employer_id.translate(ARABIC_INDIC)}، تلفن +98 {self.employer_mobile[1:]}) "
            f"مزد {self.worker_typed} را پرداخته است."
        )

    def secrets(self) -> list[str]:
        """Every identifying string, folded (spelling, digits, gaps) as the check compares."""
        found = [
            self.worker,
            self.worker.split()[-1],
            self.worker_id,
            self.worker_mobile[1:],
            self.employer_mobile[1:],
            self.worker_street,
            self.workshop_street,
            self.iban,
            self.card,
            self.employer_id,
        ]
        if not self.employer_company:
            found += [self.employer, self.employer.split()[-1]]
        if self.representative:
            found.append(self.representative)
        return [fold(s) for s in found]


CORPUS = [
    Spec("محمدرضا نیک‌نام", "اکرم دل‌آرا", "محمد رضا نيكنام", "اکرم دل آرا", 101),
    Spec(
        "علی‌اکبر توکلی‌فر",
        "شرکت فولاد کاوه جنوب",
        "علي اكبر توكليفر",
        "شركت فولاد كاوه جنوب",
        102,
        employer_company=True,
        representative="بهروز ساعدی‌پور",
        kinds=[(ClaimKind.SEVERANCE, 300_000_000), (ClaimKind.OVERTIME, 100_000_000)],
        outcome_kinds=[MotionKind.ACCEPT, MotionKind.REJECT],
    ),
    Spec(
        "فرشته میرزایی",
        "کیومرث اسفندیاری",
        "فرشته ميرزايي",
        "کیومرث\u200cاسفندیاری",
        103,
        outcome_kinds=[MotionKind.REJECT],
    ),
    Spec(
        "حسین‌علی بابایی‌نژاد",
        "مهسا پورمختار",
        "حسینعلی بابایی نژاد",
        "مهسا پور مختار",
        104,
        kinds=[(ClaimKind.ANNUAL_LEAVE, 50_000_000)],
    ),
    Spec("غلامرضا شکوهی", "یاسمن کاکاوند", "غلامرضا شكوهي", "ياسمن كاكاوند", 105),
    Spec(
        "نگین سپهری‌راد",
        "شرکت کشت و صنعت مهرگان",
        "نگين سپهري راد",
        "شركت كشت و صنعت مهرگان",
        106,
        employer_company=True,
        kinds=[(ClaimKind.YEAR_END_BONUS, 80_000_000)],
    ),
    Spec(
        "کامران یکتاپرست",
        "سیمین ملک‌زاده",
        "كامران يكتاپرست",
        "سيمين ملكزاده",
        107,
        representative="داریوش فرهمندی",
        outcome_kinds=[MotionKind.REJECT],
    ),
]


async def issue_for(
    db: Any,
    settings: Settings,
    people: dict[str, Person],
    spec: Spec,
    *,
    board_type: BoardType = BoardType.SETTLEMENT,
) -> int:
    """A decided case whose parties are ``spec``'s, its ruling drafted, signed by every
    member who voted and issued (final on issue for a settlement board). Its id."""
    decided = await make_decided_case(
        db,
        board_type=board_type,
        claims=spec.kinds,
        plans=[
            MotionPlan(
                kind,
                "passed",
                reasoning=spec.reasons(),
                against=("employer",),
                opinion=spec.opinion(),
            )
            for kind in spec.outcome_kinds
        ],
    )
    async with db.transaction() as session:
        case = await session.get(Case, decided.case_id)
        assert case is not None
        case.workshop_name = f"کارگاه {spec.employer}"
        case.workshop_address = spec.workshop_address
        parties = list(
            await session.scalars(
                select(CaseParty).where(CaseParty.case_id == case.id).order_by(CaseParty.id)
            )
        )
        worker, employer = parties
        worker.full_name, worker.national_id = spec.worker, spec.worker_id
        worker.mobile, worker.address = spec.worker_mobile, spec.worker_address
        employer.full_name, employer.national_id = spec.employer, spec.employer_id
        employer.mobile, employer.address = spec.employer_mobile, "اصفهان، میدان نقش جهان"
        employer.representative_name = spec.representative
    async with db.transaction() as session:
        secretary = await session.get(User, people["secretary"].id)
        assert secretary is not None
        ruling = await do_draft_ruling(session, settings, actor=secretary, case_id=decided.case_id)
        for member_id in decided.voters:
            session.add(Approval(ruling_id=ruling.id, member_id=member_id, approved=True))
        ruling_id = ruling.id
    async with db.transaction() as session:
        secretary = await session.get(User, people["secretary"].id)
        assert secretary is not None
        await do_issue_ruling(session, settings, actor=secretary, ruling_id=ruling_id)
    return ruling_id


async def public_of(db: Any, ruling_id: int) -> PublicRuling | None:
    async with db.transaction(write=False) as session:
        row: PublicRuling | None = await session.scalar(
            select(PublicRuling).where(PublicRuling.ruling_id == ruling_id)
        )
        return row


def folded_text(pdf: bytes) -> str:
    return fold(pdf_text(pdf))


# --------------------------------------------------------------------------- pure


def test_scrubber_removes_every_spelling_and_keeps_the_rest() -> None:
    identity = CaseIdentity(
        parties=(
            PartyIdentity(
                PartyRole.CLAIMANT,
                "محمدرضا نیک‌نام",
                national_id="0012345679",
                mobile="09121234567",
                address="تهران، خیابان آزادی، کوچه نسترن، پلاک ۴",
            ),
            PartyIdentity(
                PartyRole.RESPONDENT,
                "شرکت کاوه صنعت",
                legal_entity=True,
                national_id="10101234567",
                representative="بهروز ساعدی‌پور",
            ),
        ),
        workshop_name="کارگاه کاوه",
        workshop_address="کرج، بلوار جمهوری، پلاک ۹",
    )
    text = (
        "آقای محمد رضا نيكنام (نیک‌نام) با كد ملی ۰۰۱۲۳۴۵۶۷۹ و تلفن ۰۹۱۲ ۱۲۳ ۴۵۶۷ ساکن "
        "خیابان آزادي، کوچه نسترن؛ شبا IR۰۶۰۱۷۰۰۰۰۰۰۰۱۲۳۴۵۶۷۸۹۰۰۱ و کارت ۶۰۳۷-۹۹۷۵-۱۲۳۴-۵۶۷۸؛ "
        "بهروز ساعدي پور وکیل شركت كاوه صنعت در بلوار جمهوری، پلاک ۹. "
        "مبلغ ۴۵۰٬۰۰۰٬۰۰۰ ریال طبق مواد ۳۵ و ۳۷ قانون کار در ۱۴۰۵/۰۹/۱۱."
    )
    hidden = scrubber_for(identity)(text)
    for secret in (
        "محمدرضانیکنام",
        "نیکنام",
        "0012345679",
        "9121234567",
        "خیابانآزادی",
        "06017",
        "603799751234",
        "بهروزساعدیپور",
        "کاوهصنعت",
        "بلوارجمهوری",
    ):
        assert secret not in fold(hidden), (secret, hidden)
    assert "کارگر" in hidden and "نماینده‌ی کارفرما" in hidden and "کارفرما" in hidden
    # What does not identify anyone stays: amounts, articles, dates, ordinary words.
    for kept in ("۴۵۰٬۰۰۰٬۰۰۰ ریال", "مواد ۳۵ و ۳۷ قانون کار", "۱۴۰۵/۰۹/۱۱", "وکیل"):
        assert kept in hidden
    # A short name is a word, not a piece of other words: «علی» stays in «فعلی».
    short = CaseIdentity(parties=(PartyIdentity(PartyRole.CLAIMANT, "علی"),))
    assert scrubber_for(short)("وضعیت فعلی را علی گفت.") == "وضعیت فعلی را کارگر گفت."
    # A legal entity's name stays when the office publishes such names; people never do.
    shown = scrubber_for(identity, publish_entity_names=True)(text)
    assert "كاوه صنعت" in shown and "نیکنام" not in fold(shown)


@pytest.mark.parametrize("locale", ["fa", "en"])
def test_the_public_template_says_it_is_an_anonymised_copy_of_the_original(locale: str) -> None:
    from rulings.redact import redact_ruling
    from rulings.render import render_html
    from tests.rulings.rulings_testkit import EMPLOYER, WORKER, make_ruling

    content = make_ruling("fa" if locale == "fa" else "en")
    identity = CaseIdentity(
        parties=(
            PartyIdentity(PartyRole.CLAIMANT, WORKER),
            PartyIdentity(PartyRole.RESPONDENT, EMPLOYER, representative="مریم احمدی (وکیل)"),
        )
    )
    public = redact_ruling(
        content,
        identity,
        publish_entity_names=False,
        public_code="ABCD-EFGH-JKLM",
        public_url="https://heyat.example/verify/ABCD-EFGH-JKLM",
    )
    html = render_html(public)
    assert WORKER not in html and EMPLOYER not in html
    assert html.count(content.verification_code) >= 3  # notice, header, footer
    assert 'name="HeyatDerivativeOf" content="' + content.verification_code in html
    assert "ABCD-EFGH-JKLM" in html
    assert ("نسخه‌ی بی‌نام" if locale == "fa" else "anonymised copy") in html


# --------------------------------------------------------------------------- corpus


async def test_public_copies_of_a_corpus_hide_the_parties_and_verify_as_derivatives(
    quart_app: Any, db: Any, settings: Settings, people: dict[str, Person], pki: PkiPaths
) -> None:
    rulings: dict[int, Spec] = {}
    for spec in CORPUS:
        clock.advance(timedelta(days=1))  # one ruling a day: the date filter has a range
        rulings[await issue_for(db, settings, people, spec)] = spec
    # Issued but not final: a diagnosis ruling waits for notification and objection.
    pending = Spec("پرویز ناصری‌مقدم", "رعنا فرزین", "پرويز ناصري مقدم", "رعنا فرزين", 109)
    not_final = await issue_for(db, settings, people, pending, board_type=BoardType.DIAGNOSIS)

    assert await publish_pending(db, settings) == len(CORPUS)
    assert await publish_pending(db, settings) == 0  # idempotent
    assert await public_of(db, not_final) is None

    ca = pki.ca_cert.read_bytes()
    client = quart_app.test_client()  # nobody signs in
    for ruling_id, spec in rulings.items():
        row = await public_of(db, ruling_id)
        assert row is not None
        async with db.transaction(write=False) as session:
            ruling = await session.get(Ruling, ruling_id)
            assert ruling is not None and ruling.pdf_sha256 is not None
            original = await load_blob(settings.files_dir, ruling.pdf_sha256)
        pdf = await load_blob(settings.files_dir, row.pdf_sha256)

        # The check itself finds the parties in the original ruling's text …
        original_text = folded_text(original)
        assert fold(spec.worker) in original_text and fold(spec.employer) in original_text
        # … and none of their identifying strings, in any spelling, in the public copy.
        public_text = pdf_text(pdf)
        for secret in spec.secrets():
            assert secret not in fold(public_text), (spec.worker, secret)
        assert "کارگر" in public_text and "کارفرما" in public_text
        assert "فیش‌های حقوقی" in public_text.replace(" ", "") or "فیشهایحقوقی" in fold(public_text)
        if spec.employer_company:  # the office does not publish legal entities by default
            assert fold(spec.employer) not in fold(public_text)

        # Signed with the board's key, intact and trusted, as a copy of the original.
        status = await pyhanko_status(pdf, ca)
        assert status.intact and status.valid and status.trusted
        assert ruling.verification_code in public_text
        assert row.code in public_text and row.code != ruling.verification_code
        assert extract_derived_from(pdf) == ruling.verification_code
        answer = await client.post(
            "/api/v1/verify", data=pdf, headers={"Content-Type": "application/pdf"}
        )
        verdict = await answer.get_json()
        assert answer.status_code == 200, verdict
        assert verdict["authentic"] is True and verdict["kind"] == "public_ruling"
        assert verdict["derived_from"] == ruling.verification_code

        # The pages, without signing in.
        page = await client.get(f"/public/rulings/{row.code}")
        html = await page.get_data(as_text=True)
        assert page.status_code == 200
        assert f"/public/rulings/{row.code}/pdf" in html and f"/verify/{row.code}" in html
        assert fold(spec.worker) not in fold(html)
        download = await client.get(f"/public/rulings/{row.code}/pdf")
        assert download.status_code == 200 and await download.get_data() == pdf
        assert (await client.get(f"/verify/{row.code}")).status_code == 200

    # A ruling that was never final is not public, by any code.
    async with db.transaction(write=False) as session:
        pending_ruling = await session.get(Ruling, not_final)
        assert pending_ruling is not None and pending_ruling.state == RulingState.ISSUED
        with pytest.raises(Conflict):
            await compose_public(session, settings, pending_ruling)
    assert (
        await client.get(f"/public/rulings/{pending_ruling.verification_code}")
    ).status_code == 404
    assert (
        await client.get(f"/api/v1/public/rulings/{pending_ruling.verification_code}")
    ).status_code == 404

    await _search(client, db, rulings)

    # Once final it is published; if a corrected ruling replaces it, its copy goes too.
    async with db.transaction() as session:
        await session.execute(
            update(Ruling).where(Ruling.id == not_final).values(state=RulingState.FINAL)
        )
    assert await publish_pending(db, settings) == 1
    late = await public_of(db, not_final)
    assert late is not None
    assert (await client.get(f"/public/rulings/{late.code}")).status_code == 200
    async with db.transaction() as session:
        await session.execute(
            update(Ruling).where(Ruling.id == not_final).values(state=RulingState.SUPERSEDED)
        )
    assert (await client.get(f"/public/rulings/{late.code}")).status_code == 404
    assert late.code not in await _codes(client, per_page=50)
    verdict = await (await client.get(f"/api/v1/verify/{late.code}")).get_json()
    assert verdict["authentic"] is False and verdict["kind"] == "public_ruling"


async def _codes(client: Any, **params: Any) -> list[str]:
    answer = await client.get("/api/v1/public/rulings", query_string=params)
    body = await answer.get_json()
    assert answer.status_code == 200, body
    return [r["code"] for r in body["rulings"]]


async def _search(client: Any, db: Any, rulings: dict[int, Spec]) -> None:
    async def codes(**params: Any) -> list[str]:
        return await _codes(client, **params)

    rows: dict[int, PublicRuling] = {}
    for ruling_id in rulings:
        row = await public_of(db, ruling_id)
        assert row is not None
        rows[ruling_id] = row
    every = {r.code for r in rows.values()}
    assert set(await codes(per_page=50)) == every

    # Persian text however typed: Arabic ي/ك, no zero-width non-joiner, other digits.
    for q in ("فيشهاي حقوقي", "فیش‌های حقوقی", "ماده 148", "ماده ١٤٨", "ماه هاي آخر"):
        assert set(await codes(q=q, per_page=50)) == every, q
    # The parties' names were never indexed.
    for spec in rulings.values():
        assert await codes(q=spec.worker) == []
        assert await codes(q=spec.worker_id) == []
    assert await codes(q="کلمه‌ای که در هیچ رأیی نیست") == []

    # Filters: claim type, outcome, board, office, the Jalali date range.
    wanted = {
        r.code
        for i, r in rows.items()
        if any(k == ClaimKind.SEVERANCE for k, _a in rulings[i].kinds)
    }
    assert set(await codes(claim_kind="severance")) == wanted and len(wanted) == 1
    rejected = {r.code for i, r in rows.items() if rulings[i].outcome_kinds == [MotionKind.REJECT]}
    assert set(await codes(outcome="rejected")) == rejected and len(rejected) == 2
    partly = {r.code for i, r in rows.items() if len(rulings[i].outcome_kinds) == 2}
    assert set(await codes(outcome="partly_accepted")) == partly
    any_row = next(iter(rows.values()))
    assert set(await codes(board_id=any_row.board_id, per_page=50)) == every
    assert await codes(board_id=any_row.board_id + 1000) == []
    assert set(await codes(office_id=any_row.office_id, per_page=50)) == every
    # By province: the office's own finds them all, a province without it none.
    async with db.transaction(write=False) as session:
        office = await session.get(LabourOffice, any_row.office_id)
        assert office is not None
        other = await session.scalar(
            select(Province.id).where(Province.id != office.province_id).limit(1)
        )
    assert set(await codes(province_id=office.province_id, per_page=50)) == every
    assert other is not None and await codes(province_id=other) == []
    days = sorted({r.ruled_on for r in rows.values()})
    assert len(days) == len(rows)
    middle = days[2:5]
    in_range = await codes(
        date_from=jalali_key(middle[0]), date_to=fa_digits(jalali_key(middle[-1]))
    )
    assert set(in_range) == {r.code for r in rows.values() if r.ruled_on in middle}

    # Pages of three, newest first, each ruling once.
    seen: list[str] = []
    page = 1
    while True:
        answer = await client.get(
            "/api/v1/public/rulings", query_string={"per_page": 3, "page": page}
        )
        body = await answer.get_json()
        seen += [r["code"] for r in body["rulings"]]
        assert len(body["rulings"]) <= 3
        if not body["has_next"]:
            break
        page += 1
    assert page == 3 and len(seen) == len(set(seen)) == len(rows)
    newest = max(rows.values(), key=lambda r: r.ruled_on)
    assert seen[0] == newest.code

    # The page's search, in both languages, and bad filters: a message, never a 500.
    html = await (await client.get("/public/rulings", query_string={"q": "فيشهاي"})).get_data(
        as_text=True
    )
    assert all(code in html for code in every)
    bad = await client.get("/api/v1/public/rulings", query_string={"date_from": "1405/13/40"})
    assert bad.status_code == 422
    bad = await client.get("/api/v1/public/rulings", query_string={"outcome": "maybe"})
    assert bad.status_code == 422
    page_bad = await client.get("/public/rulings", query_string={"date_to": "فردا"})
    assert page_bad.status_code == 422
    assert "۱۴۰۳/۰۵/۰۱" in await page_bad.get_data(as_text=True)


async def test_an_office_may_publish_legal_entities_names(
    db: Any, settings: Settings, people: dict[str, Person], pki: PkiPaths
) -> None:
    spec = CORPUS[1]  # the employer is a company
    async with db.transaction() as session:
        office_id = await session.scalar(
            select(Board.office_id).where(Board.type == BoardType.SETTLEMENT)
        )
        await session.execute(
            update(LabourOffice)
            .where(LabourOffice.id == office_id)
            .values(publish_entity_names=True)
        )
    ruling_id = await issue_for(db, settings, people, spec)
    assert await publish_pending(db, settings) == 1
    row = await public_of(db, ruling_id)
    assert row is not None
    text = fold(pdf_text(await load_blob(settings.files_dir, row.pdf_sha256)))
    assert fold(spec.employer) in text  # the company, by name
    for secret in spec.secrets():  # the people, still not
        assert secret not in text, secret


async def test_the_finality_loop_publishes_a_final_ruling_after_its_sweep(
    db: Any, settings: Settings, people: dict[str, Person], pki: PkiPaths
) -> None:
    ruling_id = await issue_for(db, settings, people, CORPUS[0])  # final on issue
    assert await public_of(db, ruling_id) is None  # issuing does not render a second PDF
    task = asyncio.create_task(finality.run_forever(db, interval=3600, settings=settings))
    try:
        row = await eventually(lambda: public_of(db, ruling_id))
    finally:
        await finality.stop(task)
    assert row.code and row.outcome == "accepted"
