"""What the benchmarks share: percentiles, a server to create throwaway databases on."""

from __future__ import annotations

import os
import platform
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url

from domain.config import to_asyncpg
from domain.db import EmbeddedPostgres, asyncpg_connect_kwargs


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(label: str, values_ms: list[float]) -> str:
    return (
        f"{label}: n={len(values_ms)} p50={percentile(values_ms, 0.5):.2f} ms"
        f" p95={percentile(values_ms, 0.95):.2f} ms p99={percentile(values_ms, 0.99):.2f} ms"
        f" max={max(values_ms):.2f} ms"
    )


# ---------------------------------------------------------------------------------------------
# Server and database
# ---------------------------------------------------------------------------------------------


@contextmanager
def server() -> Iterator[tuple[URL, str]]:
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield to_asyncpg(make_url(configured)).set(database="postgres"), "TEST_DATABASE_URL"
        return
    with socket.socket() as probe:
        probe.settimeout(1)
        reachable = probe.connect_ex(("127.0.0.1", 5432)) == 0
    if reachable:
        yield (
            URL.create("postgresql+asyncpg", "postgres", None, "127.0.0.1", 5432, "postgres"),
            ("127.0.0.1:5432"),
        )
        return
    with tempfile.TemporaryDirectory(prefix="motriforge-bench-") as directory:
        embedded = EmbeddedPostgres(Path(directory))
        try:
            yield to_asyncpg(embedded.start()).set(database="postgres"), "embedded"
        finally:
            embedded.stop()


@asynccontextmanager
async def throwaway_database(server_url: URL, keep: bool) -> AsyncIterator[URL]:
    name = f"mf_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(**asyncpg_connect_kwargs(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield server_url.set(database=name)
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            admin = await asyncpg.connect(**asyncpg_connect_kwargs(server_url))
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process (from /proc: clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def prepare(url: URL) -> None:
    """Migrate a fresh database and load the reference data (as `db upgrade` + `seed`)."""
    from domain import migrate
    from domain.db import create_engine, session_factory
    from domain.reference.loader import load_reference_data

    await migrate.upgrade(url, "head")
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await load_reference_data(session)
    finally:
        await engine.dispose()


def memory() -> str:
    try:
        kib = int(Path("/proc/meminfo").read_text(encoding="ascii").split()[1])
    except (OSError, IndexError, ValueError):
        return "?"
    return f"{kib / 1024 / 1024:.1f} GiB"


async def machine(url: URL) -> list[str]:
    connection = await asyncpg.connect(**asyncpg_connect_kwargs(url))
    try:
        version = await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"load average at start: {load}",
        f"machine: {platform.machine()}, nproc={os.cpu_count()}, RAM {memory()},"
        f" Python {platform.python_version()}, PostgreSQL {version}",
    ]
