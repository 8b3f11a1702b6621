"""Bot core benchmark, through the local Bot API emulator:

1. a trivial command (/cancel with nothing to cancel) answered by `motriforge run` — the full
   middleware stack (errors, throttling, session, de-duplication, user, locale) on
   PostgreSQL — against a bare aiogram bot with no middlewares answering the same command
   (the framework floor, bench/echo_bot.py); same emulator, same machine, same run:
   sequential latency (one update in flight: p50/p99) and throughput (updates pushed at
   once by many users: updates per second);
2. memory: RSS of the `motriforge run` process after 10,000 people each started onboarding
   and left it unfinished (10,000 open conversations in the FSM storage).

    python -m bench.bot_bench [--rounds 3] [--latency 400] [--burst 3000] [--users 10000]

Each bot runs in its own process (as in production), the emulator and the simulated users in
this one. The database is a throwaway one (bench/common.py). Results go to stdout;
docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from statistics import median

from bench.common import cpu_seconds, percentile, prepare, rss_mib, server, throwaway_database
from bot.emulator.driver import EmulatedUser
from bot.emulator.server import BotApiEmulator

TOKEN = BotApiEmulator.default_token
ROOT = Path(__file__).resolve().parent.parent


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


async def latency(users: list[EmulatedUser], count: int) -> list[float]:
    """Round trips with one update in flight: push → the bot's answer arrives."""
    timings = []
    for index in range(count):
        user = users[index % len(users)]
        started = time.perf_counter()
        await user.send("/cancel", wait=False)
        await user.wait_for(timeout=30)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def throughput(users: list[EmulatedUser], per_user: int) -> float:
    """Every user sends `per_user` commands at once; updates per second until all answered."""
    started = time.perf_counter()
    for _ in range(per_user):
        for user in users:
            await user.send("/cancel", wait=False)

    async def answered(user: EmulatedUser) -> None:
        for _ in range(per_user):
            await user.wait_for(timeout=120)

    await asyncio.gather(*(answered(user) for user in users))
    return len(users) * per_user / (time.perf_counter() - started)


