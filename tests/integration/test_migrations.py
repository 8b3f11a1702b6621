"""Migrations: a full round trip on an empty database, and models == migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import URL, Connection

from domain import migrate
from domain.db import create_engine
from domain.models import Base
from domain.models.base import compared_by_autogenerate


async def table_names(url: URL) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(empty_database_url: URL) -> None:
    await migrate.upgrade(empty_database_url, "head")
    assert await migrate.current_revision(empty_database_url) == migrate.head_revision()
    assert set(Base.metadata.tables) <= await table_names(empty_database_url)

    await migrate.downgrade(empty_database_url, "base")
    assert await migrate.current_revision(empty_database_url) is None
    assert await table_names(empty_database_url) == {"alembic_version"}

    await migrate.upgrade(empty_database_url, "head")
    assert set(Base.metadata.tables) <= await table_names(empty_database_url)


async def test_models_match_migrations(database_url: URL) -> None:
    """Autogenerate against the migrated schema finds nothing to do."""

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "include_object": compared_by_autogenerate},
        )
        return list(compare_metadata(context, Base.metadata))

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []
