"""The `motriforge` command line (Typer)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

import domain
from domain import migrate
from domain.config import ConfigError, Settings, load_settings
from domain.db import Database, DatabaseUnavailable, create_engine, open_database

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

app = typer.Typer(
    name="motriforge",
    help="MōtriForge: a coaching platform whose front door is a Telegram bot.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
admin_app = typer.Typer(
    help="Administration: institutions, roles, invites, users.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")

out = Console()
err = Console(stderr=True)

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3


def fail(message: str, code: int = 1) -> NoReturn:
    # One plain line (no wrapping, no markup) so scripts and people read the same thing.
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as error:
        fail(str(error), EXIT_CONFIG)


def with_database(work: Callable[[Database], Awaitable[T]], *, announce: bool = True) -> T:
    """Open the configured (or embedded) database, run `work`, release the embedded server."""

    async def run() -> T:
        database = await open_database(settings(), announce=announce)
        try:
            return await work(database)
        finally:
            database.stop()

    try:
        return asyncio.run(run())
    except DatabaseUnavailable as error:
        fail(str(error), EXIT_UNAVAILABLE)
    except OSError as error:  # connection refused, unknown host …
        fail(f"database unreachable: {error}", EXIT_UNAVAILABLE)


@app.command()
def version() -> None:
    """Print the MōtriForge version."""
    out.print(f"motriforge {domain.__version__}")


@app.command()
def doctor() -> None:
    """Check the configuration, the database and the migration state."""
    config = settings()
    table = Table(title="configuration", show_header=True)
    table.add_column("variable")
    table.add_column("value")
    for name, value in config.masked().items():
        table.add_row(name, value)
    out.print(table)

    async def check(database: Database) -> tuple[str, str | None]:
        from sqlalchemy import text

        engine = create_engine(database.url)
        try:
            async with engine.connect() as connection:
                server = (await connection.execute(text("SHOW server_version"))).scalar_one()
        finally:
            await engine.dispose()
        return str(server), await migrate.current_revision(database.url)

    server, current = with_database(check)
    head = migrate.head_revision()
    out.print(f"database: reachable, PostgreSQL {server}")
    if current == head:
        out.print(f"migrations: up to date ({head})")
    else:
        out.print(f"migrations: behind (database at {current or 'empty'}, code at {head})")
        out.print("run `motriforge db upgrade`")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""

    async def work(database: Database) -> str | None:
        await migrate.upgrade(database.url, revision)
        return await migrate.current_revision(database.url)

    out.print(f"database at revision {with_database(work)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base")],
) -> None:
    """Revert migrations down to REVISION."""

    async def work(database: Database) -> str | None:
        await migrate.downgrade(database.url, revision)
        return await migrate.current_revision(database.url)

    out.print(f"database at revision {with_database(work) or 'base (empty)'}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and the code's head."""
    current = with_database(lambda database: migrate.current_revision(database.url))
    head = migrate.head_revision()
    state = "up to date" if current == head else "behind"
    out.print(f"current: {current or 'base (empty)'}\nhead:    {head} ({state})")


def configure_logging(config: Settings) -> None:
    import logging

    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def run_bot(work: Callable[[], Awaitable[None]]) -> None:
    """Run a long-lived bot coroutine; Ctrl-C stops it cleanly, setup problems are one line."""
    from bot.runtime import NotReady

    try:
        asyncio.run(work())
    except KeyboardInterrupt:
        pass
    except NotReady as error:
        fail(str(error))
    except DatabaseUnavailable as error:
        fail(str(error), EXIT_UNAVAILABLE)
    except OSError as error:
        fail(f"unreachable: {error}", EXIT_UNAVAILABLE)


def require_token(config: Settings) -> None:
    if config.bot_token is None:
        fail(
            "invalid configuration: BOT_TOKEN: not set (the token BotFather gave you)",
            EXIT_CONFIG,
        )


NoScheduler = Annotated[
    bool,
    typer.Option(
        "--no-scheduler",
        help="Do not run the reminder ticks here (run `motriforge scheduler` apart).",
    ),
]


