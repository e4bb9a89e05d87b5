"""The `heyat` command, run as a newcomer would run it."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import (
    PG_ADMIN_URL,
    PROJECT,
    _pg_exec,
    _pg_reachable,
    _pg_url,
    require_or_skip,
)

HEYAT = str(PROJECT / ".venv" / "bin" / "heyat")


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HEYAT, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    require_or_skip(_pg_reachable(), "PostgreSQL is not reachable", env="HEYAT_REQUIRE_POSTGRES")
    name = f"heyat_cli_{uuid.uuid4().hex[:10]}"
    await _pg_exec(PG_ADMIN_URL, f"CREATE DATABASE {name}")
    yield _pg_url(PG_ADMIN_URL, name)
    await _pg_exec(PG_ADMIN_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def test_demo_is_idempotent_and_prints_people_with_secrets(
    empty_db: str, tmp_path: Path
) -> None:
    import os

    env = {**os.environ, "HEYAT_DATABASE_URL": empty_db, "HEYAT_VAR_DIR": str(tmp_path / "var")}
    upgrade = run(env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    first = run(env, "demo", "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    second = json.loads(run(env, "demo", "--json").stdout)
    assert summary["users"] == second["users"]  # nothing duplicated, same secrets
    roles = {u["role"] for u in summary["users"]}
    assert roles == {"admin", "secretary", "clerk", "party", "member"}
    # Twelve members in each of the two labour offices (Tehran, Isfahan).
    assert sum(1 for u in summary["users"] if u["role"] == "member") == 24
    assert all(len(u["totp_secret"]) == 32 for u in summary["users"])
    code = subprocess.run(
        ["oathtool", "--totp", "-b", summary["users"][0]["totp_secret"]],
        capture_output=True,
        text=True,
    )
    assert code.returncode == 0 and len(code.stdout.strip()) == 6
    verify = run(env, "audit", "verify")
    assert verify.returncode == 0 and "intact" in verify.stdout


async def test_user_create_rejects_a_bad_national_id_in_persian(tmp_path: Path) -> None:
    import os

    env = {
        **os.environ,
        "HEYAT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'u.db'}",
        "HEYAT_VAR_DIR": str(tmp_path / "var"),
    }
    assert run(env, "db", "upgrade").returncode == 0
    bad = subprocess.run(
        [
            HEYAT,
            "user",
            "create",
            "--username",
            "kargar",
            "--full-name",
            "کارگر",
            "--role",
            "party",
            "--national-id",
            "1234567890",
            "--password",
            "long-enough-pass-1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert "کد ملی معتبر نیست" in bad.stderr
    assert "Traceback" not in bad.stderr


async def test_demo_refuses_a_database_with_real_users_unless_forced(
    empty_db: str, tmp_path: Path
) -> None:
    """`heyat demo` adds published passwords and secrets: never silently into a database
    that holds people of its own (issue #13, item 10)."""
    import os

    env = {**os.environ, "HEYAT_DATABASE_URL": empty_db, "HEYAT_VAR_DIR": str(tmp_path / "var")}
    assert run(env, "db", "upgrade").returncode == 0
    made = run(
        env,
        "user",
        "create",
        "--username",
        "real.secretary",
        "--full-name",
        "منشی واقعی",
        "--role",
        "secretary",
        "--password",
        "a-real-Passw0rd-1405",
    )
    assert made.returncode == 0, made.stderr
    refused = run(env, "demo", "--json")
    assert refused.returncode == 2, refused.stdout
    assert "real.secretary" in refused.stderr and "--force" in refused.stderr
    assert refused.stdout == ""
    forced = run(env, "demo", "--json", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "secretary" in {u["username"] for u in json.loads(forced.stdout)["users"]}
    again = run(env, "demo", "--json")  # still refused: the real user is still there
    assert again.returncode == 2


def test_pki_init_keeps_the_ca_key_only_encrypted(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "HEYAT_VAR_DIR": str(tmp_path / "var")}
    env.pop("HEYAT_CA_PASSPHRASE", None)
    bare = run({**env, "HEYAT_PKI_DIR": str(tmp_path / "bare")}, "pki", "init")
    assert bare.returncode == 0, bare.stderr
    assert (tmp_path / "bare" / "board.p12").is_file()
    assert not (tmp_path / "bare" / "ca.key.pem").exists()
    kept = run(
        {**env, "HEYAT_PKI_DIR": str(tmp_path / "kept"), "HEYAT_CA_PASSPHRASE": "ca-secret"},
        "pki",
        "init",
    )
    assert kept.returncode == 0, kept.stderr
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "kept" / "ca.key.pem").read_bytes()
