"""The scheduling form and the hearing page's actions, through real form posts."""

from __future__ import annotations

import re
from typing import Any

from hearing_server.law.rules import BoardType
from tests.conftest import OtpSource, Person, api_login
from tests.scheduling.conftest import board_id, new_case, panel_of


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def test_secretary_schedules_through_the_form_and_a_member_answers_on_the_page(
    quart_app: Any, db: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    secretary = quart_app.test_client()
    await api_login(secretary, people["secretary"], otp)
    case_id = await new_case(db)
    board = await board_id(db, BoardType.DIAGNOSIS)
    form_page = await secretary.get(f"/boards/{board}/hearings/new")
    html = await form_page.get_data(as_text=True)
    assert form_page.status_code == 200 and f'value="{case_id}"' in html
    panel = await panel_of(db, BoardType.DIAGNOSIS)
    fields = {
        "csrf_token": _csrf(html),
        "date": "۱۴۰۴/۱۲/۲۴",
        "time": "۰۹:۰۰",
        "duration": "60",
        "case": str(case_id),
        f"order_{case_id}": "1",
    }
    short = dict(fields) | {f"seat_{p['seat_id']}": str(p["member_id"]) for p in panel[:2]}
    refused = await secretary.post(f"/boards/{board}/hearings/new", form=short)
    text = await refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "هیأت نمی‌تواند به حد نصاب برسد" in text
    full = dict(fields) | {f"seat_{p['seat_id']}": str(p["member_id"]) for p in panel}
    done = await secretary.post(f"/boards/{board}/hearings/new", form=full)
    assert done.status_code == 302, await done.get_data(as_text=True)
    hearing_url = done.headers["Location"].split("?")[0]

    member = quart_app.test_client()
    await api_login(member, people["member.emp1"], otp)
    page = await member.get(hearing_url)
    html = await page.get_data(as_text=True)
    assert "آیا حاضر می‌شوید؟" in html
    answered = await member.post(
        f"{hearing_url}/answer", form={"attending": "yes", "csrf_token": _csrf(html)}
    )
    assert answered.status_code == 302
    after = await (await secretary.get(hearing_url)).get_data(as_text=True)
    assert "کارفرمایان: ۱ از ۱ نفر حضور را تأیید کرده‌اند" in after
    # A change without a reason is refused with a message, not a 500.
    change = await secretary.post(
        f"{hearing_url}/change",
        form={"action": "cancel", "reason": "", "csrf_token": _csrf(after)},
    )
    assert change.status_code == 422 and "دلیل را بنویسید." in await change.get_data(as_text=True)
    # Parties cannot open the scheduling form.
    worker = quart_app.test_client()
    await api_login(worker, people["worker"], otp)
    assert (await worker.get(f"/boards/{board}/hearings/new")).status_code == 403