@app.command()
def run(no_scheduler: NoScheduler = False) -> None:
    """Run the bot with long polling (Telegram's API at TELEGRAM_API_BASE), with the reminder
    scheduler unless --no-scheduler."""
    from bot.runtime import run_polling

    config = settings()
    require_token(config)
    configure_logging(config)
    run_bot(lambda: run_polling(config, scheduler=not no_scheduler))


@app.command()
def scheduler() -> None:
    """Run the reminder scheduler alone: planning, delivery, digests, rollups, retention
    (several processes may run; one leads, by a PostgreSQL advisory lock)."""
    from bot.runtime import run_scheduler_process

    config = settings()
    require_token(config)
    configure_logging(config)

    async def work() -> None:
        await run_scheduler_process(config, asyncio.Event())

    run_bot(work)


@app.command()
def webhook(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "0.0.0.0",  # noqa: S104
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8080,
    path: Annotated[str, typer.Option(help="Path Telegram posts updates to")] = "/webhook",
    no_scheduler: NoScheduler = False,
) -> None:
    """Serve Telegram's webhook (aiohttp; secret token checked; /healthz and /metrics)."""
    from bot.runtime import run_webhook

    config = settings()
    require_token(config)
    if config.webhook_secret is None:
        fail(
            "invalid configuration: WEBHOOK_SECRET: not set; a webhook without a secret "
            "would accept updates from anyone",
            EXIT_CONFIG,
        )
    if config.webhook_url is None:
        fail("invalid configuration: WEBHOOK_URL: not set (the public https:// URL)", EXIT_CONFIG)
    configure_logging(config)

    async def work() -> None:
        try:
            await run_webhook(config, host=host, port=port, path=path, scheduler=not no_scheduler)
        except ValueError as error:
            fail(f"invalid configuration: {error}", EXIT_CONFIG)

    run_bot(work)


@app.command()
def shell() -> None:
    """Chat with the bot in the terminal (local Bot API emulator, embedded database by
    default). Reads a script from stdin when it is not a terminal: `@name`, text, `tap N`,
    `tap <label>`, `link <payload>`, `location LAT LON`, `upload <path>`, `pay`."""
    import logging

    from bot.shell import run_shell

    config = settings()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_bot(lambda: run_shell(config, sys.stdin, interactive=sys.stdin.isatty()))


