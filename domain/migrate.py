"""Alembic driven from code: the CLI and the tests run migrations through these functions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection

import migrations
from domain.db import create_engine


def alembic_config(url: URL | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    if url is not None:
        # ConfigParser interpolation treats % specially.
        config.set_main_option(
            "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
        )
    config.attributes["configure_logger"] = False
    return config


async def _with_connection(url: URL, work: Callable[[Connection], Any]) -> Any:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


async def _run_command(url: URL, action: Callable[[Config], None]) -> None:
    def work(connection: Connection) -> None:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        action(config)

    await _with_connection(url, work)


async def upgrade(url: URL, revision: str = "head") -> None:
    await _run_command(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: URL, revision: str) -> None:
    await _run_command(url, lambda config: command.downgrade(config, revision))


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(url: URL) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    result: str | None = await _with_connection(url, read)
    return result
