"""Reminder planning benchmark: one planning tick over 100,000 users whose workout reminder is
due in it, spread over 20 time zones (half- and quarter-hour offsets, both hemispheres).

    python -m bench.reminders_plan_bench [--users 100000] [--idle 0] [--explain] [--keep]

The database is a throwaway one (`mf_bench_<random>`) on the server of TEST_DATABASE_URL, else
on 127.0.0.1:5432 when something answers there, else on an embedded PostgreSQL; it is dropped
at the end (unless --keep). Data is generated with set-based INSERT … SELECT generate_series:
a coach, 7 workouts, 100 programs of 28 training days, and per user a reminder_time equal to
the local time of the due minute in their zone and an assignment started 0–6 days before;
system settings turn quiet hours off and remind every day (local times span the whole day).
`--idle N` adds N users with a program whose reminder is at another time (the planner reads
them too). Measured: the WORKOUT_REMINDER statement and its commit, the same tick again (all
already planned), a tick of every planner, and a tick in a minute where nothing is due.
Results go to stdout; docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import machine, prepare, server, throwaway_database
from domain.db import asyncpg_connect_kwargs, create_engine, session_factory
from domain.services import reminders

ZONES = (
    "Europe/Paris",
    "Europe/London",
    "Europe/Moscow",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/St_Johns",
    "Pacific/Honolulu",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dubai",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Adelaide",
    "Pacific/Auckland",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "UTC",
)
# A Wednesday noon (UTC): somewhere it is 00:45 the next day (Chatham aside), somewhere 02:00.
DUE = dt.datetime(2032, 6, 16, 12, 0, tzinfo=dt.UTC)
NOW = DUE - dt.timedelta(minutes=1)
PROGRAMS = 100
WORKOUTS = 7
DAYS = 28


def data_sql(users: int, idle: int) -> str:
    zones = ", ".join(f"'{zone}'" for zone in ZONES)
    due = DUE.isoformat()
    # Only constants are formatted in: no input reaches this SQL.
    return f"""
SELECT setseed(0.42);

CREATE TEMP TABLE b_zone AS
SELECT n, zone FROM unnest(ARRAY[{zones}]) WITH ORDINALITY AS z(zone, n);

INSERT INTO app_user (id, telegram_user_id, first_name, timezone)
VALUES (gen_random_uuid(), 1, 'Coach', 'UTC');

INSERT INTO workout (id, owner_id, name, difficulty_level_id, visibility_id)
SELECT gen_random_uuid(), (SELECT id FROM app_user WHERE telegram_user_id = 1),
       'Bench workout ' || g, (SELECT id FROM difficulty_level LIMIT 1),
       (SELECT id FROM visibility LIMIT 1)
FROM generate_series(1, {WORKOUTS}) g;

CREATE TEMP TABLE b_program AS
SELECT g AS n, gen_random_uuid() AS id, gen_random_uuid() AS schedule_id
FROM generate_series(1, {PROGRAMS}) g;

INSERT INTO program (id, owner_id, title, description, difficulty_level_id, visibility_id)
SELECT p.id, (SELECT id FROM app_user WHERE telegram_user_id = 1), 'Bench program ' || p.n,
       'bench', (SELECT id FROM difficulty_level LIMIT 1), (SELECT id FROM visibility LIMIT 1)
FROM b_program p;

INSERT INTO program_schedule (id, program_id, schedule_length_days)
SELECT p.schedule_id, p.id, {DAYS} FROM b_program p;

INSERT INTO schedule_workout (id, program_schedule_id, workout_id, day_number, order_index)
SELECT gen_random_uuid(), p.schedule_id, w.id, d, 0
FROM b_program p
CROSS JOIN generate_series(0, {DAYS - 1}) d
JOIN (SELECT id, row_number() OVER (ORDER BY name) - 1 AS k FROM workout
      WHERE name LIKE 'Bench workout %') w ON w.k = d % {WORKOUTS};

CREATE TEMP TABLE b_user AS
SELECT g AS n, gen_random_uuid() AS id, z.zone, g > {users} AS idle
FROM generate_series(1, {users + idle}) g
JOIN b_zone z ON z.n = 1 + g % {len(ZONES)};

INSERT INTO app_user (id, telegram_user_id, first_name, timezone)
SELECT id, 1000000 + n, 'Athlete ' || n, zone FROM b_user;

-- Due users: the reminder at the local time of the due minute; idle ones three hours later.
INSERT INTO user_setting_value (id, user_id, setting_id, value)
SELECT gen_random_uuid(), u.id, s.id,
       to_jsonb(to_char((CAST('{due}' AS timestamptz)
                         + CASE WHEN u.idle THEN interval '3 hours' ELSE interval '0' END)
                        AT TIME ZONE u.zone, 'HH24:MI'))
FROM b_user u CROSS JOIN setting s WHERE s.setting_key = 'reminder_time';

