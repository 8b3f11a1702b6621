"""Coaching screens benchmark (issue #8): a page of the ``/clients`` roster for a coach with 300
active clients, and pages of the ``/programs`` library for a user who can see ~20,000 programs.

    python -m bench.coaching_bench [--runs 30] [--clients 300] [--others 1000]
                                   [--past-days 0] [--programs 100000] [--explain] [--keep]

The database is a throwaway one (`mf_bench_<random>`) on the server of TEST_DATABASE_URL, else
on 127.0.0.1:5432 when something answers there, else on an embedded PostgreSQL; dropped at the
end (unless --keep). Data, set-based (INSERT … SELECT generate_series) except the assignments:

* Roster: the measured coach (COACH role) with ``--clients`` ACTIVE relations (consent: every
  key), 40 ENDED ones and 5 open links; clients in 8 time zones, each following one of the
  coach's 6 PRIVATE programs (12 weeks, 4 training days a week: days 0, 1, 3, 5), assigned with
  ``assignments.start_program`` (instance row, READ grants, the "assigned" notification) 28–35
  days before; history from the start (and ``--past-days`` before it, same weekly pattern): a
  finished session on ~80 % of the scheduled days and ~15 % of the rest days, soreness on
  ~90 % of them, 4 logged sets each; one client in ten stopped training 6 days ago.
  ``--others`` athletes of 10 other coaches, same history (their assignments inserted
  directly, no instance row), so the log tables are not just the coach's.
* Library: ``--programs`` programs over two years, newest first, for a member of one of 50
  institutions: 2 % SYSTEM (no owner), 15 % PUBLIC of others, 3 % INSTITUTION in the user's
  institution, 0.5 % their own PRIVATE ones, 100 PRIVATE ones of others they co-own
  (USER_OWNERSHIP), and — invisible to them — 10 % INSTITUTION of other institutions and the
  rest PRIVATE of others. Titles "<word> <kind> <n>" (10 words: a word matches ~10 %),
  "Kettlebell Complex <n>" in 0.2 %; four difficulty levels, uniform.

Measured (the first execution reported apart, then 5 not kept — PostgreSQL may switch to a
generic plan after five executions —, then ``--runs``): ``compliance.roster`` on the first and
the middle page, and ``coaching.clients_home`` (what /clients runs: may_invite + roster +
has_coach), each in its own transaction; ``program_library.library_page`` with a new
``AccessCache`` per call (as the handler: the policies, then the page). Statements are
counted with SQLAlchemy's ``before_cursor_execute``; round trips of one roster page through
``bench/pg_round_trips.py``; the Python cost of building the statements apart. Engine as the
bot's (``bot.runtime.app_engine_kwargs``: JIT off, no pre-ping). Results go to stdout;
docs/benchmarks.md records them.
"""

# Only constants and generated ids are formatted into the data SQL (S608).
# ruff: noqa: S608

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.common import machine, percentile, prepare, server, throwaway_database
from bench.pg_round_trips import RoundTripCounter
from bot.runtime import app_engine_kwargs
from domain.access import AccessCache, Action, Actor, literal_limit, load_policies, visible
from domain.db import asyncpg_connect_kwargs, create_engine, session_factory
from domain.models.program import Program
from domain.services import assignments, coaching, compliance
from domain.services.program_library import FacetKind, LibraryFilter, LibraryScope, library_page

NOW = dt.datetime(2032, 6, 16, 12, 0, tzinfo=dt.UTC)  # a Wednesday noon (UTC)
ZONES = (
    "Europe/Paris",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Asia/Kolkata",
    "UTC",
)
# fmt: off
NAMES = (
    "Ada", "Bo", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kai", "Lea", "Max",
    "Noa", "Oli", "Pia", "Quin", "Ray", "Sam", "Tea", "Uma", "Vic", "Wes", "Xia", "Yan", "Zoe",
    "Ali", "Ben", "Cleo", "Dan", "Ema", "Finn", "Gia", "Hugo", "Ines", "Jules", "Kim", "Lou",
    "Mia", "Nils",
)
# fmt: on
COACH_PROGRAMS = 6
OTHER_COACHES = 10
WEEKS = 12
TRAINING_DAYS = (0, 1, 3, 5)  # of each week of the schedule
INSTITUTIONS = 50
EXERCISES = ("back_squat", "barbell_bench_press", "barbell_row", "overhead_press")
COACH_TELEGRAM = 1
LIBRARY_TELEGRAM = 2
LIBRARY_SEARCHES = (
    ("library: first page", LibraryFilter()),
    ("library: search 'hypertrophy' (~10 % of titles)", LibraryFilter(text="hypertrophy")),
    (
        "library: difficulty ADVANCED (~25 %)",
        LibraryFilter(facet=FacetKind.DIFFICULTY, facet_code="ADVANCED"),
    ),
    ("library: search 'kettlebell' (0.2 % of titles)", LibraryFilter(text="kettlebell")),
    ("library: search 'zumba' (no title matches)", LibraryFilter(text="zumba")),
    ("library: scope 'mine', first page", LibraryFilter(scope=LibraryScope.MINE)),
)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def people_sql(clients: int, others: int) -> str:
    """Users, roles, relations, institutions and the coaches' programs."""
    zones = ", ".join(f"'{zone}'" for zone in ZONES)
    names = ", ".join(f"'{name}'" for name in NAMES)
    days = ", ".join(str(day) for day in TRAINING_DAYS)
    now = NOW.isoformat()
    athletes = clients + others
    return f"""
SELECT setseed(0.42);

CREATE TEMP TABLE b_athlete AS
SELECT g AS n, gen_random_uuid() AS id,
       (ARRAY[{zones}])[1 + g % {len(ZONES)}] AS zone,
       (ARRAY[{names}])[1 + (g * 7) % {len(NAMES)}] AS first_name,
       g <= {clients} AS client
FROM generate_series(1, {athletes}) g;
CREATE UNIQUE INDEX ON b_athlete (n);

INSERT INTO app_user (id, telegram_user_id, first_name, timezone)
VALUES (gen_random_uuid(), {COACH_TELEGRAM}, 'Coach', 'Europe/Paris'),
       (gen_random_uuid(), {LIBRARY_TELEGRAM}, 'Reader', 'Europe/Paris');
CREATE TEMP TABLE b_coach AS
SELECT g AS k, gen_random_uuid() AS id FROM generate_series(1, {OTHER_COACHES}) g;
INSERT INTO app_user (id, telegram_user_id, first_name, timezone)
SELECT id, 100 + k, 'Other coach ' || k, 'UTC' FROM b_coach;
INSERT INTO b_coach SELECT 0, id FROM app_user WHERE telegram_user_id = {COACH_TELEGRAM};
INSERT INTO app_user (id, telegram_user_id, first_name, last_name, timezone)
SELECT id, 1000000 + n, first_name, 'Athlete' || n, zone FROM b_athlete;

INSERT INTO user_role (user_id, role_id, updated_by)
SELECT u.id, r.id, u.id FROM app_user u JOIN role r ON r.code = 'MEMBER'
WHERE r.institution_id IS NULL;
INSERT INTO user_role (user_id, role_id, updated_by)
SELECT c.id, r.id, c.id FROM b_coach c JOIN role r ON r.code = 'COACH'
WHERE r.institution_id IS NULL;

-- The measured coach's clients: ACTIVE, consent for every key.
INSERT INTO user_professional_customer_relation
    (id, professional_id, customer_id, relation_type, status, consent_scope, consented_at)
SELECT gen_random_uuid(), c.id, a.id, 'COACH', 'ACTIVE',
       '{{"logs": true, "charts": true, "soreness": true, "goals": true, "programs": true}}',
       CAST('{now}' AS timestamptz) - interval '40 days'
FROM b_athlete a JOIN b_coach c ON c.k = 0 WHERE a.client;
-- Clients who left, and links nobody opened yet.
INSERT INTO user_professional_customer_relation
    (id, professional_id, customer_id, relation_type, status, consent_scope, consented_at,
     ended_at, ended_by)
SELECT gen_random_uuid(), c.id, a.id, 'COACH', 'ENDED', '{{"logs": true}}',
       CAST('{now}' AS timestamptz) - interval '200 days',
       CAST('{now}' AS timestamptz) - interval '60 days', a.id
FROM b_athlete a JOIN b_coach c ON c.k = 0 WHERE NOT a.client AND a.n <= {clients} + 40;
INSERT INTO user_professional_customer_relation
    (id, professional_id, relation_type, status, consent_scope, invite_token, invite_expires_at)
SELECT gen_random_uuid(), c.id, 'COACH', 'PENDING', '{{"logs": true}}', md5('link' || g),
       CAST('{now}' AS timestamptz) + interval '3 days'
FROM b_coach c, generate_series(1, 5) g WHERE c.k = 0;
-- The other athletes follow one of the other coaches.
INSERT INTO user_professional_customer_relation
    (id, professional_id, customer_id, relation_type, status, consent_scope, consented_at)
SELECT gen_random_uuid(), c.id, a.id, 'COACH', 'ACTIVE',
       '{{"logs": true, "soreness": true, "programs": true}}',
       CAST('{now}' AS timestamptz) - interval '40 days'
FROM b_athlete a JOIN b_coach c ON c.k = 1 + a.n % {OTHER_COACHES} WHERE NOT a.client;

-- Institutions; athlete n is a member of institution 1 + n % {INSTITUTIONS}.
CREATE TEMP TABLE b_inst AS
SELECT g AS n, gen_random_uuid() AS id FROM generate_series(1, {INSTITUTIONS}) g;
INSERT INTO institution (id, name, slug, visibility_id)
SELECT b.id, 'Gym ' || b.n, 'gym-' || b.n,
       (SELECT id FROM visibility WHERE resource_type = 'INSTITUTION' AND code = 'PUBLIC')
FROM b_inst b;
INSERT INTO institution_member (id, institution_id, user_id, is_active)
SELECT gen_random_uuid(), i.id, a.id, true
FROM b_athlete a JOIN b_inst i ON i.n = 1 + a.n % {INSTITUTIONS};
INSERT INTO institution_member (id, institution_id, user_id, is_active)
SELECT gen_random_uuid(), i.id, u.id, true
FROM app_user u JOIN b_inst i ON i.n = 1 WHERE u.telegram_user_id = {LIBRARY_TELEGRAM};

-- Programs of the coaches (k = 0: the measured one, 6 programs; the others one each):
-- 12 weeks, 4 workouts on days {days} of each week, PRIVATE.
CREATE TEMP TABLE b_program AS
SELECT c.k, p AS n, gen_random_uuid() AS id, gen_random_uuid() AS schedule_id, c.id AS owner_id
FROM b_coach c
CROSS JOIN LATERAL generate_series(1, CASE WHEN c.k = 0 THEN {COACH_PROGRAMS} ELSE 1 END) p;
CREATE TEMP TABLE b_workout AS
SELECT p.id AS program_id, x AS slot, gen_random_uuid() AS id, p.owner_id
FROM b_program p, generate_series(0, {len(TRAINING_DAYS) - 1}) x;
INSERT INTO workout (id, owner_id, name, difficulty_level_id, visibility_id)
SELECT w.id, w.owner_id, 'Block ' || p.n || ' day ' || chr(65 + w.slot),
       (SELECT id FROM difficulty_level ORDER BY rank LIMIT 1),
       (SELECT id FROM visibility WHERE resource_type = 'WORKOUT' AND code = 'PRIVATE')
FROM b_workout w JOIN b_program p ON p.id = w.program_id;
INSERT INTO program (id, owner_id, title, description, difficulty_level_id, visibility_id,
                     duration_weeks, created_at)
SELECT p.id, p.owner_id, 'Coach block ' || p.k || '.' || p.n, 'bench',
       (SELECT id FROM difficulty_level ORDER BY rank LIMIT 1),
       (SELECT id FROM visibility WHERE resource_type = 'PROGRAM' AND code = 'PRIVATE'),
       {WEEKS}, CAST('{now}' AS timestamptz) - interval '100 days'
FROM b_program p;
INSERT INTO program_schedule (id, program_id, schedule_length_days)
SELECT schedule_id, id, {WEEKS * 7} FROM b_program;
INSERT INTO schedule_workout (id, program_schedule_id, workout_id, day_number, order_index)
SELECT gen_random_uuid(), p.schedule_id, w.id, week * 7 + (ARRAY[{days}])[1 + w.slot], 0
FROM b_program p
JOIN b_workout w ON w.program_id = p.id
CROSS JOIN generate_series(0, {WEEKS - 1}) week;

-- The other athletes' assignments, inserted directly (no instance row: the program's only
-- schedule from start_date), started 28-35 days ago.
INSERT INTO user_program (id, user_id, program_id, start_date, assigned_by, assigned_at)
SELECT gen_random_uuid(), a.id, p.id,
       CAST(CAST('{now}' AS timestamptz) AT TIME ZONE a.zone AS date) - (28 + a.n % 8),
       p.owner_id, CAST('{now}' AS timestamptz) - interval '36 days'
FROM b_athlete a JOIN b_program p ON p.k = 1 + a.n % {OTHER_COACHES}
WHERE NOT a.client;
INSERT INTO user_program_progress (user_program_id, current_day_number)
SELECT up.id, 0 FROM user_program up JOIN b_athlete a ON a.id = up.user_id;
"""


def history_sql(past_days: int) -> str:
    """Sessions, soreness and sets for every athlete, from ``past_days`` before their
    assignment's start (same weekly pattern) to now."""
    days = ", ".join(str(day) for day in TRAINING_DAYS)
    codes = ", ".join(f"'{code}'" for code in EXERCISES)
    now = NOW.isoformat()
    return f"""
SELECT setseed(0.43);
CREATE TEMP TABLE b_day AS
SELECT a.id AS user_id, a.n, a.zone, CAST(d AS date) AS day, CAST(d AS date) - up.start_date
       AS day_number, CAST(CAST('{now}' AS timestamptz) AT TIME ZONE a.zone AS date) AS today
FROM b_athlete a
JOIN user_program up ON up.user_id = a.id AND up.is_active
CROSS JOIN LATERAL generate_series(
    up.start_date - {past_days}, CAST(CAST('{now}' AS timestamptz) AT TIME ZONE a.zone AS date),
    interval '1 day') AS d;

INSERT INTO training_session (id, user_id, started_at, finished_at, soreness, source)
SELECT gen_random_uuid(), s.user_id, s.at, s.at + interval '65 minutes',
       CASE WHEN random() < 0.9 THEN (random() * 10)::int END, 'FREE_TEXT'
FROM (
    SELECT b.*, (b.day + make_time(6 + b.n % 14, (b.n * 7) % 60, 0)) AT TIME ZONE b.zone AS at
    FROM b_day b
) AS s
WHERE (((s.day_number % 7 + 7) % 7 IN ({days}) AND random() < 0.8)
       OR ((s.day_number % 7 + 7) % 7 NOT IN ({days}) AND random() < 0.15))
  AND NOT (s.n % 10 = 0 AND s.day > s.today - 6)  -- one in ten stopped 6 days ago
  AND s.at + interval '65 minutes' < CAST('{now}' AS timestamptz);

INSERT INTO logged_set (id, session_id, user_id, exercise_id, performed_at, set_index, reps,
                        load_kg, rpe)
SELECT gen_random_uuid(), s.id, s.user_id, e.ids[1 + x], s.started_at
       + make_interval(mins => x * 10), x, 3 + (random() * 7)::int,
       round((40 + random() * 60)::numeric, 1), round((6 + random() * 3)::numeric, 1)
FROM training_session s
JOIN b_athlete a ON a.id = s.user_id
CROSS JOIN (SELECT array_agg(id ORDER BY array_position(ARRAY[{codes}], code)) AS ids
            FROM exercise WHERE code IN ({codes})) AS e
CROSS JOIN generate_series(0, {len(EXERCISES) - 1}) x;
"""


