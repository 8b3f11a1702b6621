"""/progress benchmark: the series queries, the records list and the three PNG charts for an
athlete with a year of training (target: under 1 s).

    python -m bench.progress_bench [--runs 15] [--others 100] [--keep]

The database is a throwaway one (`mf_bench_<random>`) on the server of TEST_DATABASE_URL, else
on 127.0.0.1:5432 when something answers there, else on an embedded PostgreSQL; dropped at the
end (unless --keep). Data, generated with set-based INSERT … SELECT generate_series: the
measured athlete plus ``--others`` athletes of the same shape (so the log table is not just
theirs), each with 52 weeks × 4 sessions × 20 sets (4 exercises × 5 sets out of 8 catalogue
lifts, loads rising through the year, soreness on every session) in Europe/Paris.

Measured per run, as the /progress handler does it: ``progress_report`` (three series
statements + records.record_list) in the request's session, then ``progress_charts`` in a
worker thread (``asyncio.to_thread``). The first run pays matplotlib's import and font cache
and is reported apart. Results go to stdout; docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import time
import uuid

from sqlalchemy import text
from sqlalchemy.engine import URL

from bench.common import machine, percentile, prepare, server, throwaway_database
from domain.db import create_engine, session_factory
from domain.services.charts import ProgressLabels, progress_charts
from domain.services.progress import progress_report
from domain.services.strength import WeightUnit
from domain.services.users import TelegramIdentity, resolve_telegram_user

NOW = dt.datetime(2032, 6, 16, 12, 0, tzinfo=dt.UTC)
TIMEZONE = "Europe/Paris"
EXERCISES = (
    "back_squat",
    "barbell_bench_press",
    "barbell_row",
    "barbell_curl",
    "conventional_deadlift",
    "overhead_press",
    "pull_up",
    "romanian_deadlift",
)
LABELS = ProgressLabels(
    e1rm_title="Estimated 1RM of your main lifts",
    e1rm_axis="Estimated 1RM (kg)",
    volume_title="Weekly sets per muscle group",
    volume_axis="Working sets",
    soreness_title="Soreness after training",
    soreness_axis="Soreness (0–10)",
    no_e1rm="-",
    no_volume="-",
    no_soreness="-",
)

_SESSIONS = """
INSERT INTO training_session (id, user_id, started_at, finished_at, soreness, source)
SELECT gen_random_uuid(), u.id, s.at, s.at + interval '70 minutes',
       (random() * 10)::int, 'FREE_TEXT'
FROM app_user AS u
CROSS JOIN LATERAL (
    SELECT CAST(:start AS timestamptz) + make_interval(days => w * 7 + d * 2, hours => 5) AS at
    FROM generate_series(0, 51) AS w, generate_series(0, 3) AS d
) AS s
WHERE u.id = ANY(:users)
"""
_SETS = """
INSERT INTO logged_set (id, session_id, user_id, exercise_id, performed_at, set_index, reps,
                        load_kg, rpe)
SELECT gen_random_uuid(), s.id, s.user_id, e.ids[1 + (day.n * 4 + x) % 8],
       s.started_at + make_interval(mins => x * 15 + k * 3), x * 5 + k,
       3 + (random() * 7)::int,
       round((40 + 4 * ((day.n * 4 + x) % 8) + day.n * 0.15 + random() * 5)::numeric, 1),
       round((6 + random() * 3)::numeric, 1)
FROM training_session AS s
CROSS JOIN LATERAL (
    SELECT (extract(epoch FROM s.started_at - CAST(:start AS timestamptz)) / 86400)::int AS n
) AS day
CROSS JOIN (SELECT array_agg(id ORDER BY array_position(:codes, code)) AS ids
            FROM exercise WHERE code = ANY(:codes)) AS e
