"""Notification delivery benchmark, through the local Bot API emulator:

a sender process (``python -m bot.delivery --interval …``, as the scheduler's tick would run
it) delivers rounds of N due notifications to N emulated users at the configured rate, while
the emulator enforces a global limit slightly above it (answering 429 beyond). Measured per
round: the achieved send rate (first to last accepted sendMessage, as seen by the emulator)
against the configured one, the 429s the emulator answered, the sender process's CPU time per
message, and its RSS after a warm-up round and after each round (flat memory: nothing kept per
notification).

    python -m bench.delivery_bench [--count 5000] [--rate 200] [--rounds 2] [--workers 16]
                                   [--emulator-rate R] [--redis]

The database is a throwaway one (bench/common.py), migrated and seeded; users and
notifications are inserted set-based. Results go to stdout; docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import cpu_seconds, prepare, rss_mib, server, throwaway_database
from bot.emulator.server import BotApiEmulator
from domain.db import create_engine

TOKEN = BotApiEmulator.default_token
ROOT = Path(__file__).resolve().parent.parent
FIRST_TELEGRAM_ID = 5_000_000_000

_USERS = """
INSERT INTO app_user (first_name, telegram_user_id, locale)
SELECT 'user' || g, CAST(:first AS bigint) + g, (ARRAY['en', 'fr', 'ru'])[1 + g % 3]
FROM generate_series(:start, :stop - 1) g
"""
_NOTIFICATIONS = """
INSERT INTO notification (user_id, notification_type_id, due_at, variables)
SELECT u.id, t.id, now() - interval '1 second',
       jsonb_build_object('first_name', u.first_name, 'workout_name', 'Legs', 'time', '18:00')
FROM app_user u, notification_type t
WHERE t.code = 'WORKOUT_REMINDER'
  AND u.telegram_user_id BETWEEN CAST(:low AS bigint) AND CAST(:high AS bigint)