def library_sql(programs: int) -> str:
    """The library: programs of every kind over two years (see the module docstring)."""
    now = NOW.isoformat()
    words = ", ".join(
        f"'{word}'"
        for word in (
            "Strength",
            "Hypertrophy",
            "Powerbuilding",
            "Conditioning",
            "Mobility",
            "Marathon",
            "Beginner",
            "Upper/Lower",
            "Push Pull Legs",
            "Full Body",
        )
    )
    return f"""
SELECT setseed(0.44);
CREATE TEMP TABLE b_kind AS
SELECT * FROM (VALUES
    -- kind, [low, high) of a 0-999 hash, visibility, whose
    ('system', 0, 20, 'SYSTEM'), ('public', 20, 170, 'PUBLIC'),
    ('my institution', 170, 200, 'INSTITUTION'), ('mine', 200, 205, 'PRIVATE'),
    ('other institution', 205, 305, 'INSTITUTION'), ('private', 305, 1000, 'PRIVATE'))
    AS k(kind, low, high, visibility);
CREATE TEMP TABLE b_lib AS
SELECT g AS n, gen_random_uuid() AS id, k.kind, k.visibility,
       2 + abs(hashtext('i' || g)) % {INSTITUTIONS - 1} AS other_inst
FROM generate_series(1, {programs}) g
JOIN b_kind k ON abs(hashtext('b' || g)) % 1000 >= k.low
             AND abs(hashtext('b' || g)) % 1000 < k.high;
CREATE TEMP TABLE b_level AS
SELECT row_number() OVER (ORDER BY rank) - 1 AS k, id FROM difficulty_level;

INSERT INTO program (id, owner_id, institution_id, title, description, difficulty_level_id,
                     visibility_id, duration_weeks, created_at, updated_at)
SELECT l.id,
       CASE l.kind
           WHEN 'system' THEN NULL
           WHEN 'mine' THEN (SELECT id FROM app_user WHERE telegram_user_id = {LIBRARY_TELEGRAM})
           -- athlete n is a member of institution 1 + n % {INSTITUTIONS}
           WHEN 'my institution' THEN (SELECT id FROM b_athlete
                                       WHERE n = {INSTITUTIONS} * (1 + l.n % 20))
           WHEN 'other institution' THEN (SELECT id FROM b_athlete
                                          WHERE n = l.other_inst - 1 + {INSTITUTIONS} * (l.n % 20))
           ELSE (SELECT id FROM b_athlete
                 WHERE n = 1 + (l.n * 7919) % (SELECT count(*) FROM b_athlete))
       END,
       CASE l.kind
           WHEN 'my institution' THEN (SELECT id FROM b_inst WHERE n = 1)
           WHEN 'other institution' THEN (SELECT id FROM b_inst WHERE n = l.other_inst)
       END,
       CASE WHEN abs(hashtext('r' || l.n)) % 500 = 0 THEN 'Kettlebell Complex ' || l.n
            ELSE (ARRAY[{words}])[1 + abs(hashtext('w' || l.n)) % 10] || ' '
                 || (ARRAY['Block', 'Cycle', 'Plan', 'Program', 'Phase'])[1 + l.n % 5]
                 || ' ' || l.n
       END,
       'program ' || l.n,
       (SELECT id FROM b_level WHERE k = abs(hashtext('d' || l.n)) % 4),
       (SELECT id FROM visibility WHERE resource_type = 'PROGRAM' AND code = l.visibility),
       4 + l.n % 13,
       CAST('{now}' AS timestamptz) - l.n * interval '10 minutes',
       CAST('{now}' AS timestamptz) - l.n * interval '10 minutes'
FROM b_lib l;

-- 100 PRIVATE programs of others the reader co-owns.
CREATE TEMP TABLE b_own AS
SELECT gen_random_uuid() AS id, l.id AS program_id FROM b_lib l
WHERE l.kind = 'private' ORDER BY abs(hashtext('o' || l.n)) LIMIT 100;
INSERT INTO user_ownership (id, user_id, is_primary_owner, can_edit)
SELECT o.id, u.id, false, true FROM b_own o
JOIN app_user u ON u.telegram_user_id = {LIBRARY_TELEGRAM};
INSERT INTO user_program_ownership (id, program_id) SELECT id, program_id FROM b_own;
"""


async def build(url: URL, arguments: argparse.Namespace) -> tuple[dict[str, float], list[str]]:
    timings: dict[str, float] = {}
    began = time.perf_counter()
    await prepare(url)
    timings["migrate + reference data"] = time.perf_counter() - began
    connection = await asyncpg.connect(**asyncpg_connect_kwargs(url))
    try:
        began = time.perf_counter()
        await connection.execute(people_sql(arguments.clients, arguments.others))
        timings["users, relations, coaches' programs"] = time.perf_counter() - began
        began = time.perf_counter()
        await assign(url, connection)
        timings[f"start_program × {arguments.clients}"] = time.perf_counter() - began
        began = time.perf_counter()
        await connection.execute(history_sql(arguments.past_days))
        timings["history (sessions, sets)"] = time.perf_counter() - began
        began = time.perf_counter()
        await connection.execute(library_sql(arguments.programs))
        timings["library programs"] = time.perf_counter() - began
        began = time.perf_counter()
        await connection.execute("VACUUM ANALYZE")
        timings["VACUUM ANALYZE"] = time.perf_counter() - began
        counts = await connection.fetchrow(
            """
            SELECT (SELECT count(*) FROM app_user) AS users,
                   (SELECT count(*) FROM user_professional_customer_relation) AS relations,
                   (SELECT count(*) FROM user_program) AS assignments,
                   (SELECT count(*) FROM training_session) AS sessions,
                   (SELECT count(*) FROM logged_set) AS sets,
                   (SELECT count(*) FROM training_session s
                    JOIN user_professional_customer_relation r ON r.customer_id = s.user_id
                    JOIN app_user c ON c.id = r.professional_id AND c.telegram_user_id = $1
                    WHERE r.status = 'ACTIVE') AS client_sessions,
                   (SELECT count(*) FROM program) AS programs,
                   (SELECT count(*) FROM user_ownership) AS ownerships
            """,
            COACH_TELEGRAM,
        )
    finally:
        await connection.close()
    facts = [
        f"users {counts['users']}, relations {counts['relations']},"
        f" assignments {counts['assignments']}, user_ownership rows {counts['ownerships']}",
        f"sessions {counts['sessions']} ({counts['client_sessions']} of the coach's clients),"
        f" logged sets {counts['sets']}, programs {counts['programs']}",
    ]
    return timings, facts


async def assign(url: URL, connection: asyncpg.Connection) -> None:
    """Each client starts one of the coach's programs 28-35 days ago (their local date), through
    the service, as the coach's assign button does."""
    coach_id = await connection.fetchval(
        "SELECT id FROM app_user WHERE telegram_user_id = $1", COACH_TELEGRAM
    )
    programs = [
        row["id"]
        for row in await connection.fetch(
            "SELECT id FROM program WHERE owner_id = $1 ORDER BY title", coach_id
        )
    ]
    clients = await connection.fetch("SELECT id, n, zone FROM b_athlete WHERE client ORDER BY n")
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            for client in clients:
                local_today = NOW.astimezone(ZoneInfo(client["zone"])).date()
                await assignments.start_program(
                    session,
                    user_id=client["id"],
                    program_id=programs[client["n"] % len(programs)],
                    start_date=local_today - dt.timedelta(days=28 + client["n"] % 8),
                    assigned_by=coach_id,
                    now=NOW - dt.timedelta(days=36),
                )
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def line(label: str, first: float, values: list[float], statements: set[int], extra: str) -> str:
    counted = "/".join(str(count) for count in sorted(statements))
    return (
        f"{label}: n={len(values)} p50={percentile(values, 0.5):.1f} ms"
        f" p95={percentile(values, 0.95):.1f} ms max={max(values):.1f} ms"
        f" (first execution {first:.1f} ms); statements per call: {counted}; {extra}"
    )


async def timed(
    engine: AsyncEngine,
    call: Callable[[AsyncSession], Awaitable[str]],
    runs: int,
    warm: int,
) -> tuple[float, list[float], set[int], str]:
    """``call`` in its own session and transaction: the first execution, ``warm`` more not
    kept, then ``runs`` timed ones. The extra text ends with the plans PostgreSQL used for the
    call's largest statement (the page) on its prepared statement (asyncpg caches them)."""
    factory = session_factory(engine)
    values: list[float] = []
    counts: set[int] = set()
    first = 0.0
    extra = ""
    page = ""
    for index in range(1 + warm + runs):
        async with factory() as session, session.begin():
            with counting(engine) as statements:
                began = time.perf_counter()
                extra = await call(session)
                elapsed = (time.perf_counter() - began) * 1000
        counts.add(len(statements))
        page = max(statements, key=len)
        if index == 0:
            first = elapsed
        elif index > warm:
            values.append(elapsed)
    async with factory() as session:
        plans = (
            await session.execute(
                text(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                    " WHERE statement = :page"
                ),
                {"page": page},
            )
        ).first()
    if plans is not None:
        extra += f"; page statement: {plans[0]} generic / {plans[1]} custom plans"
    return first, values, counts, extra


async def python_side(
    engine: AsyncEngine, coach_id: uuid.UUID, reader_id: uuid.UUID, runs: int
) -> list[str]:
    """What the statements cost in Python before they reach the driver: building the
    expression (the access engine's CTEs and rules) and SQLAlchemy's cache key (computed on
    every execution; the SQL string itself is compiled once and cached)."""
    async with session_factory(engine)() as session:
        policies = await load_policies(session)
    roster: list[float] = []
    library: list[float] = []
    for index in range(runs + 1):
        began = time.perf_counter()
        compliance._statement(coach_id, None, 0)._generate_cache_key()
        built = time.perf_counter()
        predicate = visible(Actor(reader_id), "PROGRAM", Action.READ, now=NOW, policies=policies)
        select(Program.id).where(predicate).limit(literal_limit(9))._generate_cache_key()
        ended = time.perf_counter()
        if index:
            roster.append((built - began) * 1000)
            library.append((ended - built) * 1000)
    return [
        f"Python side, roster statement built + cache key: n={runs}"
        f" p50={percentile(roster, 0.5):.1f} ms p95={percentile(roster, 0.95):.1f} ms",
        f"Python side, visible(PROGRAM) built + cache key of a select on it: n={runs}"
        f" p50={percentile(library, 0.5):.1f} ms p95={percentile(library, 0.95):.1f} ms",
    ]


