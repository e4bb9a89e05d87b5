"""Lockouts that cannot be turned against people: failures are counted per (account,
client) with growing delays, an address is refused only when it tries many accounts, an
account is locked only by a distributed attack and its owner's known device still gets
in, and every 429/423 says when to come back (Retry-After)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hearing_server import clock
from hearing_server.cases.filing import do_file
from hearing_server.cases.petition import PetitionInput
from hearing_server.config import Settings
from tests.cases.conftest import petition
from tests.cases.test_cases_filing import _input
from tests.conftest import OtpSource, Person
from tests.factories import user_named

STRANGER = "203.0.113.66"
OWNER = "198.51.100.7"
OFFICE = "192.0.2.10"


def at(address: str) -> dict[str, Any]:
    """The ASGI scope of a request from ``address`` (no proxy in between)."""
    return {"client": (address, 40000)}


async def sign_in(client: Any, username: str, password: str, otp_code: str, address: str) -> Any:
    return await client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password, "otp": otp_code},
        scope_base=at(address),
    )


def retry_after(response: Any) -> int:
    """The Retry-After of a refusal, in seconds (a whole number, at least 1)."""
    assert response.status_code in (423, 429), response.status_code
    value = response.headers.get("Retry-After")
    assert value is not None and value.isdigit() and int(value) >= 1, value
    return int(value)


async def test_a_stranger_with_100_wrong_passwords_does_not_lock_the_owner_out(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, settings: Settings
) -> None:
    worker = people["worker"]
    stranger = quart_app.test_client()
    checked = 0
    waits: list[int] = []
    for _ in range(100):
        bad = await sign_in(stranger, "worker", "wrong-pass", "123456", STRANGER)
        if bad.status_code == 401:
            checked += 1
        else:
            waits.append(retry_after(bad))
            assert (await bad.get_json())["error"]["message"]
    # The stranger's guesses slow down at once: a few checked, the rest refused.
    assert checked <= settings.login_attempts_per_client
    assert len(waits) == 100 - checked
    owner = quart_app.test_client()
    ok = await sign_in(owner, "worker", worker.password, otp.code(worker.totp_secret), OWNER)
    assert ok.status_code == 200, await ok.get_json()
    # The delays grow, and end: after waiting, the stranger may try once more.
    clock.advance(timedelta(seconds=waits[-1]))
    again = await sign_in(stranger, "worker", "wrong-pass", "123456", STRANGER)
    assert again.status_code == 401
    longer = await sign_in(stranger, "worker", "wrong-pass", "123456", STRANGER)
    assert retry_after(longer) > waits[-1] or retry_after(longer) >= 15 * 60


async def test_one_persons_typos_do_not_lock_the_others_at_that_address(
    quart_app: Any, people: dict[str, Person], otp: OtpSource
) -> None:
    """A counter office behind one address: one clerk fails 40 times (typing the
    username wrong in several ways, and the password); a colleague signs in."""
    clerk = quart_app.test_client()
    typed = ["clerk", "clerk1", "clekr", "clerk.", "klerk"]
    for i in range(40):
        bad = await sign_in(clerk, typed[i % len(typed)], "wrong-pass", "123456", OFFICE)
        assert bad.status_code in (401, 429)
        if bad.status_code == 429:
            retry_after(bad)
    colleague = quart_app.test_client()
    secretary = people["secretary"]
    ok = await sign_in(
        colleague, "secretary", secretary.password, otp.code(secretary.totp_secret), OFFICE
    )
    assert ok.status_code == 200, await ok.get_json()


async def test_an_address_trying_many_accounts_is_refused_there_only(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, settings: Settings
) -> None:
    sprayer = quart_app.test_client()
    for i in range(settings.login_accounts_per_address):
        bad = await sign_in(sprayer, f"user{i}", "Summer2026!", "123456", STRANGER)
        assert bad.status_code == 401
    refused = await sign_in(sprayer, "worker", "Summer2026!", "123456", STRANGER)
    assert refused.status_code == 429
    retry_after(refused)
    worker = people["worker"]
    elsewhere = quart_app.test_client()
    ok = await sign_in(elsewhere, "worker", worker.password, otp.code(worker.totp_secret), OWNER)
    assert ok.status_code == 200


async def test_a_distributed_attack_locks_the_account_but_not_for_its_owners_device(
    quart_app: Any, people: dict[str, Person], otp: OtpSource, settings: Settings
) -> None:
    worker = people["worker"]
    owner = quart_app.test_client()  # keeps its cookies: the device it signed in on
    first = await sign_in(owner, "worker", worker.password, otp.code(worker.totp_secret), OWNER)
    assert first.status_code == 200
    for i in range(settings.login_attempts_per_account):
        bad = await sign_in(
            quart_app.test_client(), "worker", "wrong-pass", "123456", f"10.9.{i // 200}.{i % 200}"
        )
        assert bad.status_code == 401
    newcomer = quart_app.test_client()
    locked = await sign_in(
        newcomer, "worker", worker.password, otp.code(worker.totp_secret), "192.0.2.77"
    )
    assert locked.status_code == 423
    body = await locked.get_json()
    assert body["error"]["code"] == "account_locked"
    wait = retry_after(locked)
    # The owner, on the device that signed in before, from anywhere, still gets in.
    ok = await sign_in(owner, "worker", worker.password, otp.code(worker.totp_secret), "192.0.2.78")
    assert ok.status_code == 200, await ok.get_json()
    clock.advance(timedelta(seconds=wait))
    later = await sign_in(
        newcomer, "worker", worker.password, otp.code(worker.totp_secret), "192.0.2.77"
    )
    assert later.status_code == 200


async def test_wrong_guesses_on_a_tracking_code_do_not_lock_its_owner(
    quart_app: Any, db: Any
) -> None:
    async with db.transaction() as session:
        clerk = await user_named(session, "clerk")
        case = await do_file(session, actor=clerk, data=PetitionInput(**_input(petition(), 1)))
    code = case.tracking_code
    stranger, owner = quart_app.test_client(), quart_app.test_client()
    for _ in range(6):
        miss = await stranger.post(
            "/api/v1/track",
            json={"tracking_code": code, "national_id": "0012345679"},
            scope_base=at(STRANGER),
        )
        assert miss.status_code in (404, 429)
    refused = await stranger.post(
        "/api/v1/track",
        json={"tracking_code": code, "national_id": "0013001132"},
        scope_base=at(STRANGER),
    )
    assert refused.status_code == 429
    retry_after(refused)
    shown = await owner.post(
        "/api/v1/track",
        json={"tracking_code": code, "national_id": "0013001132"},
        scope_base=at(OWNER),
    )
    assert shown.status_code == 200, await shown.get_json()


async def test_a_locked_authenticator_says_when_to_come_back(
    quart_app: Any, people: dict[str, Person]
) -> None:
    member = people["member.gov1"]
    client = quart_app.test_client()
    statuses = []
    for _ in range(6):
        response = await sign_in(client, member.username, member.password, "000000", OWNER)
        statuses.append(response.status_code)
    assert statuses[-1] == 423
    assert retry_after(response) <= 5 * 60


def test_forwarded_addresses_are_believed_only_from_configured_proxies() -> None:
    from hearing_server.web.context import client_address, trusted_networks

    none = trusted_networks(())
    proxies = trusted_networks(("10.0.0.1", "172.16.0.0/12"))
    # No proxy configured: the header is the client's own claim, and ignored.
    assert client_address("203.0.113.5", "1.2.3.4", none) == "203.0.113.5"
    # From a configured proxy: the last address the proxies did not add.
    assert client_address("10.0.0.1", "198.51.100.7", proxies) == "198.51.100.7"
    assert client_address("10.0.0.1", "6.6.6.6, 198.51.100.7, 172.16.3.4", proxies) == (
        "198.51.100.7"
    )
    # Not from a proxy: ignored, whatever it says.
    assert client_address("203.0.113.5", "198.51.100.7", proxies) == "203.0.113.5"
    # Garbage in the header stops the walk at the last proxy.
    assert client_address("10.0.0.1", "not-an-ip", proxies) == "10.0.0.1"
    assert client_address("10.0.0.1", None, proxies) == "10.0.0.1"


def test_a_bad_trusted_proxy_setting_names_its_variable() -> None:
    import pytest

    with pytest.raises(ValueError, match="HEYAT_TRUSTED_PROXIES"):
        Settings.from_env({"HEYAT_TRUSTED_PROXIES": "10.0.0.1, proxy.local"})
    parsed = Settings.from_env({"HEYAT_TRUSTED_PROXIES": "10.0.0.1, 172.16.0.0/12"})
    assert parsed.trusted_proxies == ("10.0.0.1", "172.16.0.0/12")
    assert Settings.from_env({}).trusted_proxies == ()
