"""Running Alembic from code (no alembic.ini): ``heyat db upgrade``, ``heyat db heads`` and
the tests. The history has one head; ``upgrade`` goes there by default."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Blocking; from inside a running loop use :func:`upgrade_async`."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    # Alembic's env.py calls asyncio.run, which cannot nest: run it in a thread.
    await asyncio.to_thread(upgrade, url, revision)


def heads() -> list[str]:
    """The revisions nothing else builds on: one, unless a merge revision is missing."""
    return list(ScriptDirectory.from_config(alembic_config("")).get_heads())
