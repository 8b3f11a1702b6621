"""Fixture of the property tests: a database connection driven from a loop of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from domain.db import create_engine
from tests.property.harness import LoopThread, WorldDatabase
from tests.property.worlds import load_catalog


@pytest.fixture
def world_db(database_url: URL) -> Iterator[WorldDatabase]:
    runner = LoopThread()

    async def open_() -> WorldDatabase:
        engine = create_engine(database_url)
        connection = await engine.connect()
        try:
            await connection.begin()
            # The access predicates are large statements; on these small, never analysed
            # tables PostgreSQL's JIT sometimes compiles them (100+ ms each). JIT changes
            # speed only, never results: off, to keep 2 x 200 examples within budget.
            await connection.exec_driver_sql("SET LOCAL jit = off")
            async with AsyncSession(
                bind=connection, join_transaction_mode="create_savepoint"
            ) as session:
                catalog = await load_catalog(session)
                await session.commit()  # releases the savepoint: TEST permissions stay
        except BaseException:
            await connection.close()
            await engine.dispose()
            raise
        return WorldDatabase(runner, engine, connection, catalog)

    async def close(db: WorldDatabase) -> None:
        await db.connection.rollback()
        await db.connection.close()
        await db.engine.dispose()

    try:
        db = runner.run(open_())
    except BaseException:
        runner.close()
        raise
    try:
        yield db
    finally:
        runner.run(close(db))
        runner.close()