CROSS JOIN generate_series(0, 3) AS x
CROSS JOIN generate_series(0, 4) AS k
WHERE s.user_id = ANY(:users)
"""


async def build(url: URL, others: int) -> tuple[uuid.UUID, dict[str, float]]:
    timings: dict[str, float] = {}
    began = time.perf_counter()
    await prepare(url)
    timings["migrate + reference data"] = time.perf_counter() - began
    engine = create_engine(url)
    try:
        began = time.perf_counter()
        async with session_factory(engine)() as session, session.begin():
            users = [
                (
                    await resolve_telegram_user(
                        session,
                        TelegramIdentity(telegram_user_id=900_000 + index, first_name="Bench"),
                        default_locale="en",
                        now=NOW,
                    )
                ).user_id
                for index in range(others + 1)
            ]
            start = NOW - dt.timedelta(weeks=52)
            await session.execute(text(_SESSIONS), {"start": start, "users": users})
            await session.execute(
                text(_SETS), {"start": start, "users": users, "codes": list(EXERCISES)}
            )
        timings["generate data"] = time.perf_counter() - began
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            began = time.perf_counter()
            await autocommit.execute(text("VACUUM ANALYZE"))
            timings["VACUUM ANALYZE"] = time.perf_counter() - began
            counts = (
                await autocommit.execute(
                    text(
                        "SELECT (SELECT count(*) FROM training_session),"
                        " (SELECT count(*) FROM logged_set),"
                        " (SELECT count(*) FROM logged_set WHERE user_id = :user)"
                    ),
                    {"user": users[0]},
                )
            ).one()
        print(
            f"sessions: {counts[0]}, sets: {counts[1]}, sets of the measured athlete: {counts[2]}"
        )
    finally:
        await engine.dispose()
    return users[0], timings


async def measure(url: URL, user_id: uuid.UUID, runs: int) -> list[str]:
    engine = create_engine(url)
    queries: list[float] = []
    rendering: list[float] = []
    totals: list[float] = []
    sizes: list[int] = []
    try:
        factory = session_factory(engine)
        for _ in range(runs + 1):
            async with factory() as session, session.begin():
                began = time.perf_counter()
                report = await progress_report(
                    session, user_id, timezone=TIMEZONE, now=NOW, locale="en"
                )
                queried = time.perf_counter()
            pictures = await asyncio.to_thread(progress_charts, report.data, WeightUnit.KG, LABELS)
            ended = time.perf_counter()
            queries.append((queried - began) * 1000)
            rendering.append((ended - queried) * 1000)
            totals.append((ended - began) * 1000)
            sizes = [len(picture) for picture in pictures]
    finally:
        await engine.dispose()
    points = sum(len(lift.points) for lift in report.data.lifts)
    lines = [
        f"series: {len(report.data.lifts)} lifts ({points} points),"
        f" {len(report.data.volume.groups)} muscle groups × {len(report.data.volume.weeks)} weeks,"
        f" {len(report.data.soreness)} soreness days, {len(report.records)} records;"
        f" PNG sizes {', '.join(f'{size // 1024} KiB' for size in sizes)}",
        f"first run (imports matplotlib): queries {queries[0]:.0f} ms + charts"
        f" {rendering[0]:.0f} ms = {totals[0]:.0f} ms",
    ]
    for label, values in (
        ("queries (3 series + records)", queries[1:]),
        ("3 charts (worker thread)", rendering[1:]),
        ("/progress total", totals[1:]),
    ):
        lines.append(
            f"{label}: n={len(values)} median={statistics.median(values):.0f} ms"
            f" p95={percentile(values, 0.95):.0f} ms max={max(values):.0f} ms"
        )
    return lines


async def main(arguments: argparse.Namespace) -> None:
    with server() as (server_url, where):
        async with throwaway_database(server_url, arguments.keep) as url:
            print(f"database: {url.database} on {where}")
            for line in await machine(url):
                print(line)
            user_id, timings = await build(url, arguments.others)
            for step, seconds in timings.items():
                print(f"{step}: {seconds:.1f} s")
            for line in await measure(url, user_id, arguments.runs):
                print(line)


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="measured runs after the first")
    parser.add_argument("--others", type=int, default=100, help="other athletes with a year")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    asyncio.run(main(parser.parse_args(argv)))


if __name__ == "__main__":
    cli()
