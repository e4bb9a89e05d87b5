"""The development SMS sender does not put message bodies in the log at INFO (issue #13,
item 10): an SMS carries codes and case details; the outbox page shows it to the admin."""

from __future__ import annotations

import logging

import pytest

from hearing_server.notifications.sms import DevSmsProvider

BODY = "کد ورود شما ۴۸۲۹۱۷ است؛ پروندهٔ ۱۴۰۵-۰۰۰۱۲۳"


async def test_dev_sms_logs_no_body_at_info(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="hearing_server.notifications"):
        await DevSmsProvider().send_sms("09121000003", BODY)
    info = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert info, "the send is still noted"
    for record in info:
        text = record.getMessage()
        assert BODY not in text and "۴۸۲۹۱۷" not in text
        assert "09121000003" not in text  # the number is masked too
