"""The ``heyat`` command."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import click

from hearing_server.config import Settings

T = TypeVar("T")


def _settings() -> Settings:
    return Settings.from_env().with_generated_secrets()


def _run(work: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    settings = _settings()
    return asyncio.run(work(settings))


async def _in_transaction(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    from hearing_server.db import Database

    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            return await work(session, settings)
    finally:
        await db.dispose()


@click.group()
def main() -> None:
    """Heyat: virtual hearings and remote voting for labour dispute boards."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--media/--no-media",
    default=True,
    show_default=True,
    help="Start Janus and coturn (when installed and HEYAT_MEDIA_JANUS_URL is not set).",
)
def serve(host: str, port: int, media: bool) -> None:
    """Serve the app (HTTP and Socket.IO) with uvicorn, and its media servers."""
    import uvicorn

    import hearing_server.app  # noqa: F401  (loaded before the collector freezes what is)
    from hearing_server import collector
    from hearing_server.media.supervisor import start_media

    settings = _settings()
    collector.take_in_hand(settings.gc_full_collection_seconds)
    supervisor = start_media(settings) if media else None
    if supervisor is not None:
        # uvicorn re-raises SIGTERM/SIGINT once it has shut down (a finally block would
        # never run): the handlers in place before it stop the media servers, then exit.
        def stop_and_exit(signum: int, _frame: Any) -> None:
            supervisor.stop()
            raise SystemExit(128 + signum)

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, stop_and_exit)
    try:
        uvicorn.run(
            "hearing_server.app:create_app",
            factory=True,
            host=host,
            port=port,
            log_level="info",
            # The client's address is decided by the app alone (HEYAT_TRUSTED_PROXIES):
            # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1.
            proxy_headers=False,
        )
    finally:
        if supervisor is not None:
            supervisor.stop()


@main.group(name="media")
def media_group() -> None:
    """Audio and video: the Janus and coturn configs Heyat runs them with."""


@media_group.command("render-config")
def media_render_config() -> None:
    """Write Janus's and coturn's configs into var/media/ (heyat serve does it itself)."""
    from hearing_server.media import render
    from hearing_server.media.supervisor import supervised_settings

    settings = _settings()
    if not settings.media_janus_url:
        settings = supervised_settings(settings)
    paths = render.render(settings)
    click.echo(str(paths.root))


@media_group.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--public-url", default="", help="The URL browsers use (default: URL).")
@click.option(
    "--secret-ref",
    default="",
    help="The environment variable holding its API secret (default: HEYAT_MEDIA_API_SECRET's).",
)
def media_add(name: str, url: str, public_url: str, secret_ref: str) -> None:
    """Add a media server (a Janus rendered with this installation's token secret and
    admin key) that hearings' rooms can be pinned to."""
    from hearing_server.errors import DomainError
    from hearing_server.media.fleet import do_add_server

    async def work(session: Any, _settings: Settings) -> Any:
        return await do_add_server(
            session, name=name, url=url, public_url=public_url, secret_ref=secret_ref
        )

    try:
        server = _run(lambda s: _in_transaction(s, work))
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"added {server.name} {server.url}")


@media_group.command("list")
def media_list() -> None:
    """The media servers: name, URL, healthy or down, open rooms, last health check."""
    from hearing_server.db import Database
    from hearing_server.media.fleet import list_servers

    async def work(settings: Settings) -> Any:
        db = Database(settings.database_url)
        try:  # a reader: never waits for (nor holds up) the writer
            async with db.transaction(write=False) as session:
                return await list_servers(session)
        finally:
            await db.dispose()

    for load in _run(work):
        server = load.server
        checked = load.last_checked.isoformat(timespec="seconds") if load.last_checked else "-"
        state = "healthy" if server.healthy else "down"
        click.echo(f"{server.name}\t{server.url}\t{state}\trooms={load.rooms}\tchecked={checked}")


