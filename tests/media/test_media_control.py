"""Issue #17 items 1 and 2, the control path without a browser, against a real Janus:
one private VideoRoom per hearing, created when the hearing opens and destroyed when it
closes; Janus admits only the tokens Heyat hands to people the room admits, for their
hearing, while they are good; the move to deliberation cuts the parties (kicked, their
tokens out of ``allowed``) and calling them back restores it; TURN credentials expire."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from hearing_server.media.janus import JanusClient
from hearing_server.media.service import MediaService, room_id
from tests.conftest import Person, free_port
from tests.media.conftest import JanusPeer, MediaServers
from tests.rooms.conftest import Room, RoomClient, Signed

NOT_ALLOWED = 433  # JANUS_VIDEOROOM_ERROR_UNAUTHORIZED


def of(type_: str, op: str | None = None, **payload: Any) -> Callable[[dict[str, Any]], bool]:
    def match(event: dict[str, Any]) -> bool:
        return (
            event["type"] == type_
            and (op is None or event["op"] == op)
            and all(event["payload"].get(k) == v for k, v in payload.items())
        )

    return match


async def admitted_worker(
    join: Callable[..., Any], people: dict[str, Person]
) -> tuple[RoomClient, RoomClient]:
    secretary = await join("secretary")
    worker = await join("worker")
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]
    assert (await secretary.call("admit", {"user_id": people["worker"].id}))["ok"]
    await worker.wait_for(of("admitted", user_id=people["worker"].id))
    return secretary, worker


async def publish(peers: Callable[[str], JanusPeer], grant: dict[str, Any]) -> dict[str, Any]:
    peer = peers(grant["janus_url"])
    opened = await peer.open(grant["core_token"])
    assert opened.get("janus") == "success", opened
    return await peer.join(grant["room"], grant["room_token"], grant["feed_id"])


async def test_the_room_is_made_when_the_hearing_opens_and_destroyed_when_it_closes(
    join: Callable[..., Any], room: Room, control: JanusClient
) -> None:
    name = room_id(room.hearing_id)
    secretary = await join("secretary")
    assert not await control.exists(name)
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]
    assert await control.exists(name)
    # Private: not listed to anyone who asks Janus for its rooms.
    listed = await control.request({"request": "list"})
    assert name not in [r["room"] for r in listed.get("list", [])]
    assert (await secretary.call("phase.set", {"phase": "closed"}))["ok"]
    assert not await control.exists(name)


async def test_only_admitted_people_get_credentials_and_janus_takes_only_theirs(
    join: Callable[..., Any],
    room: Room,
    people: dict[str, Person],
    peers: Callable[[str], JanusPeer],
    control: JanusClient,
    media_service: MediaService,
) -> None:
    secretary = await join("secretary")
    worker = await join("worker")
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]
    waiting = await worker.call("media.join", {})
    assert waiting["error"]["code"] == "not_admitted"
    # A token the server could sign for the worker is no use while not admitted: it is not
    # in the room's allowed list.
    unlisted = media_service.credentials(room.hearing_id, people["worker"].id, time.time())
    refused = await publish(peers, unlisted)
    assert refused["error_code"] == NOT_ALLOWED

    assert (await secretary.call("admit", {"user_id": people["worker"].id}))["ok"]
    await worker.wait_for(of("admitted", user_id=people["worker"].id))
    grant = await worker.call("media.join", {})
    assert grant["available"] is True
    assert grant["room"] == room_id(room.hearing_id)
    assert "secret" not in str(grant).lower()  # the API secret never reaches a browser
    assert "test-api-secret" not in str(grant)
    joined = await publish(peers, grant)
    assert joined["videoroom"] == "joined", joined
    assert grant["feed_id"] in [p["id"] for p in await control.participants(grant["room"])]


async def test_tokens_are_refused_for_another_hearing_and_after_expiry(
    join: Callable[..., Any],
    room: Room,
    people: dict[str, Person],
    peers: Callable[[str], JanusPeer],
    control: JanusClient,
    media_servers: MediaServers,
    media_service: MediaService,
) -> None:
    _secretary, worker = await admitted_worker(join, people)
    grant = await worker.call("media.join", {})
    assert grant["available"] is True
    # Another hearing's room, with this very token in its allowed list even: the
    # signature names the worker's hearing's room only.
    other = room_id(room.hearing_id + 1000)
    await control.ensure_room(other, description="other", allowed=[grant["room_token"]])
    try:
        elsewhere = await publish(peers, {**grant, "room": other})
        assert elsewhere["error_code"] == NOT_ALLOWED
    finally:
        await control.destroy_room(other)
    # An expired room token, though in the allowed list.
    past = int(time.time()) - 5
    stale = media_service.room_token(room.hearing_id, people["worker"].id, past)
    await control.allowed(grant["room"], "add", [stale])
    late = await publish(peers, {**grant, "room_token": stale})
    assert late["error_code"] == NOT_ALLOWED
    # An expired core token opens no session at all.
    from hearing_server.media.tokens import core_token

    peer = peers(grant["janus_url"])
    opened = await peer.open(core_token(media_servers.settings.media_token_secret, past))
    assert opened.get("janus") == "error", opened
    # The good one still works (the refusals above were for the reasons tested).
    good = await publish(peers, grant)
    assert good.get("videoroom") == "joined", good


async def test_deliberation_kicks_the_parties_refuses_their_rejoin_and_call_back_restores(
    join: Callable[..., Any],
    room: Room,
    people: dict[str, Person],
    peers: Callable[[str], JanusPeer],
    control: JanusClient,
) -> None:
    secretary, worker = await admitted_worker(join, people)
    member = await join("member.wrk1")
    party_grant = await worker.call("media.join", {})
    board_grant = await member.call("media.join", {})
    assert (await publish(peers, party_grant))["videoroom"] == "joined"
    assert (await publish(peers, board_grant))["videoroom"] == "joined"
    name = party_grant["room"]
    ids = {p["id"] for p in await control.participants(name)}
    assert {party_grant["feed_id"], board_grant["feed_id"]} <= ids

    assert (await secretary.call("phase.set", {"phase": "deliberation"}))["ok"]
    # Kicked in the same step as the socket removal: by the time the ack is back.
    ids = {p["id"] for p in await control.participants(name)}
    assert party_grant["feed_id"] not in ids
    assert board_grant["feed_id"] in ids
    assert party_grant["room_token"] not in await control.allowed(name, "add", [])
    again = await publish(peers, party_grant)
    assert again["error_code"] == NOT_ALLOWED

    # Called back: the party may connect, is admitted, and gets media again.
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]
    back = await join("worker")
    restored = await back.call("media.join", {})
    assert restored["available"] is True
    assert (await publish(peers, restored))["videoroom"] == "joined"


async def test_the_chair_removes_a_person_from_the_media_until_restored(
    join: Callable[..., Any],
    room: Room,
    people: dict[str, Person],
    peers: Callable[[str], JanusPeer],
    control: JanusClient,
) -> None:
    secretary, worker = await admitted_worker(join, people)
    grant = await worker.call("media.join", {})
    assert (await publish(peers, grant))["videoroom"] == "joined"
    refused = await worker.call("media.remove", {"user_id": people["worker"].id})
    assert refused["error"]["code"] == "not_moderator"
    no_mute = await worker.call("media.mute", {"user_id": people["secretary"].id, "mute": True})
    assert no_mute["error"]["code"] == "not_moderator"
    # Nobody publishes media over this bare join: there is no audio to mute.
    silent = await secretary.call("media.mute", {"user_id": people["worker"].id, "mute": True})
    assert silent["error"]["code"] == "not_publishing"
    assert (await secretary.call("media.remove", {"user_id": people["worker"].id}))["ok"]
    assert grant["feed_id"] not in {p["id"] for p in await control.participants(grant["room"])}
    assert (await worker.call("media.join", {}))["error"]["code"] == "media_removed"
    assert (await publish(peers, grant))["error_code"] == NOT_ALLOWED
    assert (await secretary.call("media.restore", {"user_id": people["worker"].id}))["ok"]
    assert (await worker.call("media.join", {}))["available"] is True


async def test_without_a_media_server_the_room_works_and_says_audio_video_is_unavailable(
    join: Callable[..., Any], room: Room, signed: Signed, media_servers: MediaServers
) -> None:
    runtime = signed.live.app.runtime
    runtime.rooms.media = None  # as create_app leaves it without HEYAT_MEDIA_JANUS_URL
    secretary = await join("secretary")
    answer = await secretary.call("media.join", {})
    assert answer["available"] is False
    assert answer["message"]
    assert (await secretary.call("phase.set", {"phase": "hearing"}))["ok"]  # the room works
    # Configured but not reachable: refused with a reason, and the room still works.
    config = dataclasses.replace(
        _config(media_servers), janus_url=f"http://127.0.0.1:{free_port()}/janus"
    )
    runtime.rooms.media = MediaService(config)
    member = await join("member.wrk1")
    down = await member.call("media.join", {})
    assert down["error"]["code"] == "media_unavailable"
    assert (await secretary.call("phase.set", {"phase": "deliberation"}))["ok"]
    await runtime.rooms.media.close()


def _config(media_servers: MediaServers) -> Any:
    from hearing_server.media.service import MediaConfig

    return MediaConfig.from_settings(media_servers.settings)


async def test_turn_credentials_work_through_coturn_and_expire(
    join: Callable[..., Any], media_servers: MediaServers
) -> None:
    from hearing_server.media.tokens import turn_credential
    from tests.media.stun import allocate

    secretary = await join("secretary")
    grant = await secretary.call("media.join", {})
    (server,) = grant["ice_servers"]
    assert server["urls"] == [f"turn:127.0.0.1:{media_servers.turn_port}?transport=udp"]
    assert grant["turn_expires_at"] > time.time()
    port = media_servers.turn_port
    assert port is not None
    assert allocate("127.0.0.1", port, server["username"], server["credential"]) == 200
    secret = media_servers.settings.media_turn_secret
    expired = turn_credential(secret, "h1u1", int(time.time()) - 1, ())
    assert allocate("127.0.0.1", port, expired.username, expired.credential) == 401
    forged = turn_credential("not-the-secret", "h1u1", int(time.time()) + 600, ())
    assert allocate("127.0.0.1", port, forged.username, forged.credential) == 401