@app.command()
def seed() -> None:
    """Load the reference data: lookups, muscles, equipment, roles, permissions, exercises."""
    from rich.progress import BarColumn, Progress, TextColumn

    from domain.db import session_factory
    from domain.reference.loader import (
        ReferenceDataError,
        SeedReport,
        load_reference_data,
        read_reference_data,
    )

    try:
        data = read_reference_data()
    except ReferenceDataError as error:
        fail(str(error))

    async def work(database: Database) -> SeedReport:
        current = await migrate.current_revision(database.url)
        if current != migrate.head_revision():
            fail("the database schema is not up to date; run `motriforge db upgrade` first")
        engine = create_engine(database.url)
        try:
            with Progress(
                TextColumn("{task.description:<12}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                console=err,
            ) as bar:
                task = bar.add_task("reference", total=None)

                def advance(label: str, done: int, total: int) -> None:
                    bar.update(task, description=label, completed=done, total=total)

                async with session_factory(engine)() as session, session.begin():
                    return await load_reference_data(session, data, progress=advance)
        finally:
            await engine.dispose()

    report = with_database(work)
    if report.total == 0:
        out.print("reference data: already up to date (0 rows changed)")
    else:
        changed = ", ".join(f"{table} {count}" for table, count in sorted(report.changes.items()))
        out.print(f"reference data: {report.total} rows changed ({changed})")


@app.command("import-program")
def import_program(
    file: Annotated[str, typer.Argument(help="YAML, JSON or CSV program file")],
    owner: Annotated[
        str | None,
        typer.Option("--owner", help="Telegram id (or UUID) of the owner; default: system library"),
    ] = None,
    institution: Annotated[
        str | None, typer.Option("--institution", help="File it in this institution (slug or id)")
    ] = None,
) -> None:
    """Import a program file (docs/program-format.md): every error with its line, or the
    program and its new version. Nothing is stored when the file has an error (exit 1)."""
    import datetime as dt
    from pathlib import Path

    from domain.services.access_admin import find_institution, find_user
    from domain.services.program_format import ProgramFileInvalid
    from domain.services.program_import import ImportResult
    from domain.services.program_import import import_program as run_import

    path = Path(file)
    try:
        source = path.read_bytes()
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror or error}")

    async def work(session: AsyncSession) -> ImportResult | ProgramFileInvalid:
        owner_id = (await find_user(session, owner)).id if owner is not None else None
        institution_id = (
            (await find_institution(session, institution)).id if institution is not None else None
        )
        try:
            return await run_import(
                session,
                owner_id=owner_id,
                institution_id=institution_id,
                source=source,
                filename=path.name,
                now=dt.datetime.now(dt.UTC),
            )
        except ProgramFileInvalid as invalid:
            return invalid  # nothing was written: the commit that follows is empty

    outcome = with_session(work)
    if isinstance(outcome, ProgramFileInvalid):
        for problem in outcome.errors:
            print(f"{path.name}: {problem}", file=sys.stderr)
        fail(f"{len(outcome.errors)} error(s) in {path.name}; nothing was imported")
    verb = "imported" if outcome.created else "updated"
    say(
        f"{verb} {outcome.title!r} (program {outcome.program_id}) version"
        f" {outcome.version_number}: {outcome.weeks} week(s), {outcome.length_days} days,"
        f" {outcome.workouts} workout(s) ({outcome.new_workouts} new),"
        f" {outcome.sessions} scheduled session(s)"
    )


def say(message: str) -> None:
    """One result line, printed as is (no wrapping, no markup)."""
    out.print(message, soft_wrap=True, markup=False, highlight=False)