@media_group.command("remove")
@click.argument("name")
def media_remove(name: str) -> None:
    """Remove a media server that holds no open room."""
    from hearing_server.errors import DomainError
    from hearing_server.media.fleet import do_remove_server

    async def work(session: Any, _settings: Settings) -> None:
        await do_remove_server(session, name)

    try:
        _run(lambda s: _in_transaction(s, work))
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"removed {name}")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    from hearing_server.migrate import upgrade

    upgrade(_settings().database_url, revision)
    click.echo("database is up to date")


@db.command("heads")
def db_heads() -> None:
    """Print the newest revision of the migrations (Alembic's `heads`)."""
    from alembic import command

    from hearing_server.migrate import alembic_config

    command.heads(alembic_config(""), verbose=False)


@main.group()
def user() -> None:
    """Users."""


@user.command("create")
@click.option("--username", required=True)
@click.option("--full-name", required=True)
@click.option(
    "--role", type=click.Choice(["admin", "secretary", "member", "clerk", "party"]), required=True
)
@click.option("--national-id")
@click.option("--mobile")
@click.option("--email")
@click.option("--locale", default="fa", type=click.Choice(["fa", "en"]))
@click.option(
    "--office",
    help="The code of the labour office a member of staff works for (an admin without "
    "one is a national admin), or of the counter office a clerk works at.",
)
@click.password_option()
def user_create(**options: Any) -> None:
    """Create a user; they set up their authenticator at first sign-in."""
    from sqlalchemy import select

    from hearing_server.accounts.models import Role
    from hearing_server.accounts.services import do_create_user
    from hearing_server.boards.models import CounterOffice, LabourOffice
    from hearing_server.errors import ValidationErrors
    from hearing_server.i18n import gettext

    code = options.pop("office")
    role = Role(options["role"])

    async def work(session: Any, _settings: Settings) -> int:
        place: dict[str, int | None] = {}
        if code:
            kind = CounterOffice if role == Role.CLERK else LabourOffice
            found = await session.scalar(select(kind.id).where(kind.code == code.upper()))
            if found is None or role == Role.PARTY:
                field = "counter_office_id" if role == Role.CLERK else "office_id"
                raise ValidationErrors({field: ("Choose a labour office from the list.", {})})
            place = {"counter_office_id" if role == Role.CLERK else "office_id": found}
        created = await do_create_user(session, **{**options, "role": role, **place})
        return created.id

    try:
        user_id = _run(lambda s: _in_transaction(s, work))
    except ValidationErrors as exc:
        for name, (message, params) in exc.errors.items():
            click.echo(f"{name}: {gettext(message, options['locale'], **params)}", err=True)
        sys.exit(2)
    click.echo(f"user {user_id} created")


@main.command()
@click.option(
    "--json", "as_json", is_flag=True, help="Print the demo people and their TOTP secrets as JSON."
)
@click.option(
    "--force",
    is_flag=True,
    help="Seed even a database that holds users the demo did not make (never in production).",
)
def demo(as_json: bool, force: bool) -> None:
    """Create (once) the demo labour office, boards, people and cases."""
    from hearing_server.demo import do_seed_demo, other_usernames
    from hearing_server.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    others = asyncio.run(_in_transaction(settings, lambda session, _s: other_usernames(session)))
    if others and not force:
        click.echo(
            "refusing: this database holds users the demo did not make "
            f"({', '.join(others)}); the demo adds people with a published password. "
            "Use an empty database, or --force if this is really a test installation.",
            err=True,
        )
        sys.exit(2)
    summary = asyncio.run(_in_transaction(settings, do_seed_demo))
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        click.echo(f"demo ready at {summary['base_url']} — `heyat demo --json` lists the people")


@main.group()
def audit() -> None:
    """The audit hash chain."""