async def ids(engine: AsyncEngine) -> tuple[uuid.UUID, uuid.UUID]:
    async with engine.connect() as connection:
        result = await connection.execute(
            text("SELECT telegram_user_id, id FROM app_user WHERE telegram_user_id IN (:a, :b)"),
            {"a": COACH_TELEGRAM, "b": LIBRARY_TELEGRAM},
        )
        rows: dict[int, uuid.UUID] = {row[0]: row[1] for row in result}
    return rows[COACH_TELEGRAM], rows[LIBRARY_TELEGRAM]


async def roster_facts(engine: AsyncEngine, coach_id: uuid.UUID) -> tuple[list[str], int]:
    """Every page once: how many clients, pages, and what the roster says about them."""
    factory = session_factory(engine)
    rows: list[compliance.ClientCompliance] = []
    page = 0
    async with factory() as session:
        while True:
            found = await compliance.roster(session, coach_id=coach_id, now=NOW, page=page)
            rows.extend(found.clients)
            if not found.has_next:
                break
            page += 1
    months = [row.month.percent for row in rows if row.month and row.month.percent is not None]
    weeks = [row.week.scheduled for row in rows if row.week]
    return [
        f"roster: {len(rows)} clients on {page + 1} pages of {compliance.PAGE_SIZE};"
        f" 30-day completion mean {sum(months) / len(months):.0f} %"
        f" (min {min(months)} %, max {max(months)} %), scheduled days in the last 7:"
        f" {min(weeks)}-{max(weeks)}; inactive {sum(row.inactive for row in rows)},"
        f" sore {sum(row.sore for row in rows)}, needs attention"
        f" {sum(row.needs_attention for row in rows)}, soreness trend known for"
        f" {sum(row.trend is not None for row in rows)}"
    ], page + 1


