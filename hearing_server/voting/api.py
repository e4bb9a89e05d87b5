"""/api/v1 for voting: motions, ballots with a fresh code, receipts, recusals, board rules."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint, jsonify
from quart_schema import document_response, validate_request, validate_response

from hearing_server.accounts.models import Role
from hearing_server.boards.models import BoardRulesVersion
from hearing_server.voting import ballots, motions, queries, rules_versions
from hearing_server.voting.models import MotionKind
from hearing_server.web.context import db_session, login_required, no_store, require_user, runtime
from hearing_server.web.inputs import DbId
from hearing_server.web.schemas import Out

blueprint = Blueprint("api_voting", __name__, url_prefix="/api/v1")


class MotionMemberOut(Out):
    member_id: int
    full_name: str | None
    group: str | None
    voted: bool
    recused: bool


class MotionOut(Out):
    id: int
    hearing_id: int
    case_id: int
    case_number: str | None
    claim_id: int | None
    kind: str
    text: str
    amount: int | None
    reasoning: str | None
    legal_basis: str | None
    rules_version_id: int | None
    state: str
    opened_at: str
    members: list[MotionMemberOut]
    voted_count: int
    eligible_count: int


class ReceiptMotionOut(Out):
    id: int
    text: str
    case_id: int
    case_number: str | None
    state: str
    outcome: str | None


class ReceiptMemberOut(Out):
    id: int
    full_name: str | None


class ReceiptOut(Out):
    receipt: str
    motion: ReceiptMotionOut
    member: ReceiptMemberOut
    cast_at: str
    choice: str
    opinion: str | None
    audit_seq: int | None
    in_chain: bool
    chain_verified: bool
    checkpoint_seq: int | None


class OpenMotionRequest(BaseModel):
    case_id: DbId
    kind: MotionKind
    text: str = Field(max_length=motions.MAX_TEXT * 2)
    claim_id: DbId | None = None
    amount: int | None = Field(default=None, ge=0, le=10**15)
    reasoning: str | None = Field(default=None, max_length=motions.MAX_TEXT * 2)
    legal_basis: str | None = Field(default=None, max_length=motions.MAX_TEXT * 2)


class CastRequest(BaseModel):
    choice: str = Field(min_length=1, max_length=16)
    otp: str = Field(min_length=1, max_length=32)
    opinion: str | None = Field(default=None, max_length=ballots.MAX_OPINION * 2)


class RecusalRequest(BaseModel):
    case_id: DbId
    reason: str = Field(max_length=motions.MAX_REASON * 2)


class PublishRulesRequest(BaseModel):
    board_type: str = Field(max_length=32)
    rules: dict[str, Any]


def rules_json(row: BoardRulesVersion) -> dict[str, Any]:
    return {
        "id": row.id,
        "board_type": row.board_type.value,
        "version": row.version,
        "rules": row.rules_json,
        "created_at": row.created_at.isoformat(),
        "created_by_id": row.created_by_id,
    }


@blueprint.get("/hearings/<int:hearing_id>/motions")
@login_required(Role.MEMBER, Role.SECRETARY)
async def list_motions(hearing_id: int) -> Any:
    session = await db_session()
    user = require_user()
    rows = await queries.list_motions(session, actor=user, hearing_id=hearing_id)
    return {"motions": [await queries.motion_view(session, m, viewer=user) for m in rows]}


@blueprint.post("/hearings/<int:hearing_id>/motions")
@login_required(Role.MEMBER, Role.SECRETARY)
@validate_request(OpenMotionRequest)
async def open_motion(hearing_id: int, data: OpenMotionRequest) -> Any:
    session = await db_session()
    user = require_user()
    motion = await motions.do_open_motion(
        session, actor=user, hearing_id=hearing_id, **data.model_dump()
    )
    return await queries.motion_view(session, motion, viewer=user), 201


@blueprint.get("/motions/<int:motion_id>")
@login_required(Role.MEMBER, Role.SECRETARY)
@validate_response(MotionOut)
async def get_motion(motion_id: int) -> Any:
    session = await db_session()
    user = require_user()
    motion = await queries.require_motion_for(session, actor=user, motion_id=motion_id)
    return await queries.motion_view(session, motion, viewer=user)


@blueprint.post("/motions/<int:motion_id>/ballots")
@login_required(Role.MEMBER)
@validate_request(CastRequest)
async def cast_ballot(motion_id: int, data: CastRequest) -> Any:
    """201 with the receipt, answered only after the ballot's transaction commits."""
    result = await ballots.do_cast_ballot(
        await db_session(),
        runtime().settings,
        actor=require_user(),
        motion_id=motion_id,
        choice=data.choice,
        code=data.otp,
        opinion=data.opinion,
    )
    return cast_json(result), 201