@audit.command("verify")
def audit_verify() -> None:
    """Exit 0 when the chain is intact up to and including its latest sealed checkpoint;
    otherwise say what is wrong and exit 1."""
    from hearing_server.audit.checkpoints import verify_anchored

    report = _run(lambda s: _in_transaction(s, verify_anchored))
    chain = report.chain
    if report.ok:
        anchored = (
            f", anchored by the sealed checkpoint at seq {report.checkpoint_seq}"
            if report.checkpoint_seq is not None
            else " (no checkpoint yet: rows cut off at the end would not be noticed)"
        )
        click.echo(f"audit chain intact: {chain.checked} events{anchored}")
        return
    if not chain.ok:
        click.echo(
            f"audit chain BROKEN at seq {chain.broken_seq} (row id {chain.broken_id}): "
            f"{chain.reason}",
            err=True,
        )
    if report.problem:
        click.echo(f"audit chain BROKEN: {report.problem}", err=True)
    sys.exit(1)


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Seal the chain's head now (the server does it by itself every few minutes)."""
    from hearing_server.audit.checkpoints import make_checkpoint
    from hearing_server.db import Database

    async def work(settings: Settings) -> Any:
        db = Database(settings.database_url)
        try:
            return await make_checkpoint(db, settings)
        finally:
            await db.dispose()

    made = _run(work)
    if made is None:
        click.echo("no new checkpoint: the head is already sealed, or the chain is broken")
    else:
        click.echo(f"checkpoint sealed at seq {made.seq} ({made.hash})")


@main.group()
def stats() -> None:
    """The public board statistics."""


@stats.command("refresh")
def stats_refresh() -> None:
    """Recompute and publish the statistics now (the server does it by itself when the
    record changes)."""
    from hearing_server.db import Database
    from hearing_server.stats.services import refresh

    async def work(settings: Settings) -> Any:
        db = Database(settings.database_url)
        try:
            return await refresh(db)
        finally:
            await db.dispose()

    done = _run(work)
    click.echo(
        f"statistics published for {len(done.scopes)} scopes at audit seq {done.seq} ({done.hash})"
    )


@stats.command("name-members")
@click.argument("office_id", type=int)
@click.option("--on/--off", default=True, help="Name each member's attendance, or not.")
def stats_name_members(office_id: int, on: bool) -> None:
    """Whether an office's public statistics name each member's attendance rate (off by
    default: per board only)."""
    from hearing_server.errors import DomainError
    from hearing_server.i18n import gettext
    from hearing_server.stats.services import do_set_name_members

    async def work(session: Any, _settings: Settings) -> None:
        await do_set_name_members(session, office_id=office_id, on=on)

    try:
        _run(lambda s: _in_transaction(s, work))
    except DomainError as exc:
        raise click.ClickException(gettext(exc.message, "en")) from exc
    click.echo(f"office {office_id}: members {'named' if on else 'not named'} in the statistics")


@stats.command("verify")
def stats_verify() -> None:
    """Recompute the published statistics from the database and check the audit chain up to
    the head they name: exit 0 when everything matches, else list the differences, exit 1."""
    from hearing_server.stats.services import verify

    report = _run(lambda s: _in_transaction(s, verify))
    if report.ok:
        click.echo(f"statistics verified: {report.snapshots} published scopes match the record")
        return
    for problem in report.problems:
        click.echo(f"DIFFERENT: {problem}", err=True)
    sys.exit(1)


@main.group()
def pki() -> None:
    """Signing certificates."""


@pki.command("init")
@click.option("--force", is_flag=True, help="Replace an existing CA and board certificate.")
@click.option(
    "--ca-passphrase",
    envvar="HEYAT_CA_PASSPHRASE",
    default=None,
    help="Encrypt the CA key with this (or HEYAT_CA_PASSPHRASE; asked on a terminal). "
    "Empty: the CA key is not kept. The running app never needs it.",
)
def pki_init(force: bool, ca_passphrase: str | None) -> None:
    """Make a local CA (var/pki/ca.pem) and the board signing certificate (board.p12)."""
    from rulings.pki import PkiError, init_pki

    settings = _settings()
    if ca_passphrase is None and sys.stdin.isatty():
        ca_passphrase = click.prompt(
            "CA passphrase (empty: do not keep the CA key)",
            default="",
            show_default=False,
            hide_input=True,
            confirmation_prompt=True,
        )
    try:
        paths = init_pki(settings.pki_dir, ca_passphrase=ca_passphrase or None, force=force)
    except PkiError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    click.echo(f"PKI ready in {settings.pki_dir}")
    if paths.ca_key.is_file():
        click.echo(
            f"The CA key {paths.ca_key} is encrypted; the server does not need it: "
            "keep it offline if you can."
        )


