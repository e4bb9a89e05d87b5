"""The petition: what a filing form or the API sends, and :func:`clean_petition`, which
normalises it (digits, Persian letters, Jalali dates, rials) and reports every problem
at once. No database: the filing services store what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from hearing_server.cases.models import Case, Claim, ClaimKind, PartyRole
from hearing_server.clock import utcnow
from hearing_server.errors import ValidationErrors
from hearing_server.i18n import lazy
from hearing_server.text import (
    normalize_digits,
    normalize_mobile,
    normalize_national_id,
    normalize_persian,
    parse_rials,
    parse_typed_date,
)
from rulings.persian import to_tehran


@dataclass
class ClaimInput:
    kind: str
    amount: int | str | None = None
    period_from: date | str | None = None
    period_to: date | str | None = None
    title: str | None = None
    description: str | None = None


@dataclass
class PetitionInput:
    """What a filing form or the API sends. Text is normalised and checked here."""

    board_id: int | None = None
    claimant_name: str | None = None
    claimant_national_id: str | None = None
    claimant_mobile: str | None = None
    claimant_address: str | None = None
    employer_name: str | None = None
    workshop_name: str | None = None
    workshop_address: str | None = None
    employer_national_id: str | None = None
    employer_registration_number: str | None = None
    employer_mobile: str | None = None
    employment_start: date | str | None = None
    employment_end: date | str | None = None
    last_monthly_wage: int | str | None = None
    description: str | None = None
    claims: list[ClaimInput] = field(default_factory=list)


Errors = dict[str, tuple[str, dict[str, Any]]]

EMPLOYER_ID_MESSAGE = lazy(
    "Enter the employer's national ID (10 digits) or company ID (11 digits)."
)


def parse_date(value: date | str | None) -> date | None:
    """A date typed as Jalali (1403/05/01, any digits) or ISO Gregorian (2024-07-22)."""
    if value is None or isinstance(value, date):
        return value
    if not value.strip():
        return None
    return parse_typed_date(value)


def _text(value: str | None, limit: int) -> str | None:
    cleaned = normalize_persian(value or "")
    return cleaned[:limit] or None


@dataclass
class CleanPetition:
    board_id: int | None
    claimant_name: str | None
    claimant_national_id: str | None
    claimant_mobile: str | None
    claimant_address: str | None
    employer_name: str | None
    workshop_name: str | None
    workshop_address: str | None
    employer_national_id: str | None
    employer_registration_number: str | None
    employer_mobile: str | None
    employment_start: date | None
    employment_end: date | None
    last_monthly_wage: int | None
    description: str | None
    claims: list[Claim]


def _date_field(errors: Errors, key: str, value: date | str | None) -> date | None:
    try:
        parsed = parse_date(value)
    except ValueError:
        errors[key] = (lazy("Enter the date as year/month/day, e.g. 1403/05/01."), {})
        return None
    if parsed is not None and parsed > to_tehran(utcnow()).date() + timedelta(days=366):
        errors[key] = (lazy("This date is too far in the future."), {})
    return parsed


def _amount_field(errors: Errors, key: str, value: int | str | None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int):
        amount = value
    else:
        try:
            amount = parse_rials(value)
        except ValueError:
            errors[key] = (lazy("Enter the amount in rials, in digits only."), {})
            return None
    if amount <= 0 or amount > 10**15:
        errors[key] = (lazy("The amount must be more than zero rials."), {})
        return None
    return amount


def clean_petition(data: PetitionInput, *, complete: bool) -> CleanPetition:
    """Normalise and check the petition; every problem at once as ValidationErrors.

    With ``complete`` False (a draft) only what was typed is checked; when filing,
    everything required must be there.
    """
    errors: Errors = {}
    nid: str | None = None
    if data.claimant_national_id and data.claimant_national_id.strip():
        try:
            nid = normalize_national_id(data.claimant_national_id)
        except ValueError:
            errors["claimant_national_id"] = (
                "The national ID is not valid: it must be 10 digits with a correct check digit.",
                {},
            )
    mobile: str | None = None
    if data.claimant_mobile and data.claimant_mobile.strip():
        try:
            mobile = normalize_mobile(data.claimant_mobile)
        except ValueError:
            errors["claimant_mobile"] = ("The mobile number is not valid, e.g. 09121234567.", {})
    employer_nid: str | None = None
    if data.employer_national_id and data.employer_national_id.strip():
        digits = "".join(c for c in normalize_digits(data.employer_national_id) if c.isalnum())
        if len(digits) == 10:
            try:
                employer_nid = normalize_national_id(digits)
            except ValueError:
                errors["employer_national_id"] = (
                    EMPLOYER_ID_MESSAGE,
                    {},
                )
        elif len(digits) == 11 and digits.isascii() and digits.isdigit():
            employer_nid = digits
        else:
            errors["employer_national_id"] = (
                EMPLOYER_ID_MESSAGE,
                {},
            )
    employer_mobile: str | None = None
    if data.employer_mobile and data.employer_mobile.strip():
        try:
            employer_mobile = normalize_mobile(data.employer_mobile)
        except ValueError:
            errors["employer_mobile"] = ("The mobile number is not valid, e.g. 09121234567.", {})
    registration = _text(data.employer_registration_number, 32)
    if registration:
        registration = normalize_digits(registration)
    start = _date_field(errors, "employment_start", data.employment_start)
    end = _date_field(errors, "employment_end", data.employment_end)
    if start and end and end < start:
        errors["employment_end"] = ("The end of employment is before its start.", {})
    wage = _amount_field(errors, "last_monthly_wage", data.last_monthly_wage)
    claims: list[Claim] = []
    seen: set[ClaimKind] = set()
    for position, item in enumerate(data.claims, start=1):
        try:
            kind = ClaimKind(item.kind)
        except ValueError:
            errors["claims"] = ("Choose the claims from the list.", {})
            continue
        prefix = f"claims.{kind.value}"
        if kind in seen:
            errors[prefix] = (lazy("Each kind of claim may be listed once."), {})
            continue
        seen.add(kind)
        amount = _amount_field(errors, f"{prefix}.amount", item.amount)
        if kind == ClaimKind.REINSTATEMENT:
            amount = None
        elif complete and amount is None and f"{prefix}.amount" not in errors:
            errors[f"{prefix}.amount"] = (lazy("Enter the amount claimed, in rials."), {})
        period_from = _date_field(errors, f"{prefix}.period_from", item.period_from)
        period_to = _date_field(errors, f"{prefix}.period_to", item.period_to)
        if period_from and period_to and period_to < period_from:
            errors[f"{prefix}.period_to"] = (lazy("The end of the period is before its start."), {})
        title = _text(item.title, 200)
        if kind == ClaimKind.OTHER and complete and not title:
            errors[f"{prefix}.title"] = (lazy("Say what the other claim is."), {})
        claims.append(
            Claim(
                position=position,
                kind=kind,
                amount=amount,
                period_from=period_from,
                period_to=period_to,
                title=title,
                description=_text(item.description, 2000),
            )
        )
    clean = CleanPetition(
        board_id=data.board_id,
        claimant_name=_text(data.claimant_name, 200),
        claimant_national_id=nid,
        claimant_mobile=mobile,
        claimant_address=_text(data.claimant_address, 1000),
        employer_name=_text(data.employer_name, 200),
        workshop_name=_text(data.workshop_name, 200),
        workshop_address=_text(data.workshop_address, 1000),
        employer_national_id=employer_nid,
        employer_registration_number=registration,
        employer_mobile=employer_mobile,
        employment_start=start,
        employment_end=end,
        last_monthly_wage=wage,
        description=_text(data.description, 5000),
        claims=claims,
    )
    if complete:
        required = {
            "claimant_name": ("Enter the worker's full name.", clean.claimant_name),
            "claimant_national_id": ("Enter the worker's national ID.", nid),
            "claimant_mobile": ("Enter the worker's mobile number.", mobile),
            "employer_name": ("Enter the employer's name.", clean.employer_name),
            "workshop_address": ("Enter the workshop's address.", clean.workshop_address),
            "employment_start": ("Enter when the employment started.", start),
            "last_monthly_wage": ("Enter the last monthly wage, in rials.", wage),
        }
        for key, (message, value) in required.items():
            if value is None and key not in errors:
                errors[key] = (message, {})
        if not employer_nid and not registration and "employer_national_id" not in errors:
            errors["employer_national_id"] = (
                "Enter the employer's national ID or the workshop's registration number.",
                {},
            )
        if not claims and "claims" not in errors:
            errors["claims"] = ("Choose at least one claim.", {})
    if errors:
        raise ValidationErrors(errors)
    return clean


def input_from_case(case: Case) -> PetitionInput:
    """The petition as stored, to be checked again when it is submitted."""
    claimant = next((p for p in case.parties if p.role == PartyRole.CLAIMANT), None)
    employer = next((p for p in case.parties if p.role == PartyRole.RESPONDENT), None)
    return PetitionInput(
        board_id=case.board_id,
        claimant_name=claimant.full_name if claimant else None,
        claimant_national_id=claimant.national_id if claimant else None,
        claimant_mobile=claimant.mobile if claimant else None,
        claimant_address=claimant.address if claimant else None,
        employer_name=employer.full_name if employer else None,
        workshop_name=case.workshop_name,
        workshop_address=case.workshop_address,
        employer_national_id=employer.national_id if employer else None,
        employer_registration_number=employer.registration_number if employer else None,
        employer_mobile=employer.mobile if employer else None,
        employment_start=case.employment_start,
        employment_end=case.employment_end,
        last_monthly_wage=case.last_monthly_wage,
        description=case.description,
        claims=[
            ClaimInput(
                kind=c.kind.value,
                amount=c.amount,
                period_from=c.period_from,
                period_to=c.period_to,
                title=c.title,
                description=c.description,
            )
            for c in case.claims
        ],
    )
