"""``create_app(settings)``: the Quart app wrapped by the Socket.IO ASGI app."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio
from quart import Quart
from quart_schema import QuartSchema
from sqlalchemy.ext.asyncio import AsyncSession

from hearing_server import i18n, instances
from hearing_server.accounts.registry import build_identity_registry
from hearing_server.config import PROJECT_ROOT, Settings
from hearing_server.db import Database, run_checkpoints
from hearing_server.notifications.sms import build_sms_provider
from hearing_server.pubsub import ResilientRedisManager
from hearing_server.rooms import presence
from hearing_server.runtime import Runtime
from hearing_server.shared import shared_state
from hearing_server.web import context, errors, inputs, openapi
from hearing_server.web.ratelimit import PublicLimits

log = logging.getLogger(__name__)


def build_quart(settings: Settings) -> tuple[Quart, Runtime]:
    settings = settings.with_generated_secrets()
    # A misconfigured SMS provider stops the start here, never a silent fallback.
    build_sms_provider(settings)
    identity_registry = build_identity_registry(settings)
    app = Quart(
        "hearing_server",
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        static_url_path="/static",
    )
    inputs.install(app)  # before any route: bounded <int:…> ids, UTF-8 JSON without controls
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 1024 * 1024,
        TESTING=settings.testing,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        swagger_ui_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        info={"title": "Heyat API", "version": "1"},
        convert_casing=False,
        openapi_provider_class=openapi.HeyatOpenAPIProvider,
        security_schemes=openapi.SECURITY_SCHEMES,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # DefaultJSONProvider: keep Persian readable
    db = Database(settings.database_url, synchronous=settings.sqlite_synchronous)
    manager: ResilientRedisManager | None = None
    if settings.redis_url:  # the message queue of several processes (hearing_server.pubsub)
        manager = ResilientRedisManager(settings.redis_url, settings.redis_channel)
    # Origin check: the default (None) accepts only the server's own origin; we add the
    # configured public URL for deployments behind a proxy. Never [] or "*".
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        cors_allowed_origins=[settings.base_url],
        max_http_buffer_size=64 * 1024,
        transports=["websocket", "polling"],
    )
    rt = Runtime(
        settings=settings,
        db=db,
        sio=sio,
        shared=shared_state(db, settings.redis_url, settings.redis_channel),
        limits=PublicLimits.for_settings(settings.redis_url),
    )
    app.extensions["heyat"] = rt
    app.extensions["identity_registry"] = identity_registry

    app.before_request(context.before_request)
    app.after_request(context.after_request)
    app.teardown_request(context.teardown_request)
    errors.register(app)
    _register_template_helpers(app)
    _register_nav(rt)
    _register_blueprints(app, rt)
    media = _register_media(app, rt)
    _register_realtime(rt)

    @app.before_serving
    async def start_checkpoints() -> None:
        if db.is_sqlite:
            rt.background.append(asyncio.create_task(run_checkpoints(db)))

    @app.before_serving
    async def start_instance() -> None:
        """Register this process, close what dead ones held, then beat and sweep."""
        interval = settings.instance_heartbeat_seconds
        limit = instances.dead_after(interval)

        async def sweep(session: AsyncSession) -> None:
            await presence.do_close_dead_instances(session, dead_after=limit)

        async with db.transaction() as session:
            await instances.do_register(session, rt.instance_id)
        async with db.transaction() as session:
            await sweep(session)
        rt.background.append(
            asyncio.create_task(instances.run_heartbeats(db, rt.instance_id, sweep, interval))
        )

    @app.after_serving
    async def shutdown() -> None:
        for task in rt.background:
            task.cancel()
        try:  # a clean stop: this process's sockets are gone
            async with db.transaction() as session:
                await presence.do_close_instance_attendance(session, rt.instance_id)
                await instances.do_forget(session, [rt.instance_id])
        except Exception:  # the sweep of another process closes them later
            log.exception("could not close this instance's attendance")
        await rt.shared.close()
        if rt.group_commit is not None:
            await rt.group_commit.close()
        if manager is not None:
            await manager.close()
        if media is not None:
            await media.close()
        await db.dispose()

    return app, rt


def create_app(settings: Settings | None = None) -> Any:
    """The ASGI application. Reads the environment only when ``settings`` is None."""
    if settings is None:
        from hearing_server import clock

        clock.configure_from_env()
    app, rt = build_quart(settings or Settings.from_env())
    asgi = socketio.ASGIApp(rt.sio, other_asgi_app=app, socketio_path="socket.io")
    asgi.quart_app = app
    asgi.runtime = rt
    return asgi


def _register_template_helpers(app: Quart) -> None:
    from rulings.persian import jalali_date, jalali_datetime

    @app.context_processor
    async def inject() -> dict[str, Any]:
        locale = i18n.get_locale()
        return {
            "locale": locale,
            "dir": i18n.text_direction(locale),
            "current_user": context.current_user(),
        }

    from hearing_server.web import nav

    app.jinja_env.globals.update(
        _=i18n.gettext, digits=i18n.digits, nav_items=nav.nav_items, csrf_token=context.csrf_token
    )
    app.jinja_env.filters["jdate"] = lambda value: (
        jalali_date(value, locale=i18n.as_locale()) if value else ""
    )
    app.jinja_env.filters["jdatetime"] = lambda value: (
        jalali_datetime(value, locale=i18n.as_locale()) if value else ""
    )
    app.jinja_env.filters["digits"] = i18n.digits


def _register_nav(rt: Runtime) -> None:
    """The menu, in the order it shows; each entry to the roles that may open it."""
    from hearing_server.web import nav

    nav.add(rt, "offices.admin_users", "Users", "admin")
    nav.add(rt, "calendar_admin.calendar_page", "Office calendar", "admin")
    nav.add(rt, "issuance.index", "Rulings", "party", "member", "secretary", "admin")
    nav.add(rt, "cases.inbox", "Inbox", "secretary", "admin")
    nav.add(rt, "cases.case_list", "Cases", "secretary", "admin", "member")
    nav.add(rt, "cases.my_cases", "My cases", "party", "clerk")
    nav.add(rt, "cases.new_case", "File a complaint", "party")
    nav.add(rt, "cases.file_for_worker", "File for a worker", "clerk")
    nav.add(rt, "notifications.messages", "Messages", "secretary", "admin")
    nav.add(rt, "notifications.dev_outbox", "Outbox", "admin")
    nav.add(rt, "scheduling.my_hearings", "Hearings", "secretary", "admin", "member", "party")
    nav.add(rt, "scheduling.calendars", "Calendar", "secretary", "admin", "member")


def _register_blueprints(app: Quart, rt: Runtime) -> None:
    """Every part's pages and API, and the background loops they own (outbox delivery,
    hearing reminders, ruling finality), which start when the app starts serving."""
    from hearing_server.accounts import api as accounts_api
    from hearing_server.accounts import signup_views
    from hearing_server.accounts import views as accounts_views
    from hearing_server.audit import checkpoints
    from hearing_server.boards import views as boards_views
    from hearing_server.cases import activation_views
    from hearing_server.cases import api as cases_api
    from hearing_server.cases import views as cases_views
    from hearing_server.issuance import api as issuance_api
    from hearing_server.issuance import finality
    from hearing_server.issuance import views as issuance_views
    from hearing_server.media import views as media_views
    from hearing_server.notifications import delivery
    from hearing_server.notifications import views as notifications_views
    from hearing_server.rooms import views as rooms_views
    from hearing_server.scheduling import api as scheduling_api
    from hearing_server.scheduling import calendar_views, reminders
    from hearing_server.scheduling import views as scheduling_views
    from hearing_server.stats import services as stats_services
    from hearing_server.stats import views as stats_views
    from hearing_server.voting import api as voting_api
    from hearing_server.voting import views as voting_views
    from hearing_server.web import health

    for blueprint in (
        health.blueprint,
        accounts_views.blueprint,
        accounts_api.blueprint,
        signup_views.blueprint,
        activation_views.blueprint,
        activation_views.api_blueprint,
        boards_views.blueprint,
        cases_views.blueprint,
        cases_api.blueprint,
        notifications_views.blueprint,
        rooms_views.blueprint,
        media_views.blueprint,
        scheduling_views.blueprint,
        scheduling_api.blueprint,
        calendar_views.blueprint,
        voting_api.blueprint,
        voting_views.blueprint,
        issuance_views.blueprint,
        issuance_api.blueprint,
        stats_views.blueprint,
    ):
        app.register_blueprint(blueprint)
    checkpoints.install(app)
    delivery.install(app)
    reminders.install(app)
    finality.install(app)
    stats_services.install(app)


def _register_media(app: Quart, rt: Runtime) -> Any:
    """Audio/video (hearing_server.media) when a media server is configured: its room
    events, and the hook the rooms call on phase changes. Without one the events answer
    that audio/video is unavailable and the room works as before."""
    from urllib.parse import urlsplit

    from hearing_server.media.recording import RECORDING_ROOM_ACTIONS, Recorder
    from hearing_server.media.room_actions import MEDIA_ROOM_ACTIONS
    from hearing_server.media.service import MediaConfig, MediaService

    rt.rooms.actions.add(*MEDIA_ROOM_ACTIONS, *RECORDING_ROOM_ACTIONS)
    config = MediaConfig.from_settings(rt.settings)
    if config is None:
        return None
    service = MediaService(config, rt.db)
    service.recorder = Recorder(rt.db, rt.settings, service)
    rt.rooms.media = service

    def origins(servers: list[Any]) -> None:
        found = dict.fromkeys(
            f"{parts.scheme}://{parts.netloc}"
            for parts in (urlsplit(s.public_url) for s in servers)
            if parts.scheme and parts.netloc
        )
        rt.media_origin = " ".join(found)

    service.on_servers = origins
    origins([service.local])

    @app.before_serving
    async def start_media_fleet() -> None:
        """The configured server joins the table; every server is health-checked and a
        dead one's rooms move (hearing_server.media.fleet)."""
        await service.register_local()
        await service.check_servers()
        rt.background.append(asyncio.create_task(service.run_health_checks()))

    return service


def _register_realtime(rt: Runtime) -> None:
    """The /hearing namespace: the rooms part's actions, voting's ``vote.cast`` beside them,
    and the question the room asks voting when it closes (which cases have a vote open)."""
    from hearing_server.rooms import namespace as rooms_namespace
    from hearing_server.voting.queries import open_vote_case_ids
    from hearing_server.voting.room_actions import VOTING_ROOM_ACTIONS

    rt.rooms.actions.add(*VOTING_ROOM_ACTIONS)
    rt.rooms.open_vote_cases = open_vote_case_ids
    rooms_namespace.register(rt)