@pki.command("import")
@click.argument("pkcs12", type=click.Path(exists=True, dir_okay=False))
@click.option("--password", prompt=True, hide_input=True, default="", show_default=False)
def pki_import(pkcs12: str, password: str) -> None:
    """Use an organisation's own PKCS#12 for signing rulings."""
    from pathlib import Path

    from rulings.pki import import_pkcs12

    settings = _settings()
    import_pkcs12(Path(pkcs12), password or None, settings.pki_dir)
    click.echo(f"imported into {settings.pki_dir}")


@main.group()
def ruling() -> None:
    """Issued rulings: verify a PDF, export a case's ruling."""


@ruling.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def ruling_verify(file: str) -> None:
    """Exit 0 only when FILE is an authentic ruling (or minutes): signature intact and
    trusted, the very file issued, and the latest ruling of its case."""
    from pathlib import Path

    from hearing_server.i18n import gettext
    from hearing_server.issuance.verification import check_pdf

    data = Path(file).read_bytes()
    verdict = _run(lambda s: _in_transaction(s, lambda session, st: check_pdf(session, st, data)))
    for locale in ("en", "fa"):
        if verdict.authentic:
            click.echo(
                gettext(
                    "Authentic: this file is the signed document issued by the board, unchanged.",
                    locale,
                )
            )
        else:
            click.echo(gettext("Not authentic.", locale))
        for problem in verdict.problems:
            click.echo(f"  - {gettext(problem, locale)}")
    if verdict.number:
        click.echo(
            f"{verdict.kind} {verdict.number} case {verdict.case_number} state {verdict.state}"
        )
    if verdict.signature is not None and verdict.signature.error:
        click.echo(f"signature: {verdict.signature.error}")
    click.echo(f"sha256 {verdict.sha256}")
    sys.exit(0 if verdict.authentic else 1)


@ruling.command("export")
@click.argument("case_number")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False))
def ruling_export(case_number: str, output: str) -> None:
    """Write the latest issued ruling of CASE_NUMBER (the signed PDF) to OUTPUT."""
    from pathlib import Path

    from hearing_server.errors import DomainError
    from hearing_server.i18n import gettext
    from hearing_server.issuance.verification import latest_issued_pdf

    try:
        found = _run(
            lambda s: _in_transaction(
                s, lambda session, st: latest_issued_pdf(session, st, case_number)
            )
        )
    except DomainError as exc:
        click.echo(gettext(exc.message, "en", **exc.params), err=True)
        sys.exit(1)
    record, pdf = found
    Path(output).write_bytes(pdf)
    click.echo(f"ruling {record.number} written to {output} (sha256 {record.pdf_sha256})")


@ruling.command("publish")
@click.option("--limit", default=100, show_default=True, type=int, help="At most this many.")
def ruling_publish(limit: int) -> None:
    """Publish now the anonymised copies of final rulings that have none (the server's
    finality loop does it by itself every minute)."""
    from hearing_server.db import Database
    from hearing_server.issuance.publication import publish_pending
    from rulings.render import shutdown_pool

    async def work(settings: Settings) -> int:
        db = Database(settings.database_url)
        try:
            return await publish_pending(db, settings, limit)
        finally:
            await db.dispose()
            shutdown_pool()

    click.echo(f"{_run(work)} public ruling(s) published")


if __name__ == "__main__":
    main()