async def measure_roster(
    engine: AsyncEngine, coach_id: uuid.UUID, clients: int, runs: int, warm: int
) -> list[str]:
    lines: list[str] = []
    middle = -(-clients // compliance.PAGE_SIZE) // 2
    for label, page in (("roster: first page", 0), (f"roster: page {middle + 1}", middle)):

        async def call(session: AsyncSession, page: int = page) -> str:
            found = await compliance.roster(session, coach_id=coach_id, now=NOW, page=page)
            return f"{len(found.clients)} rows"

        lines.append(line(label, *await timed(engine, call, runs, warm)))

    async def home(session: AsyncSession) -> str:
        found = await coaching.clients_home(session, user_id=coach_id, now=NOW)
        assert found.roster is not None
        return f"{len(found.roster.clients)} rows"

    lines.append(
        line(
            "/clients (clients_home: roster + 2 checks), first page",
            *await timed(engine, home, runs, warm),
        )
    )
    facts, _pages = await roster_facts(engine, coach_id)
    return facts + lines


async def round_trips(server_url: URL, database: str, coach_id: uuid.UUID) -> str:
    """Round trips of one roster page in its own transaction, counted on the wire."""
    host, port = server_url.host or "127.0.0.1", server_url.port or 5432
    async with RoundTripCounter(host, port) as counter:
        url = server_url.set(host=counter.host, port=counter.port, database=database)
        engine = create_engine(url, **app_engine_kwargs())
        try:
            factory = session_factory(engine)
            seen: list[str] = []
            for _ in range(3):
                before = len(counter.statements)
                async with factory() as session, session.begin():
                    await compliance.roster(session, coach_id=coach_id, now=NOW, page=0)
                seen.append("".join(counter.statements[before:]))
        finally:
            await engine.dispose()
    return (
        f"roster page round trips on the wire (S = extended-protocol Sync, Q = simple query),"
        f" three transactions after connecting: {', '.join(seen)}"
    )


async def measure_library(
    engine: AsyncEngine, reader_id: uuid.UUID, runs: int, warm: int
) -> list[str]:
    lines: list[str] = []
    async with session_factory(engine)() as session:
        visible_count = await session.scalar(
            select(func.count())
            .select_from(Program)
            .where(visible(Actor(reader_id), "PROGRAM", Action.READ), Program.is_active)
        )
        total = await session.scalar(select(func.count()).select_from(Program))
    lines.append(f"library: the reader may read {visible_count} of {total} programs")
    for label, wanted in LIBRARY_SEARCHES:

        async def call(session: AsyncSession, wanted: LibraryFilter = wanted) -> str:
            found = await library_page(
                session, reader_id, wanted, locale="en", cache=AccessCache(now=NOW)
            )
            return f"{len(found.rows)} rows" + (", more" if found.has_more else "")

        lines.append(line(label, *await timed(engine, call, runs, warm)))
    return lines


async def explain(engine: AsyncEngine, coach_id: uuid.UUID, reader_id: uuid.UUID) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the roster's first page and of each library page: the
    statements are captured as executed, then explained with the same parameters."""
    lines: list[str] = []
    factory = session_factory(engine)
    captured: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        captured.append((statement, parameters))

    def roster_page(session: AsyncSession) -> Awaitable[Any]:
        return compliance.roster(session, coach_id=coach_id, now=NOW)

    def library(wanted: LibraryFilter) -> Callable[[AsyncSession], Awaitable[Any]]:
        def call(session: AsyncSession) -> Awaitable[Any]:
            return library_page(session, reader_id, wanted, cache=AccessCache(now=NOW))

        return call

    calls: list[tuple[str, Callable[[AsyncSession], Awaitable[Any]]]] = [
        ("roster, first page", roster_page)
    ]
    calls.extend((label, library(wanted)) for label, wanted in LIBRARY_SEARCHES)
    for label, call in calls:
        captured.clear()
        async with factory() as session, session.begin():
            event.listen(engine.sync_engine, "before_cursor_execute", record)
            try:
                await call(session)
            finally:
                event.remove(engine.sync_engine, "before_cursor_execute", record)
            statement, parameters = captured[-1]
            raw = await (await session.connection()).get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            plan = await driver.fetch(
                f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *(parameters or ())
            )
        lines.append(f"EXPLAIN (ANALYZE, BUFFERS), {label}:")
        lines.extend("    " + row[0] for row in plan)
    return lines


async def main(arguments: argparse.Namespace) -> None:
    with server() as (server_url, where):
        async with throwaway_database(server_url, arguments.keep) as url:
            print(f"database: {url.database} on {where}")
            for fact in await machine(url):
                print(fact)
            print(
                f"data: {arguments.clients} clients of the measured coach, {arguments.others}"
                f" athletes of {OTHER_COACHES} other coaches, {arguments.programs} programs,"
                f" {arguments.past_days} days of history before the assignments"
            )
            timings, facts = await build(url, arguments)
            for step, seconds in timings.items():
                print(f"{step}: {seconds:.1f} s")
            for fact in facts:
                print(fact)
            engine = create_engine(url, **app_engine_kwargs())
            try:
                coach_id, reader_id = await ids(engine)
                for result in await measure_roster(
                    engine, coach_id, arguments.clients, arguments.runs, 5
                ):
                    print(result)
                print(await round_trips(server_url, url.database or "", coach_id))
                for result in await measure_library(engine, reader_id, arguments.runs, 5):
                    print(result)
                for result in await python_side(engine, coach_id, reader_id, arguments.runs):
                    print(result)
                if arguments.explain:
                    for result in await explain(engine, coach_id, reader_id):
                        print(result)
            finally:
                await engine.dispose()
            print(f"load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30, help="timed runs per measurement")
    parser.add_argument("--clients", type=int, default=300, help="the coach's active clients")
    parser.add_argument("--others", type=int, default=1000, help="athletes of other coaches")
    parser.add_argument(
        "--past-days", type=int, default=0, help="history before the assignments' start"
    )
    parser.add_argument("--programs", type=int, default=100_000, help="programs in the library")
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    arguments = parser.parse_args(argv)
    if arguments.clients + arguments.others < 20 * INSTITUTIONS:
        parser.error(f"the library's owners need --clients + --others >= {20 * INSTITUTIONS}")
    asyncio.run(main(arguments))


if __name__ == "__main__":
    cli()
