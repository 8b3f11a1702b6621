from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from domain.db import EmbeddedPostgres, asyncpg_connect_kwargs, ensure_database_exists


async def test_embedded_start_connect_stop(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "data")
    url = server.start()
    try:
        assert server.running
        assert (server.pgdata / "PG_VERSION").exists()
        await ensure_database_exists(url)
        await ensure_database_exists(url)  # a second call finds it and does nothing
        conn = await asyncpg.connect(**asyncpg_connect_kwargs(url))
        try:
            assert await conn.fetchval("SELECT current_database()") == url.database
            assert int(await conn.fetchval("SHOW server_version_num")) >= 160000
        finally:
            await conn.close()
    finally:
        server.stop()
    assert not server.running
    # The socket file is gone once the server stopped.
    with pytest.raises(OSError, match=r"No such file|Connection refused|connect"):
        await asyncpg.connect(**asyncpg_connect_kwargs(url), timeout=5)
