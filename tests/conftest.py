"""Test harness: a real PostgreSQL for the whole session, each test isolated by rollback.

TEST_DATABASE_URL (any PostgreSQL) when set, otherwise an embedded server started once. In both
cases the tests work in databases of their own, created here and dropped at the end, so a shared
server's `test` database is never written to.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import bot  # noqa: F401 - first: aiogram is imported the way the product imports it (lean)
from domain import migrate
from domain.config import to_asyncpg
from domain.db import EmbeddedPostgres, asyncpg_connect_kwargs, create_engine, session_factory
from domain.reference.loader import load_reference_data


@pytest.fixture(scope="session")
def server_url() -> Iterator[URL]:
    """A URL (asyncpg driver) of a reachable server; its database is only used to connect."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield to_asyncpg(make_url(configured))
        return
    with tempfile.TemporaryDirectory(prefix="motriforge-test-") as data_dir:
        embedded = EmbeddedPostgres(Path(data_dir))
        url = to_asyncpg(embedded.start())
        try:
            yield url.set(database="postgres")
        finally:
            embedded.stop()


class DatabaseFactory:
    """Creates throwaway databases on the test server and drops them afterwards."""

    def __init__(self, server_url: URL) -> None:
        self.server_url = server_url
        self.created: list[str] = []

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            **asyncpg_connect_kwargs(self.server_url.set(database="postgres"))
        )

    async def create(self, prefix: str = "mf_test") -> URL:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        conn = await self._admin()
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created.append(name)
        return self.server_url.set(database=name)

    async def drop(self, url: URL) -> None:
        conn = await self._admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        finally:
            await conn.close()
        if url.database in self.created:
            self.created.remove(url.database)


@pytest.fixture(scope="session")
async def database_factory(server_url: URL) -> AsyncIterator[DatabaseFactory]:
    factory = DatabaseFactory(server_url)
    yield factory
    for name in list(factory.created):
        await factory.drop(server_url.set(database=name))


@pytest.fixture(scope="session")
async def database_url(database_factory: DatabaseFactory) -> URL:
    """The session's database: migrated to head with Alembic (never create_all), then seeded
    with the reference data, as `motriforge db upgrade && motriforge seed` would."""
    url = await database_factory.create()
    await migrate.upgrade(url, "head")
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await load_reference_data(session)
    finally:
        await engine.dispose()
    return url


@pytest.fixture(scope="session")
async def engine(database_url: URL) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction rolled back after the test; commits become savepoints."""
    async with rolled_back_session(engine) as session:
        yield session


@contextlib.asynccontextmanager
async def rolled_back_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session on ``engine`` whose work is rolled back at the end; commits are savepoints."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


async def migrated_seeded_database(factory: DatabaseFactory, prefix: str) -> URL:
    """A new database at head with the reference data, as ``database_url`` makes."""
    url = await factory.create(prefix)
    await migrate.upgrade(url, "head")
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await load_reference_data(session)
    finally:
        await engine.dispose()
    return url


@contextlib.asynccontextmanager
async def own_database(factory: DatabaseFactory, prefix: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a migrated, seeded database of the caller's own, dropped afterwards: for
    tests that count every row of a day or plan for every user."""
    url = await migrated_seeded_database(factory, prefix)
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()
        await factory.drop(url)


@pytest.fixture
async def empty_database_url(database_factory: DatabaseFactory) -> AsyncIterator[URL]:
    url = await database_factory.create("mf_empty")
    yield url
    await database_factory.drop(url)
