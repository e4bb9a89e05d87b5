"""The board rules versions an admin publishes; a motion is judged by the version it
opened with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server.accounts.models import Role, User
from hearing_server.audit.services import do_record
from hearing_server.boards.models import BoardRulesVersion
from hearing_server.clock import utcnow
from hearing_server.errors import Conflict, Forbidden, Invalid
from hearing_server.law.rules import BoardRules, BoardType


async def current_rules_version(
    session: AsyncSession, board_type: BoardType | str
) -> BoardRulesVersion:
    row = await session.scalar(
        select(BoardRulesVersion)
        .where(BoardRulesVersion.board_type == BoardType(board_type))
        .order_by(BoardRulesVersion.version.desc())
        .limit(1)
    )
    if row is None:
        raise Conflict("No rules are published for this board type.")
    return row


async def list_rules_versions(session: AsyncSession, *, actor: User) -> list[BoardRulesVersion]:
    if actor.role != Role.ADMIN:
        raise Forbidden("Only an administrator can manage board rules.")
    rows = await session.scalars(
        select(BoardRulesVersion).order_by(
            BoardRulesVersion.board_type, BoardRulesVersion.version.desc()
        )
    )
    return list(rows)


async def do_publish_rules(
    session: AsyncSession, *, actor: User, board_type: str, rules: Mapping[str, Any]
) -> BoardRulesVersion:
    """A new rules version for a board type; votes opened from now on are judged by it.
    Votes already open keep the version they opened with."""
    if actor.role != Role.ADMIN:
        raise Forbidden("Only an administrator can manage board rules.")
    try:
        kind = BoardType(board_type)
    except ValueError:
        raise Invalid("Unknown board type.", field="board_type") from None
    try:
        parsed = BoardRules.from_dict(rules)
    except (ValueError, TypeError) as exc:
        raise Invalid(
            "These rules cannot be applied: {detail}", field="rules", detail=str(exc)
        ) from None
    latest = await session.scalar(
        select(func.max(BoardRulesVersion.version)).where(BoardRulesVersion.board_type == kind)
    )
    row = BoardRulesVersion(
        board_type=kind,
        version=(latest or 0) + 1,
        rules_json=parsed.to_dict(),
        created_at=utcnow(),
        created_by_id=actor.id,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "Someone published rules for this board at the same time. Reload and try again."
        ) from None
    await do_record(
        session,
        actor_id=actor.id,
        action="board_rules.published",
        subject_type="board_rules",
        subject_id=row.id,
        payload={"board_type": kind.value, "version": row.version, "rules": row.rules_json},
    )
    return row
