"""How cases are shown: the names of states, claims and document kinds, the documents
to bring for each claim, and a case's label in messages.

Data only (lazy msgids, translated where they are shown): read by the pages, the API,
the document checks and the state machine's refusals.
"""

from __future__ import annotations

from hearing_server.cases.models import Case, CaseStatus, ClaimKind
from hearing_server.i18n import LazyText, lazy

STATUS_LABELS: dict[CaseStatus, str] = {
    CaseStatus.DRAFT: lazy("draft"),
    CaseStatus.FILED: lazy("filed"),
    CaseStatus.RETURNED: lazy("returned"),
    CaseStatus.ACCEPTED: lazy("accepted"),
    CaseStatus.SCHEDULED: lazy("scheduled"),
    CaseStatus.IN_HEARING: lazy("in hearing"),
    CaseStatus.DECIDED: lazy("decided"),
    CaseStatus.RULING_ISSUED: lazy("ruling issued"),
    CaseStatus.APPEALED: lazy("appealed"),
    CaseStatus.FINAL: lazy("final"),
    CaseStatus.WITHDRAWN: lazy("withdrawn"),
}

CLAIM_LABELS: dict[ClaimKind, str] = {
    ClaimKind.UNPAID_WAGES: lazy("Unpaid wages"),
    ClaimKind.OVERTIME: lazy("Overtime"),
    ClaimKind.SEVERANCE: lazy("Severance (years-of-service pay)"),
    ClaimKind.ANNUAL_LEAVE: lazy("Annual leave pay"),
    ClaimKind.YEAR_END_BONUS: lazy("End-of-year bonus"),
    ClaimKind.REINSTATEMENT: lazy("Unjust dismissal / Reinstatement"),
    ClaimKind.INSURANCE: lazy("Social insurance contributions"),
    ClaimKind.OTHER: lazy("Other claim"),
}

# The documents to bring or upload for each kind of claim.
CHECKLIST: dict[ClaimKind, list[str]] = {
    ClaimKind.UNPAID_WAGES: [
        lazy("Payslips or bank statements of wages paid"),
        lazy("Employment contract, if there is one"),
    ],
    ClaimKind.OVERTIME: [
        lazy("Attendance records or time sheets"),
        lazy("Payslips of the period"),
    ],
    ClaimKind.SEVERANCE: [
        lazy("Employment contract, if there is one"),
        lazy("Social security insurance record"),
    ],
    ClaimKind.ANNUAL_LEAVE: [lazy("Leave records or a letter about leave taken")],
    ClaimKind.YEAR_END_BONUS: [lazy("Payslips of the year")],
    ClaimKind.REINSTATEMENT: [
        lazy("Dismissal letter or notice"),
        lazy("Employment contract, if there is one"),
    ],
    ClaimKind.INSURANCE: [lazy("Social security insurance record")],
    ClaimKind.OTHER: [lazy("Any document that supports the claim")],
}
COMMON_DOCUMENTS = [lazy("The worker's national ID card")]

DOCUMENT_KINDS: dict[str, str] = {
    "evidence": lazy("Evidence"),
    "contract": lazy("Employment contract"),
    "payslip": lazy("Payslip"),
    "insurance": lazy("Insurance record"),
    "id_card": lazy("National ID card"),
    "brief": lazy("Written brief"),
    "other": lazy("Other document"),
}


# Kinds the system files itself (never chosen on the upload form).
SYSTEM_DOCUMENT_KINDS: dict[str, str] = {
    "recording": lazy("Recording of the hearing"),
}


def document_kind_label(kind: str) -> str:
    """The msgid naming a document's kind (translate it where shown)."""
    return DOCUMENT_KINDS.get(kind) or SYSTEM_DOCUMENT_KINDS.get(kind) or "Other document"


def case_label(case: Case) -> str:
    return case.number or f"#{case.id}"


def status_text(status: CaseStatus) -> LazyText:
    return LazyText(STATUS_LABELS[status])