def with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction on an up-to-date database; a domain error (bad input)
    rolls everything back and ends the command with one line and status 1."""

    async def run(database: Database) -> T:
        from domain.db import session_factory
        from domain.errors import DomainError

        if await migrate.current_revision(database.url) != migrate.head_revision():
            fail("the database schema is not up to date; run `motriforge db upgrade` first")
        engine = create_engine(database.url)
        try:
            async with session_factory(engine)() as session:
                try:
                    async with session.begin():
                        return await work(session)
                except DomainError as error:
                    fail(str(error))
        finally:
            await engine.dispose()

    return with_database(run, announce=False)


@admin_app.command("roles")
def admin_roles() -> None:
    """List the roles with their parent and how many permissions each carries."""
    from domain.services.access_admin import list_roles

    roles = with_session(list_roles)
    table = Table(title="roles")
    for column in ("code", "name", "institution", "parent", "permissions", "active"):
        table.add_column(column, overflow="fold")
    for role in roles:
        table.add_row(
            role.code,
            role.name,
            role.institution or "(platform)",
            role.parent or "-",
            str(role.permissions),
            "yes" if role.is_active else "no",
        )
    out.print(table)
    say(
        "A role inherits every permission of its parent (the less privileged role);"
        " the counts are the role's own."
    )


UserArgument = Annotated[str, typer.Argument(help="Telegram user id or user UUID", metavar="USER")]
InstitutionOption = Annotated[
    str | None, typer.Option("--institution", help="Institution slug or id")
]


@admin_app.command("grant-role")
def admin_grant_role(
    user: UserArgument,
    role: Annotated[str, typer.Argument(help="Role code (COACH, ADMIN …) or id")],
    institution: InstitutionOption = None,
) -> None:
    """Give USER the ROLE platform-wide, or in one institution (--institution)."""
    from domain.services.access_admin import grant_role

    say(with_session(lambda session: grant_role(session, user, role, institution)))


@admin_app.command("revoke-role")
def admin_revoke_role(
    user: UserArgument,
    role: Annotated[str, typer.Argument(help="Role code (COACH, ADMIN …) or id")],
    institution: InstitutionOption = None,
) -> None:
    """Take ROLE away from USER (platform-wide, or in one institution)."""
    from domain.services.access_admin import revoke_role

    say(with_session(lambda session: revoke_role(session, user, role, institution)))


@admin_app.command("grant-permission")
def admin_grant_permission(
    user: UserArgument,
    permission: Annotated[str, typer.Argument(help="ACTOR.RESOURCE.ACTION", metavar="PERMISSION")],
    institution: InstitutionOption = None,
    department: Annotated[str | None, typer.Option("--department", help="Department id")] = None,
    resource: Annotated[
        str | None, typer.Option("--resource", help="One row: TYPE:ID (e.g. PROGRAM:6f1c…)")
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="When it ends: 30d, 12h, 2w, or 2026-12-31T00:00Z"),
    ] = None,
) -> None:
    """Grant PERMISSION to USER, everywhere or scoped to one institution, department or row."""
    from domain.services.access_admin import grant_permission

    async def work(session: AsyncSession) -> str:
        _grant, message = await grant_permission(
            session,
            user,
            permission,
            institution=institution,
            department=department,
            resource=resource,
            expires=expires,
        )
        return message

    say(with_session(work))


@admin_app.command("explain")
def admin_explain(
    user: Annotated[
        str, typer.Argument(help="Telegram user id, user UUID, or guest", metavar="USER")
    ],
    action: Annotated[str, typer.Argument(help="READ, UPDATE, DELETE, SHARE, ASSIGN …")],
    resource: Annotated[str, typer.Argument(help="TYPE:ID, e.g. PROGRAM:6f1c…")],
) -> None:
    """Why may (or may not) USER do ACTION on RESOURCE: the decision and every rule."""
    from domain.services.access_admin import explain

    explanation = with_session(lambda session: explain(session, user, action, resource))
    decision = explanation.decision
    verdict = "ALLOWED" if decision.allowed else "DENIED"
    say(f"{verdict}: {explanation.actor} {explanation.action.value} {explanation.resource}")
    say(f"reason: {decision.reason}")
    say(f"decided by: {decision.decided_by or '(no rule: deny by default)'}")
    table = Table(title="rules")
    for column in ("rule", "effect", "matched", "detail"):
        table.add_column(column, overflow="fold")
    for rule in decision.rules:
        table.add_row(rule.name, rule.effect, "yes" if rule.matched else "no", rule.detail or "")
    out.print(table)
    for invalid in explanation.invalid_policies:
        say(f"policy {invalid.policy_name} is ignored: invalid document ({invalid.error})")


@admin_app.command("create-institution")
def admin_create_institution(
    name: Annotated[str, typer.Argument(help="The institution's name")],
    admin: Annotated[
        int, typer.Option("--admin", help="Telegram user id of its first administrator")
    ],
) -> None:
    """Create an institution. If the admin already uses the bot they become its ADMIN at once;
    otherwise a single-use ADMIN invite link (7 days) is printed to hand to them."""
    import datetime as dt

    from domain.services.invites import create_institution_with_admin

    now = dt.datetime.now(dt.UTC)
    setup = with_session(lambda session: create_institution_with_admin(session, name, admin, now))
    say(f"institution: {setup.name} (slug {setup.slug}, id {setup.institution_id})")
    if setup.invite is None:
        say(f"{setup.admin_name} (telegram {admin}) is now its ADMIN")
        return
    expires = setup.invite.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    say(f"admin invite for telegram {admin} (single use, expires {expires}):")
    say(f"  /start {setup.invite.payload}")
    say(f"payload: {setup.invite.payload}")
    say(
        "Hand it to that person only: they open t.me/<your bot>?start=<payload>"
        " (or send the /start line to the bot) and become the institution's ADMIN."
    )


def main() -> None:  # pragma: no cover - console entry point alias
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