"""
_STATUSES = """
SELECT status, count(*) FROM notification n JOIN app_user u ON u.id = n.user_id
WHERE u.telegram_user_id BETWEEN CAST(:low AS bigint) AND CAST(:high AS bigint)
GROUP BY status ORDER BY status
"""


class Clock:
    """Times at which the emulator accepted a sendMessage (wraps its single entry point)."""

    def __init__(self, emulator: BotApiEmulator) -> None:
        self.accepted: list[float] = []
        original = emulator.invoke

        async def timed(token: str, method: str, params: dict[str, Any]) -> tuple[int, Any]:
            status, body = await original(token, method, params)
            if status == 200 and method.lower() == "sendmessage":
                self.accepted.append(time.perf_counter())
            return status, body

        emulator.invoke = timed  # type: ignore[method-assign]


async def add_users(engine: AsyncEngine, emulator: BotApiEmulator, start: int, stop: int) -> None:
    for n in range(start, stop):
        emulator.user(f"d{n}", user_id=FIRST_TELEGRAM_ID + n)
    async with engine.begin() as connection:
        await connection.execute(
            text(_USERS), {"first": FIRST_TELEGRAM_ID, "start": start, "stop": stop}
        )


async def make_due(engine: AsyncEngine, start: int, stop: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text(_NOTIFICATIONS),
            {"low": FIRST_TELEGRAM_ID + start, "high": FIRST_TELEGRAM_ID + stop - 1},
        )


async def statuses(engine: AsyncEngine, start: int, stop: int) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(_STATUSES),
            {"low": FIRST_TELEGRAM_ID + start, "high": FIRST_TELEGRAM_ID + stop - 1},
        )
        return dict(rows.all())


async def deliver_round(
    engine: AsyncEngine,
    emulator: BotApiEmulator,
    clock: Clock,
    process: asyncio.subprocess.Process,
    start: int,
    stop: int,
) -> tuple[float, int, float]:
    """(achieved messages/s, 429s during the round, seconds) for users [start, stop)."""
    count = stop - start
    limited = emulator.stats(TOKEN)["rate_limited"]
    first = len(clock.accepted)
    began = time.perf_counter()
    await make_due(engine, start, stop)
    while len(clock.accepted) - first < count:
        if process.returncode is not None:
            raise RuntimeError(f"the sender exited with {process.returncode}")
        if time.perf_counter() - began > 10 * count:
            raise TimeoutError("the round did not finish")
        await asyncio.sleep(0.1)
    accepted = clock.accepted[first:]
    span = accepted[-1] - accepted[0]
    rate = (len(accepted) - 1) / span if span > 0 else float("inf")
    return rate, emulator.stats(TOKEN)["rate_limited"] - limited, time.perf_counter() - began


async def main(args: argparse.Namespace) -> None:
    emulator_rate = args.emulator_rate or args.rate * 1.05
    with server() as (server_url, where):
        async with throwaway_database(server_url, args.keep) as url:
            await prepare(url)
            engine = create_engine(url)
            emulator = BotApiEmulator(send_rate=emulator_rate, max_calls=1)
            base_url = await emulator.start()
            clock = Clock(emulator)
            env = {
                **os.environ,
                "BOT_TOKEN": TOKEN,
                "TELEGRAM_API_BASE": base_url,
                "DATABASE_URL": url.set(drivername="postgresql").render_as_string(
                    hide_password=False
                ),
                "LOG_LEVEL": "WARNING",
            }
            if not args.redis:
                env.pop("REDIS_URL", None)
            elif not env.get("REDIS_URL"):
                raise SystemExit("--redis needs REDIS_URL")
            limiter = "Redis-shared limiter" if args.redis else "in-process limiter"
            print(
                f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
                f"{platform.python_version()}; database: {where}; configured rate "
                f"{args.rate:g}/s ({limiter}), emulator limit {emulator_rate:g}/s, "
                f"{args.workers} workers",
                flush=True,
            )
            warm = min(500, args.count)
            total = warm + args.rounds * args.count
            await add_users(engine, emulator, 0, total)
            command = [
                sys.executable,
                "-m",
                "bot.delivery",
                "--interval",
                "0.2",
                "--rate",
                str(args.rate),
                "--workers",
                str(args.workers),
            ]
            process = await asyncio.create_subprocess_exec(*command, env=env, cwd=ROOT)
            try:
                rate, limited, seconds = await deliver_round(
                    engine, emulator, clock, process, 0, warm
                )
                await asyncio.sleep(1)
                baseline = rss_mib(process.pid)
                print(
                    f"warm-up: {warm} notifications, {rate:.1f} msg/s, 429s: {limited}; "
                    f"sender RSS {baseline:.1f} MiB",
                    flush=True,
                )
                start = warm
                for round_ in range(1, args.rounds + 1):
                    stop = start + args.count
                    cpu = cpu_seconds(process.pid)
                    rate, limited, seconds = await deliver_round(
                        engine, emulator, clock, process, start, stop
                    )
                    cpu_ms = (cpu_seconds(process.pid) - cpu) / args.count * 1000
                    await asyncio.sleep(1)
                    rss = rss_mib(process.pid)
                    done = await statuses(engine, start, stop)
                    print(
                        f"round {round_}: {args.count} notifications in {seconds:.1f} s, "
                        f"{rate:.1f} msg/s = {100 * rate / args.rate:.1f} % of {args.rate:g}/s, "
                        f"429s: {limited}, statuses {done}, sender CPU {cpu_ms:.2f} ms/message, "
                        f"RSS {rss:.1f} MiB "
                        f"({rss - baseline:+.1f} MiB since warm-up)",
                        flush=True,
                    )
                    start = stop
                stats = emulator.stats(TOKEN)
                print(
                    f"emulator: {stats['sent_messages']} messages, "
                    f"{stats['rate_limited']} answered 429, {stats['forbidden']} answered 403",
                    flush=True,
                )
            finally:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), timeout=20)
                except TimeoutError:
                    process.kill()
                await emulator.stop()
                await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="notifications per round")
    parser.add_argument("--rate", type=float, default=200.0, help="configured messages/s")
    parser.add_argument(
        "--emulator-rate", type=float, default=None, help="emulator limit (default rate × 1.05)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="measured rounds")
    parser.add_argument("--workers", type=int, default=16, help="sender requests in flight")
    parser.add_argument(
        "--redis", action="store_true", help="share the rate through REDIS_URL (else in-process)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database")
    asyncio.run(main(parser.parse_args()))
