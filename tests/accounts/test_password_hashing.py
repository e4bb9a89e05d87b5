"""Passwords are hashed with argon2id at RFC 9106's low-memory parameters in a real server:
the suite's cheap parameters (tests/conftest.py) stay in the suite."""

from __future__ import annotations

import subprocess
import sys

from argon2 import extract_parameters, profiles

from hearing_server.accounts import security


def test_a_server_process_hashes_with_rfc_9106_low_memory_parameters() -> None:
    # A fresh interpreter, as `heyat serve` starts: nothing has asked for cheap hashing.
    made = subprocess.run(
        [
            sys.executable,
            "-c",
            "import asyncio\n"
            "from hearing_server.accounts import security\n"
            "print(asyncio.run(security.hash_password('correct horse battery')))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    params = extract_parameters(made)
    wanted = profiles.RFC_9106_LOW_MEMORY
    assert (params.type, params.time_cost, params.memory_cost, params.parallelism) == (
        wanted.type,
        wanted.time_cost,
        wanted.memory_cost,
        wanted.parallelism,
    )


async def test_a_cheap_hash_still_verifies_and_a_wrong_password_does_not() -> None:
    made = await security.hash_password("correct horse battery")
    assert extract_parameters(made).memory_cost == profiles.CHEAPEST.memory_cost
    assert await security.verify_password(made, "correct horse battery")
    assert not await security.verify_password(made, "correct horse batterx")
    assert not await security.verify_password(None, "correct horse battery")
