"""Fixtures for the cases tests: small upload limits, extra people, petitions."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyotp
import pytest

from hearing_server.config import Settings
from tests.conftest import Person, make_settings

MAX_UPLOAD = 1024 * 1024  # 1 MB in these tests, so "too large" is cheap to send


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path, max_upload_bytes=MAX_UPLOAD, max_pdf_pages=20)


async def make_person(
    db: Any, settings: Settings, username: str, role: str, **fields: Any
) -> Person:
    """A new user with an active authenticator, able to sign in through the API."""
    from hearing_server.accounts.models import Role, TotpCredential
    from hearing_server.accounts.security import SecretBox
    from hearing_server.accounts.services import do_create_user
    from hearing_server.clock import utcnow

    password = "a-long-Password-1"
    secret = pyotp.random_base32()
    async with db.transaction() as session:
        user = await do_create_user(
            session,
            username=username,
            full_name=fields.pop("full_name", username),
            password=password,
            role=Role(role),
            **fields,
        )
        session.add(
            TotpCredential(
                user_id=user.id,
                secret_encrypted=SecretBox(settings.totp_keys).seal(secret),
                activated_at=utcnow(),
            )
        )
    return Person(user.id, username, password, role, user.full_name, secret)


def petition(**overrides: Any) -> dict[str, Any]:
    """A complete petition as the API takes it (the clerk's form: worker identity included)."""
    body: dict[str, Any] = {
        "claimant_name": "حسن یوسفی",
        "claimant_national_id": "0013001132",
        "claimant_mobile": "۰۹۱۲ ۳۴۵ ۶۷۸۹",
        "employer_name": "کارخانه آجر پارس",
        "workshop_name": "کارخانه آجر پارس",
        "workshop_address": "ورامین، جاده پیشوا",
        "employer_registration_number": "99881",
        "employment_start": "1400/01/15",
        "employment_end": "1404/08/30",
        "last_monthly_wage": "120,000,000",
        "claims": [
            {"kind": "unpaid_wages", "amount": 360000000, "period_from": "1404/06/01"},
            {"kind": "reinstatement"},
        ],
        "submit": True,
    }
    body.update(overrides)
    return body


def pdf_bytes(pages: int = 1, *, password: str | None = None) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if password:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (120, 80), *, seed: int = 1) -> bytes:
    """A photo-like PNG (noisy pixels, so cutting it short really loses image data)."""
    import random

    from PIL import Image

    noise = random.Random(seed).randbytes(size[0] * size[1] * 3)  # noqa: S311  # test pixels, not secrets
    out = io.BytesIO()
    Image.frombytes("RGB", size, noise).save(out, "PNG")
    return out.getvalue()
