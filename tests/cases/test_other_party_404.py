"""Another party's case is 404 on every URL, like a missing case (issue #13, item 9).

The staff-only case URLs used to refuse by role before reading the case (403 for any
id); the rule now lives in ``access_case(staff_only=...)``: 404 for whoever may not read
the case, 403 with the reason for a party of it.
"""

from __future__ import annotations

from typing import Any

import pytest

from hearing_server.cases.models import CaseStatus
from tests.conftest import OtpSource, Person, api_login
from tests.factories import make_case

STAFF_URLS = [
    ("GET", "/api/v1/cases/{case}/history"),
    ("POST", "/api/v1/cases/{case}/accept"),
    ("POST", "/api/v1/cases/{case}/return"),
    ("POST", "/api/v1/cases/{case}/rulings"),
    ("POST", "/cases/{case}/accept"),
    ("POST", "/cases/{case}/return"),
    ("POST", "/cases/{case}/ruling/draft"),
]


@pytest.fixture
async def worker_only_case(db: Any) -> int:
    async with db.transaction() as session:
        case = await make_case(session, status=CaseStatus.FILED, respondent=None)
        return int(case.id)


async def _status(client: Any, csrf: str, method: str, url: str) -> int:
    kwargs: dict[str, Any] = {"headers": {"X-CSRF-Token": csrf}}
    if url.endswith("/return") and url.startswith("/api/"):
        kwargs["json"] = {"reason": "مدارک ناقص است"}
    response = await client.open(url, method=method, **kwargs)
    return int(response.status_code)


async def test_another_party_gets_404_where_a_party_of_the_case_gets_403(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, worker_only_case: int
) -> None:
    stranger = quart_app.test_client()
    stranger_csrf = await api_login(stranger, people["employer"], otp)
    party = quart_app.test_client()
    party_csrf = await api_login(party, people["worker"], otp)
    for method, template in STAFF_URLS:
        url = template.format(case=worker_only_case)
        missing = template.format(case=worker_only_case + 10_000)
        assert await _status(stranger, stranger_csrf, method, url) == 404, url
        assert await _status(stranger, stranger_csrf, method, missing) == 404, missing
        assert await _status(party, party_csrf, method, url) == 403, url