def cast_json(result: ballots.CastResult) -> dict[str, Any]:
    return {
        "ballot_id": result.ballot.id,
        "motion_id": result.motion.id,
        "choice": result.ballot.choice,
        "cast_at": result.ballot.cast_at.isoformat(),
        "receipt": result.ballot.receipt,
        "motion_state": result.motion.state.value,
        "closed": result.closed,
        "outcome": result.motion.outcome,
    }


@blueprint.post("/motions/<int:motion_id>/close")
@login_required(Role.MEMBER, Role.SECRETARY)
async def close_motion(motion_id: int) -> Any:
    session = await db_session()
    user = require_user()
    motion = await motions.do_close_motion(session, actor=user, motion_id=motion_id)
    return await queries.motion_view(session, motion, viewer=user)


@blueprint.post("/hearings/<int:hearing_id>/recusals")
@login_required(Role.MEMBER)
@validate_request(RecusalRequest)
async def declare_recusal(hearing_id: int, data: RecusalRequest) -> Any:
    recusal = await motions.do_declare_recusal(
        await db_session(),
        actor=require_user(),
        hearing_id=hearing_id,
        case_id=data.case_id,
        reason=data.reason,
    )
    return {
        "id": recusal.id,
        "hearing_id": recusal.hearing_id,
        "case_id": recusal.case_id,
        "member_id": recusal.member_id,
        "reason": recusal.reason,
        "at": recusal.at.isoformat(),
    }, 201


@blueprint.get("/receipts/<receipt>")
@login_required(Role.MEMBER)
@document_response(ReceiptOut)  # a Response (no-store): documented, checked by the tests
async def get_receipt(receipt: str) -> Any:
    """The ballot behind a receipt, to the member who cast it; 404 to anyone else."""
    check = await ballots.check_receipt(await db_session(), actor=require_user(), receipt=receipt)
    body = {
        "receipt": check.ballot.receipt,
        "motion": {
            "id": check.motion.id,
            "text": check.motion.text,
            "case_id": check.motion.case_id,
            "case_number": check.case_number,
            "state": check.motion.state.value,
            "outcome": check.motion.outcome,
        },
        "member": {"id": check.ballot.member_id, "full_name": check.member_name},
        "cast_at": check.ballot.cast_at.isoformat(),
        "choice": check.ballot.choice,
        "opinion": check.ballot.opinion,
        "audit_seq": check.ballot.audit_seq,
        "in_chain": check.in_chain,
        "chain_verified": check.chain_ok,
        "checkpoint_seq": check.checkpoint_seq,
    }
    return no_store(jsonify(body))


@blueprint.get("/admin/board-rules")
@login_required(Role.ADMIN)
async def list_rules() -> Any:
    rows = await rules_versions.list_rules_versions(await db_session(), actor=require_user())
    return {"versions": [rules_json(r) for r in rows]}


@blueprint.post("/admin/board-rules")
@login_required(Role.ADMIN)
@validate_request(PublishRulesRequest)
async def publish_rules(data: PublishRulesRequest) -> Any:
    row = await rules_versions.do_publish_rules(
        await db_session(), actor=require_user(), board_type=data.board_type, rules=data.rules
    )
    return rules_json(row), 201