async def measure(
    emulator: BotApiEmulator,
    label: str,
    command: list[str],
    env: dict[str, str],
    prefix: str,
    args: argparse.Namespace,
    round_: int,
) -> dict[str, float]:
    before = len(emulator.calls_to("getUpdates"))
    async with bot_process(command, env) as pid:
        await until_polling(emulator, before)
        # Users are distinct per bot so that each meets new people (user creation included
        # in the full stack's first contact, then the steady state is measured).
        base = (9 if prefix == "f" else 8) * 10**9 + round_ * 10**7
        people = [
            emulator.user(f"{prefix}{round_}_{i}", user_id=base + i)
            for i in range(max(args.burst // 3, 1))
        ]
        await latency(people, len(people))  # warm-up: every user seen once
        timings = await latency(people, args.latency)
        cpu_before = cpu_seconds(pid)
        rate = await throughput(people, 3)
        cpu_per_update = (cpu_seconds(pid) - cpu_before) / (len(people) * 3) * 1000
        result = {
            "p50": percentile(timings, 0.5),
            "p99": percentile(timings, 0.99),
            "rate": rate,
            "cpu": cpu_per_update,
            "rss": rss_mib(pid),
        }
        print(
            f"{label}: latency p50={result['p50']:.2f} ms p99={result['p99']:.2f} ms "
            f"(n={len(timings)}), throughput {rate:.0f} updates/s "
            f"({len(people) * 3} updates from {len(people)} users), bot CPU "
            f"{cpu_per_update:.2f} ms/update, RSS {result['rss']:.0f} MiB",
            flush=True,
        )
        return result


async def memory(
    emulator: BotApiEmulator, env: dict[str, str], count: int
) -> tuple[float, float, float]:
    command = [sys.executable, "-m", "bot.cli", "run", "--no-scheduler"]
    before = len(emulator.calls_to("getUpdates"))
    async with bot_process(command, env) as pid:
        await until_polling(emulator, before)
        warm = [emulator.user(f"w{i}", user_id=7_000_000_000 + i) for i in range(50)]
        await latency(warm, 50)
        baseline = rss_mib(pid)
        started = time.perf_counter()
        people = [emulator.user(f"m{i}", user_id=7_100_000_000 + i) for i in range(count)]
        for offset in range(0, count, 500):  # waves: the emulator's queue stays small
            wave = people[offset : offset + 500]
            for person in wave:
                await person.send("/start", wait=False)
            await asyncio.gather(*(person.wait_for(timeout=300) for person in wave))
        elapsed = time.perf_counter() - started
        await asyncio.sleep(1)
        return baseline, rss_mib(pid), elapsed


async def main(args: argparse.Namespace) -> None:
    with server() as (server_url, where):
        async with throwaway_database(server_url, args.keep) as url:
            await prepare(url)
            emulator = BotApiEmulator(max_calls=100_000)
            base_url = await emulator.start()
            env = {
                **os.environ,
                "BOT_TOKEN": TOKEN,
                "TELEGRAM_API_BASE": base_url,
                "DATABASE_URL": url.set(drivername="postgresql").render_as_string(
                    hide_password=False
                ),
                "LOG_LEVEL": "WARNING",
            }
            env.pop("REDIS_URL", None)
            print(
                f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
                f"{platform.python_version()}; database: {where}",
                flush=True,
            )
            rounds: dict[str, list[dict[str, float]]] = {"floor": [], "full": []}
            for round_ in range(args.rounds):
                rounds["floor"].append(
                    await measure(
                        emulator,
                        f"round {round_ + 1} floor (bare aiogram, no middlewares)",
                        [sys.executable, "-m", "bench.echo_bot", base_url, TOKEN],
                        env,
                        "f",
                        args,
                        round_,
                    )
                )
                rounds["full"].append(
                    await measure(
                        emulator,
                        f"round {round_ + 1} motriforge run (full middleware stack)",
                        [sys.executable, "-m", "bot.cli", "run", "--no-scheduler"],
                        env,
                        "m",
                        args,
                        round_,
                    )
                )
            floor = {key: median(r[key] for r in rounds["floor"]) for key in rounds["floor"][0]}
            full = {key: median(r[key] for r in rounds["full"]) for key in rounds["full"][0]}
            for label, result in (("floor", floor), ("full", full)):
                print(
                    f"median {label}: p50={result['p50']:.2f} ms p99={result['p99']:.2f} ms "
                    f"throughput {result['rate']:.0f} updates/s, bot CPU "
                    f"{result['cpu']:.2f} ms/update, RSS {result['rss']:.0f} MiB",
                    flush=True,
                )
            print(
                f"ratio full/floor (medians of {args.rounds} rounds): "
                f"p50 {full['p50'] / floor['p50']:.2f}x, "
                f"p99 {full['p99'] / floor['p99']:.2f}x, "
                f"throughput {floor['rate'] / full['rate']:.2f}x, "
                f"bot CPU per update {full['cpu'] / floor['cpu']:.2f}x",
                flush=True,
            )
            if args.users:
                baseline, after, elapsed = await memory(emulator, env, args.users)
                print(
                    f"memory: RSS {baseline:.0f} MiB after warm-up, {after:.0f} MiB with "
                    f"{args.users} unfinished conversations ({elapsed:.0f} s to open them)",
                    flush=True,
                )
            await emulator.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=int, default=400, help="sequential round trips")
    parser.add_argument("--burst", type=int, default=3000, help="updates pushed at once")
    parser.add_argument("--users", type=int, default=10_000, help="open conversations (0: skip)")
    parser.add_argument("--rounds", type=int, default=3, help="floor/full pairs (medians)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    asyncio.run(main(parser.parse_args()))