INSERT INTO user_program (id, user_id, program_id, start_date, assigned_by)
SELECT gen_random_uuid(), u.id, p.id,
       CAST(CAST('{due}' AS timestamptz) AT TIME ZONE u.zone AS date) - (u.n % 7),
       (SELECT id FROM app_user WHERE telegram_user_id = 1)
FROM b_user u JOIN b_program p ON p.n = 1 + u.n % {PROGRAMS};

INSERT INTO user_program_progress (user_program_id, current_day_number)
SELECT id, 0 FROM user_program;

-- Local times span the day: no quiet hours, every day a reminder day.
INSERT INTO system_setting_value (id, setting_id, value)
SELECT gen_random_uuid(), s.id, v.value
FROM setting s
JOIN (VALUES ('quiet_hours_start', '"00:00"'::jsonb),
             ('quiet_hours_end', '"00:00"'::jsonb),
             ('reminder_days', '["MON","TUE","WED","THU","FRI","SAT","SUN"]'::jsonb))
     AS v(key, value) ON v.key = s.setting_key;
"""  # noqa: S608


async def build(url: URL, users: int, idle: int) -> dict[str, float]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    await prepare(url)
    timings["migrate + reference data"] = time.perf_counter() - started
    connection = await asyncpg.connect(**asyncpg_connect_kwargs(url))
    try:
        started = time.perf_counter()
        await connection.execute(data_sql(users, idle))
        timings["generate data"] = time.perf_counter() - started
        started = time.perf_counter()
        await connection.execute("VACUUM ANALYZE")
        timings["VACUUM ANALYZE"] = time.perf_counter() - started
    finally:
        await connection.close()
    return timings


async def timed_tick(session: AsyncSession, now: dt.datetime, *, all_types: bool) -> str:
    started = time.perf_counter()
    if all_types:
        counts = await reminders.plan_reminders(session, now)
        planned = sum(counts.values())
    else:
        planned = await reminders.plan_workout_reminders(session, now)
    executed = time.perf_counter() - started
    await session.commit()
    total = time.perf_counter() - started
    detail = ""
    if all_types:
        detail = " (" + ", ".join(f"{code} {n}" for code, n in counts.items() if n) + ")"
    return f"{planned} planned{detail}: {executed:.2f} s + commit = {total:.2f} s"


async def measure(url: URL, explain: bool) -> list[str]:
    engine = create_engine(url, connect_args={"server_settings": {"jit": "off"}})
    lines = []
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            # Warm-up: the server's time zone list is read once per process.
            await reminders.plan_workout_reminders(session, NOW - dt.timedelta(hours=6))
            await session.rollback()
        async with sessions() as session:
            lines.append(
                f"WORKOUT_REMINDER tick, all due: {await timed_tick(session, NOW, all_types=False)}"
            )
        async with sessions() as session:
            again = await timed_tick(session, NOW + dt.timedelta(minutes=1), all_types=False)
            lines.append(f"WORKOUT_REMINDER tick again, already planned: {again}")
        async with sessions() as session:
            every = await timed_tick(session, NOW + dt.timedelta(minutes=2), all_types=True)
            lines.append(f"every planner, right after: {every}")
        async with sessions() as session:
            quiet = await timed_tick(session, NOW + dt.timedelta(hours=6), all_types=True)
            lines.append(f"every planner, six hours later (no reminder due): {quiet}")
        async with sessions() as session:
            rows = await session.scalar(text("SELECT count(*) FROM notification"))
            lines.append(f"notification rows: {rows}")
        if explain:
            lines.append(await explain_plan(url))
    finally:
        await engine.dispose()
    return lines


async def explain_plan(url: URL) -> str:
    """EXPLAIN ANALYZE of the WORKOUT_REMINDER statement on a fresh due minute (rolled back)."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await session.execute(text("DELETE FROM notification"))
            window = reminders.planning_window(NOW)
            result = await session.execute(
                text("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + reminders._WORKOUT_REMINDER_SQL),
                {
                    "now": NOW,
                    "unknown_zones": [],
                    "type_code": reminders.WORKOUT_REMINDER,
                    "window_start": window.start,
                    "window_end": window.end,
                },
            )
            plan = "\n".join(row[0] for row in result)
            await session.rollback()
    finally:
        await engine.dispose()
    return plan


async def main(arguments: argparse.Namespace) -> None:
    with server() as (server_url, where):
        async with throwaway_database(server_url, arguments.keep) as url:
            print(f"database: {url.database} on {where}")
            for line in await machine(url):
                print(line)
            print(
                f"users due: {arguments.users}, idle users: {arguments.idle},"
                f" {len(ZONES)} time zones, due at {DUE.isoformat()}, tick at {NOW.isoformat()}"
            )
            for step, seconds in (await build(url, arguments.users, arguments.idle)).items():
                print(f"{step}: {seconds:.1f} s")
            for line in await measure(url, arguments.explain):
                print(line)


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--users", type=int, default=100_000, help="users due in the tick")
    parser.add_argument("--idle", type=int, default=0, help="users with a program, not due")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    asyncio.run(main(parser.parse_args(argv)))


if __name__ == "__main__":
    cli()
