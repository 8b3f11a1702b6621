"""Free-text logging benchmark, through the local Bot API emulator: one free-text set
("squat 1x5 100") handled end to end by the full bot — claim the update, read the sender,
match the exercise, log the set in the current session, reply with last time and the buttons.

1. **Round trips**: the bot's PostgreSQL traffic (its SQLAlchemy engine and the claims pool)
   goes through a wire-level proxy (bench/pg_round_trips.py) that counts the messages the
   client waits on (Sync, simple Query); per update, after every user was seen once.
   Target: at most 3.
2. **Latency and CPU** against the framework floor of bench/bot_bench.py (a bare aiogram bot
   answering /cancel, bench/echo_bot.py), same emulator, same machine, same run: sequential
   latency (one update in flight: p50/p99), a burst (every user sends 3 at once: updates per
   second) and the bot process's CPU per update during the burst. For reference the same
   bot process also answers `/cancel` (the Bot core measurement). Target: ≤ 2.5× the floor.

    python -m bench.free_text_bench [--rounds 3] [--latency 400] [--users 100] [--count 200]

The bot runs in its own process (`python -m bench.free_text_bench --serve`: `motriforge run
--no-scheduler` with the /log router added when bot.handlers does not list it yet). Results
go to stdout; docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from statistics import median

from sqlalchemy import func, select
from sqlalchemy.engine import URL

from bench.common import (
    cpu_seconds,
    machine,
    percentile,
    prepare,
    rss_mib,
    server,
    throwaway_database,
)
from bench.pg_round_trips import RoundTripCounter
from bot.emulator.driver import EmulatedUser
from bot.emulator.server import BotApiEmulator

TOKEN = BotApiEmulator.default_token
ROOT = Path(__file__).resolve().parent.parent
LOG_LINE = "squat 1x5 100"


# --------------------------------------------------------------------------------------------
# The bot process
# --------------------------------------------------------------------------------------------


async def serve() -> None:
    """`motriforge run --no-scheduler`, plus the /log router until FEATURES lists it."""
    from bot.app import build_application
    from bot.handlers import FEATURES, log
    from bot.runtime import app_database, freeze_startup_objects, start_polling
    from domain.config import load_settings

    settings = load_settings()
    extra = [] if log in FEATURES else [log.router()]
    async with app_database(settings) as factory:
        application = build_application(settings, factory, extra_routers=extra)
        freeze_startup_objects()
        await start_polling(application)


@asynccontextmanager
async def bot_process(command: list[str], env: dict[str, str]) -> AsyncIterator[int]:
    process = await asyncio.create_subprocess_exec(*command, env=env, cwd=ROOT)
    try:
        yield process.pid
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=20)
        except TimeoutError:
            process.kill()


async def until_polling(emulator: BotApiEmulator, before: int) -> None:
    for _ in range(600):
        if len(emulator.calls_to("getUpdates")) > before:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the bot never polled")


def database_env(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


async def latency(users: list[EmulatedUser], count: int, text: str) -> list[float]:
    timings = []
    for index in range(count):
        user = users[index % len(users)]
        started = time.perf_counter()
        await user.send(text, wait=False)
        await user.wait_for(timeout=30)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def burst(users: list[EmulatedUser], per_user: int, text: str) -> float:
    started = time.perf_counter()
    for _ in range(per_user):
        for user in users:
            await user.send(text, wait=False)

    async def answered(user: EmulatedUser) -> None:
        for _ in range(per_user):
            await user.wait_for(timeout=120)

    await asyncio.gather(*(answered(user) for user in users))
    return len(users) * per_user / (time.perf_counter() - started)


async def measure(
    label: str, pid: int, users: list[EmulatedUser], text: str, args: argparse.Namespace
) -> dict[str, float]:
    timings = await latency(users, args.latency, text)
    cpu_before = cpu_seconds(pid)
    rate = await burst(users, 3, text)
    cpu = (cpu_seconds(pid) - cpu_before) / (len(users) * 3) * 1000
    result = {
        "p50": percentile(timings, 0.5),
        "p99": percentile(timings, 0.99),
        "rate": rate,
        "cpu": cpu,
        "rss": rss_mib(pid),
    }
    print(
        f"{label}: latency p50={result['p50']:.2f} ms p99={result['p99']:.2f} ms "
        f"(n={len(timings)}), burst {rate:.0f} updates/s ({len(users) * 3} updates from "
        f"{len(users)} users), bot CPU {cpu:.2f} ms/update, RSS {result['rss']:.0f} MiB",
        flush=True,
    )
    return result


def people(emulator: BotApiEmulator, prefix: str, base: int, count: int) -> list[EmulatedUser]:
    return [emulator.user(f"{prefix}{i}", user_id=base + i) for i in range(count)]


async def round_trips(
    emulator: BotApiEmulator,
    server_url: URL,
    env: dict[str, str],
    args: argparse.Namespace,
    prefix: str,
    base: int,
) -> collections.Counter[tuple[int, str]]:
    """Round trips per free-text set, every user seen once before."""
    host, port = server_url.host or "127.0.0.1", server_url.port or 5432
    async with RoundTripCounter(host, port) as counter:
        url = server_url.set(host=counter.host, port=counter.port, database=env["BENCH_DB"])
        proxied = {**env, "DATABASE_URL": database_env(url)}
        before = len(emulator.calls_to("getUpdates"))
        async with bot_process([sys.executable, "-m", "bench.free_text_bench", "--serve"], proxied):
            await until_polling(emulator, before)
            users = people(emulator, prefix, base, args.users)
            await latency(users, len(users), LOG_LINE)  # first contact: user rows, session
            seen: collections.Counter[tuple[int, str]] = collections.Counter()
            for index in range(args.count):
                user = users[index % len(users)]
                start, kinds = counter.round_trips, len(counter.statements)
                await user.send(LOG_LINE, wait=False)
                reply = await user.wait_for(timeout=30)
                assert reply.text.startswith("✓ Back Squat"), reply
                await asyncio.sleep(0.05)  # the unit of work closes after the reply
                seen[(counter.round_trips - start, "".join(counter.statements[kinds:]))] += 1
    return seen


async def long_history(url: URL) -> list[str]:
    """The log statement alone (on the driver, as the bot runs it) for an athlete with three
    years of history: 548 sessions of 8 squat and 8 other sets (8,768 sets), every other day.
    What grows with the log is read through indexes (the previous session, the best e1RM)."""
    import asyncpg

    from domain.db import asyncpg_connect_kwargs, create_engine, session_factory
    from domain.parsing import Unit, parse_log
    from domain.services.quick_log import _LOG_BY_EXACT_NAME, log_values
    from domain.services.training_log import SetInput
    from domain.services.users import TelegramIdentity, resolve_telegram_user

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            identity = TelegramIdentity(
                telegram_user_id=7_000_000_001,
                first_name="Veteran",
                last_name=None,
                username=None,
                language_code="en",
            )
            user = await resolve_telegram_user(session, identity, default_locale="en")
            await session.commit()
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(**asyncpg_connect_kwargs(url))
    try:
        await connection.execute(
            """
            WITH s AS (
                INSERT INTO training_session (user_id, started_at, finished_at, source)
                SELECT $1, now() - make_interval(days => g),
                       now() - make_interval(days => g) + interval '1 hour', 'FREE_TEXT'
                FROM generate_series(2, 1096, 2) AS g
                RETURNING id, started_at)
            INSERT INTO logged_set (session_id, user_id, exercise_id, performed_at, set_index,
                                    reps, load_kg, is_bodyweight)
            SELECT s.id, $1,
                   CASE WHEN i <= 8 THEN (SELECT id FROM exercise WHERE code = 'back_squat')
                        ELSE (SELECT id FROM exercise WHERE code = 'conventional_deadlift') END,
                   s.started_at + make_interval(mins => i), i, 5, 60 + (i * 7) % 100, false
            FROM s, generate_series(1, 16) AS i
            """,
            user.user_id,
        )
        await connection.execute("ANALYZE logged_set; ANALYZE training_session")
        history = await connection.fetchval(
            "SELECT count(*) FROM logged_set WHERE user_id = $1", user.user_id
        )
        one_set = [
            SetInput.from_parsed(one)
            for one in parse_log("squat 1x5 100", default_unit=Unit.KG).sets
        ]
        timings = []
        for index in range(300):
            now = dt.datetime.now(dt.UTC)
            values = log_values(user.user_id, one_set, now=now, locale="en", text="squat")
            started = time.perf_counter()
            await connection.fetch(_LOG_BY_EXACT_NAME.sql, *_LOG_BY_EXACT_NAME.arguments(values))
            timings.append((time.perf_counter() - started) * 1000)
            if index % 20 == 19:  # a session of 20 sets, then the next one
                await connection.execute(
                    "UPDATE training_session SET finished_at = now() "
                    "WHERE user_id = $1 AND finished_at IS NULL",
                    user.user_id,
                )
        steady = timings[50:]
        return [
            f"log statement alone, athlete with {history} sets over three years: "
            f"p50={percentile(steady, 0.5):.2f} ms p99={percentile(steady, 0.99):.2f} ms "
            f"(n={len(steady)}, one connection, durable commit)"
        ]
    finally:
        await connection.close()


async def logged_sets(url: URL) -> int:
    from domain.db import create_engine, session_factory
    from domain.models.training_log import LoggedSet

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(LoggedSet)) or 0)
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    with server() as (server_url, where):
        async with throwaway_database(server_url, args.keep) as url:
            await prepare(url)
            for line in await machine(url):
                print(line, flush=True)
            print(f"database: {where}", flush=True)
            emulator = BotApiEmulator(max_calls=100_000)
            base_url = await emulator.start()
            env = {
                **os.environ,
                "BOT_TOKEN": TOKEN,
                "TELEGRAM_API_BASE": base_url,
                "DATABASE_URL": database_env(url),
                "BENCH_DB": url.database or "",
                "LOG_LEVEL": "WARNING",
                # Scripted people send far faster than anyone types: the flood guard (same
                # code path, limits out of reach) must not answer in the bot's place.
                "THROTTLE_BURST": "1000000",
                "THROTTLE_RATE": "1000000",
            }
            env.pop("REDIS_URL", None)

            seen = await round_trips(emulator, server_url, env, args, "rt", 6_000_000_000)
            for (count, kinds), times in sorted(seen.items()):
                print(
                    f"round trips per free-text set: {count} ({kinds}; S = extended-protocol "
                    f"Sync, Q = simple query) in {times} of {sum(seen.values())} updates",
                    flush=True,
                )

            results: dict[str, list[dict[str, float]]] = {"floor": [], "cancel": [], "log": []}
            expected = await logged_sets(url)
            for round_ in range(args.rounds):
                before = len(emulator.calls_to("getUpdates"))
                floor_command = [sys.executable, "-m", "bench.echo_bot", base_url, TOKEN]
                async with bot_process(floor_command, env) as pid:
                    await until_polling(emulator, before)
                    users = people(
                        emulator, f"f{round_}_", 5_000_000_000 + round_ * 10**6, args.users
                    )
                    await latency(users, len(users), "/cancel")
                    results["floor"].append(
                        await measure(
                            f"round {round_ + 1} floor (bare aiogram, /cancel)",
                            pid,
                            users,
                            "/cancel",
                            args,
                        )
                    )
                before = len(emulator.calls_to("getUpdates"))
                full_command = [sys.executable, "-m", "bench.free_text_bench", "--serve"]
                async with bot_process(full_command, env) as pid:
                    await until_polling(emulator, before)
                    users = people(
                        emulator, f"m{round_}_", 5_500_000_000 + round_ * 10**6, args.users
                    )
                    await latency(users, len(users), LOG_LINE)  # first contact
                    expected += len(users)
                    results["cancel"].append(
                        await measure(
                            f"round {round_ + 1} full stack, /cancel", pid, users, "/cancel", args
                        )
                    )
                    results["log"].append(
                        await measure(
                            f"round {round_ + 1} full stack, free-text set '{LOG_LINE}'",
                            pid,
                            users,
                            LOG_LINE,
                            args,
                        )
                    )
                    expected += args.latency + 3 * len(users)
            stored = await logged_sets(url)
            print(f"sets logged during the timing rounds: {stored} (expected {expected})")
            # After the timing rounds: its 8,768 sets would change the statistics they plan with.
            for line in await long_history(url):
                print(line, flush=True)
            medians = {
                name: {key: median(r[key] for r in runs) for key in runs[0]}
                for name, runs in results.items()
            }
            for name, result in medians.items():
                print(
                    f"median {name}: p50={result['p50']:.2f} ms p99={result['p99']:.2f} ms "
                    f"burst {result['rate']:.0f} updates/s, bot CPU {result['cpu']:.2f} "
                    f"ms/update, RSS {result['rss']:.0f} MiB",
                    flush=True,
                )
            floor, log = medians["floor"], medians["log"]
            print(
                f"ratio free-text set / floor (medians of {args.rounds} rounds): "
                f"p50 {log['p50'] / floor['p50']:.2f}x, p99 {log['p99'] / floor['p99']:.2f}x, "
                f"throughput {floor['rate'] / log['rate']:.2f}x, "
                f"bot CPU per update {log['cpu'] / floor['cpu']:.2f}x",
                flush=True,
            )
            await emulator.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="run the bot (internal)")
    parser.add_argument("--latency", type=int, default=400, help="sequential round trips")
    parser.add_argument("--users", type=int, default=100, help="simulated people per bot")
    parser.add_argument("--count", type=int, default=200, help="updates whose round trips count")
    parser.add_argument("--rounds", type=int, default=3, help="floor/full pairs (medians)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    arguments = parser.parse_args()
    asyncio.run(serve() if arguments.serve else main(arguments))
