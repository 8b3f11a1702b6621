"""Authorization benchmark: cold `authorize` round trips and latency, and the first page of
"workouts I can see" with 10,000 users, 500 institutions, 100,000 workouts and 100,000 programs.

    python -m bench.access_bench [--runs 300] [--keep]

The database is a throwaway one (`mf_bench_<random>`) on the server of TEST_DATABASE_URL, else
on 127.0.0.1:5432 when something answers there, else on an embedded PostgreSQL; it is dropped
at the end (unless --keep). Results go to stdout; docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
from sqlalchemy import event, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.common import machine, server, summary, throwaway_database
from domain import migrate
from domain.access import (
    AccessCache,
    Actor,
    ResourceRef,
    authorize,
    literal_limit,
    load_policies,
    visible,
)
from domain.db import asyncpg_connect_kwargs, create_engine, session_factory
from domain.models.workout import Workout
from domain.reference.loader import load_reference_data

USERS = 10_000
INSTITUTIONS = 500
WORKOUTS = 100_000
PROGRAMS = 100_000


# ---------------------------------------------------------------------------------------------
# Data: set-based INSERT … SELECT generate_series
# ---------------------------------------------------------------------------------------------

# Only constants are formatted in (sizes): no input reaches this SQL (hence the S608 noqa).
DATA_SQL = f"""
SELECT setseed(0.42);

CREATE TEMP TABLE b_user AS
SELECT g AS n, gen_random_uuid() AS id FROM generate_series(1, {USERS}) g;
CREATE UNIQUE INDEX ON b_user (n);
ANALYZE b_user;
INSERT INTO app_user (id, first_name, telegram_user_id)
SELECT id, 'user' || n, 1000000 + n FROM b_user;

CREATE TEMP TABLE b_inst AS
SELECT g AS n, gen_random_uuid() AS id FROM generate_series(1, {INSTITUTIONS}) g;
INSERT INTO institution (id, name, slug, visibility_id)
SELECT b.id, 'Gym ' || b.n, 'gym-' || b.n,
       (SELECT id FROM visibility WHERE resource_type = 'INSTITUTION'
          AND code = (ARRAY['PRIVATE', 'PUBLIC', 'INSTITUTION_MEMBER'])[1 + b.n % 3])
FROM b_inst b;

CREATE TEMP TABLE b_dept AS
SELECT i.n AS inst_n, d AS k, gen_random_uuid() AS id, i.id AS institution_id
FROM b_inst i, generate_series(1, 2) d;
CREATE UNIQUE INDEX ON b_dept (inst_n, k);
ANALYZE b_inst, b_dept;
INSERT INTO institution_department (id, institution_id, name)
SELECT id, institution_id, 'Dept ' || k FROM b_dept;

-- 70 % of users are members of one institution, 10 % of a second one.
CREATE TEMP TABLE b_member AS
SELECT gen_random_uuid() AS id, u.id AS user_id, u.n AS user_n,
       i.id AS institution_id, i.n AS inst_n,
       (SELECT d.id FROM b_dept d WHERE d.inst_n = i.n AND d.k = 1 + (u.n % 2)) AS department_id
FROM b_user u JOIN b_inst i ON i.n = 1 + (u.n % {INSTITUTIONS})
WHERE u.n % 10 < 7
UNION ALL
SELECT gen_random_uuid(), u.id, u.n, i.id, i.n, NULL
FROM b_user u JOIN b_inst i ON i.n = 1 + ((u.n * 7 + 3) % {INSTITUTIONS})
WHERE u.n % 10 = 9 AND 1 + ((u.n * 7 + 3) % {INSTITUTIONS}) <> 1 + (u.n % {INSTITUTIONS});
CREATE INDEX ON b_member (user_id);
ANALYZE b_member;
INSERT INTO institution_member (id, institution_id, user_id, department_id, is_active)
SELECT id, institution_id, user_id, department_id, user_n % 50 <> 0 FROM b_member;

-- Institution roles: one ADMIN and some COACHes per institution.
INSERT INTO institution_member_role (institution_member_id, role_id, is_active)
SELECT m.id, (SELECT id FROM role WHERE code = 'ADMIN' AND institution_id IS NULL), true
FROM b_member m
WHERE m.user_n <= {INSTITUTIONS} * 10 AND m.user_n % 10 = 0 AND m.department_id IS NOT NULL;
INSERT INTO institution_member_role (institution_member_id, role_id, is_active)
SELECT m.id, (SELECT id FROM role WHERE code = 'COACH' AND institution_id IS NULL), true
FROM b_member m WHERE m.user_n % 10 = 3 AND m.user_n % 3 = 0 AND m.department_id IS NOT NULL;

-- Platform roles: 5 % coaches, 0.1 % administrators.
INSERT INTO user_role (user_id, role_id)
SELECT id, (SELECT id FROM role WHERE code = 'COACH' AND institution_id IS NULL)
FROM b_user WHERE n % 20 = 1;
INSERT INTO user_role (user_id, role_id)
SELECT id, (SELECT id FROM role WHERE code = 'ADMIN' AND institution_id IS NULL)
FROM b_user WHERE n % 1000 = 2;

-- Coach -> client relations: each platform coach follows 4 clients.
INSERT INTO user_professional_customer_relation
    (id, professional_id, customer_id, relation_type, status, consent_scope)
SELECT gen_random_uuid(), c.id, cl.id, 'COACH',
       CASE WHEN k = 4 THEN 'ENDED' ELSE 'ACTIVE' END,
       jsonb_build_object('logs', true, 'goals', k % 2 = 0, 'programs', true)
FROM b_user c, generate_series(1, 4) k
JOIN b_user cl ON true
WHERE c.n % 20 = 1 AND cl.n = 1 + ((c.n * 13 + k * 101) % {USERS}) AND cl.id <> c.id;

INSERT INTO institution_customer (id, institution_id, relation_id, user_id)
SELECT gen_random_uuid(), m.institution_id, r.id, r.customer_id
FROM user_professional_customer_relation r
JOIN b_member m ON m.user_id = r.professional_id
WHERE r.status = 'ACTIVE' AND m.department_id IS NOT NULL
ON CONFLICT DO NOTHING;

-- Content: created over two years, newest first in lists.
CREATE TEMP TABLE b_level AS
SELECT * FROM (VALUES
  (1, 'PRIVATE', 40), (2, 'PUBLIC', 20), (3, 'INSTITUTION', 15), (4, 'SHARED', 5),
  (5, 'INSTITUTION_MEMBER', 5), (6, 'CUSTOMER_SHARED', 5), (7, 'INSTITUTION_DEPARTMENT', 3),
  (8, 'INSTITUTION_CUSTOMER', 3), (9, 'SYSTEM', 2), (10, 'ROLE_BASED', 2)) v(k, code, pct);
CREATE TEMP TABLE b_bucket AS
SELECT k, code, sum(pct) OVER (ORDER BY k) - pct AS low, sum(pct) OVER (ORDER BY k) AS high
FROM b_level;

INSERT INTO workout (id, owner_id, institution_id, name, difficulty_level_id, visibility_id,
                     created_at, updated_at)
SELECT gen_random_uuid(),
       CASE WHEN g % 20 = 0 THEN NULL ELSE u.id END,
       CASE WHEN b.code LIKE 'INSTITUTION%' OR g % 5 = 0 THEN m.institution_id END,
       'w' || g,
       (SELECT id FROM difficulty_level ORDER BY rank LIMIT 1),
       (SELECT v.id FROM visibility v WHERE v.resource_type = 'WORKOUT' AND v.code = b.code),
       now() - (g * interval '10 minutes'), now()
FROM generate_series(1, {WORKOUTS}) g
JOIN b_user u ON u.n = 1 + (g * 7919) % {USERS}
LEFT JOIN b_member m ON m.user_id = u.id AND m.department_id IS NOT NULL
JOIN b_bucket b ON (g * 37) % 100 >= b.low AND (g * 37) % 100 < b.high;

INSERT INTO program (id, owner_id, institution_id, title, description, difficulty_level_id,
                     visibility_id, created_at, updated_at)
SELECT gen_random_uuid(),
       CASE WHEN g % 20 = 0 THEN NULL ELSE u.id END,
       CASE WHEN b.code LIKE 'INSTITUTION%' OR g % 5 = 0 THEN m.institution_id END,
       'p' || g, 'program ' || g,
       (SELECT id FROM difficulty_level ORDER BY rank LIMIT 1),
       (SELECT v.id FROM visibility v WHERE v.resource_type = 'PROGRAM' AND v.code = b.code),
       now() - (g * interval '10 minutes'), now()
FROM generate_series(1, {PROGRAMS}) g
JOIN b_user u ON u.n = 1 + (g * 6151) % {USERS}
LEFT JOIN b_member m ON m.user_id = u.id AND m.department_id IS NOT NULL
JOIN b_bucket b ON (g * 41) % 100 >= b.low AND (g * 41) % 100 < b.high;

-- Shares of SHARED workouts, accepted by someone else.
INSERT INTO user_share_invite
    (id, invited_by, workout_id, token, accepted_by, accepted_at, expires_at)
SELECT gen_random_uuid(), w.owner_id, w.id, md5(w.id::text),
       (SELECT id FROM b_user WHERE n = 1 + (abs(hashtext(w.id::text)) % {USERS})),
       now() - interval '1 day', now() + interval '30 days'
FROM workout w JOIN visibility v ON v.id = w.visibility_id
WHERE v.code = 'SHARED' AND w.owner_id IS NOT NULL;

-- Co-ownership of some programs.
CREATE TEMP TABLE b_own AS
SELECT gen_random_uuid() AS id, p.id AS program_id,
       (SELECT id FROM b_user WHERE n = 1 + (abs(hashtext(p.id::text)) % {USERS})) AS user_id
FROM program p WHERE p.owner_id IS NOT NULL AND abs(hashtext(p.id::text)) % 20 = 0;
INSERT INTO user_ownership (id, user_id, is_primary_owner, can_edit)
SELECT id, user_id, false, true FROM b_own;
INSERT INTO user_program_ownership (id, program_id) SELECT id, program_id FROM b_own;

-- A few grants, visibility policies and policies, as a live platform has.
INSERT INTO permission_grant
    (id, grantee_type, grantee_user_id, permission_id, scope_type, scope_id, expires_at)
SELECT gen_random_uuid(), 'USER', u.id,
       (SELECT id FROM permission WHERE name = 'INSTITUTION_ADMIN.WORKOUT.MANAGE'),
       'INSTITUTION', (SELECT id FROM b_inst WHERE n = 1 + u.n % {INSTITUTIONS}),
       now() + interval '30 days'
FROM b_user u WHERE u.n % 100 = 5;
INSERT INTO visibility_policy (id, visibility_id, permission_id, role_id)
SELECT gen_random_uuid(), v.id, (SELECT id FROM permission WHERE name = 'USER.WORKOUT.READ'),
       (SELECT id FROM role WHERE code = 'COACH' AND institution_id IS NULL)
FROM visibility v WHERE v.code = 'ROLE_BASED' AND v.resource_type IN ('WORKOUT', 'PROGRAM');
INSERT INTO policy (id, name, policy_type, policy_rules) VALUES
  (gen_random_uuid(), 'bench-members-only', 'RESOURCE_BASED',
   '{{"effect": "deny", "actions": ["READ", "UPDATE"], "resource_types": ["PROGRAM"],
     "when": {{"visibility_in": ["INSTITUTION"], "actor_is_owner": false}}}}'),
  (gen_random_uuid(), 'bench-night-freeze', 'CONTEXT_BASED',
   '{{"effect": "deny", "actions": ["UPDATE", "DELETE"], "resource_types": ["WORKOUT"],
     "when": {{"hours_utc": [2, 4]}}}}');
INSERT INTO institution_policy (institution_id, policy_id, is_active)
SELECT i.id, (SELECT id FROM policy WHERE name = 'bench-members-only'), true
FROM b_inst i WHERE i.n % 10 = 0;
INSERT INTO policy_assignment (id, policy_id, target_type, target_role_id)
SELECT gen_random_uuid(), (SELECT id FROM policy WHERE name = 'bench-night-freeze'), 'ROLE',
       (SELECT id FROM role WHERE code = 'MEMBER' AND institution_id IS NULL);
"""  # noqa: S608


async def build(url: URL) -> dict[str, float]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    await migrate.upgrade(url, "head")
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await load_reference_data(session)
    finally:
        await engine.dispose()
    timings["migrate + reference data"] = time.perf_counter() - started

    connection = await asyncpg.connect(**asyncpg_connect_kwargs(url))
    try:
        started = time.perf_counter()
        await connection.execute(DATA_SQL)
        timings["generate data"] = time.perf_counter() - started
        # The indexes the page query relies on come with migration 0004 (ix_workout_created_at,
        # ix_program_created_at, ix_institution_member_active_user).
        started = time.perf_counter()
        await connection.execute("VACUUM ANALYZE")
        timings["VACUUM ANALYZE"] = time.perf_counter() - started
    finally:
        await connection.close()
    return timings


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


async def sample_actors(
    session: AsyncSession, count: int, rng: random.Random
) -> list[tuple[str, Actor]]:
    """A mix: plain users, institution members, coaches, institution admins, platform admins,
    guests."""
    groups = {
        "member": "SELECT user_id FROM institution_member WHERE is_active",
        "plain user": "SELECT id FROM app_user u"
        " WHERE NOT EXISTS (SELECT 1 FROM institution_member m WHERE m.user_id = u.id)",
        "coach": "SELECT user_id FROM user_role r JOIN role ON role.id = r.role_id"
        " WHERE role.code = 'COACH' AND role.institution_id IS NULL",
        "institution admin": "SELECT m.user_id FROM institution_member_role imr"
        " JOIN institution_member m ON m.id = imr.institution_member_id"
        " JOIN role ON role.id = imr.role_id WHERE role.code = 'ADMIN'",
        "platform admin": "SELECT user_id FROM user_role r JOIN role ON role.id = r.role_id"
        " WHERE role.code = 'ADMIN' AND role.institution_id IS NULL",
    }
    pools = {
        name: list((await session.execute(text(sql))).scalars()) for name, sql in groups.items()
    }
    weights = {
        "member": 45,
        "plain user": 20,
        "coach": 15,
        "institution admin": 10,
        "platform admin": 3,
    }
    actors: list[tuple[str, Actor]] = []
    for _ in range(count):
        if rng.random() < 0.07:
            actors.append(("guest", Actor.guest()))
            continue
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        actors.append((kind, Actor(rng.choice(pools[kind]))))
    return actors


def first_page(predicate: Any) -> Any:
    return (
        select(Workout.id, Workout.name, Workout.created_at)
        .where(predicate)
        .order_by(Workout.created_at.desc())
        .limit(literal_limit(20))  # a constant LIMIT lets PostgreSQL keep a generic plan
    )


async def measure(url: URL, runs: int) -> list[str]:
    rng = random.Random(7)
    lines: list[str] = []
    engine = create_engine(url, pool_size=2)
    try:
        async with session_factory(engine)() as session:
            actors = await sample_actors(session, runs, rng)
            samples = {
                "WORKOUT": "SELECT id FROM workout TABLESAMPLE SYSTEM (1) LIMIT 500",
                "PROGRAM": "SELECT id FROM program TABLESAMPLE SYSTEM (1) LIMIT 500",
            }
            resources = [
                ResourceRef(kind, ident)
                for kind, sample in samples.items()
                for ident in (await session.execute(text(sample))).scalars()
            ]
            # Warm-up: statement building, compiled caches, prepared statements (PostgreSQL
            # moves to a generic plan after five executions), buffers.
            warm = await load_policies(session)
            for _, actor in actors[:30]:
                await authorize(session, actor, "READ", rng.choice(resources))
                await session.execute(first_page(visible(actor, "WORKOUT")))
                await session.execute(first_page(visible(actor, "WORKOUT", policies=warm)))
            await session.rollback()

            # 1. Cold authorize: a new AccessCache per decision (policies loaded each time).
            trips: list[int] = []
            cold: list[float] = []
            allowed = 0
            for _, actor in actors:
                cache = AccessCache()
                resource = rng.choice(resources)
                action = rng.choice(["READ", "READ", "UPDATE", "DELETE"])
                with counting(engine) as statements:
                    started = time.perf_counter()
                    decision = await authorize(session, actor, action, resource, cache=cache)
                    cold.append((time.perf_counter() - started) * 1000)
                trips.append(len(statements))
                allowed += decision.allowed
            lines.append(
                f"cold authorize round trips: max={max(trips)} min={min(trips)}"
                f" ({allowed}/{len(actors)} allowed)"
            )
            lines.append(summary("cold authorize latency (2 round trips, statement cached)", cold))

            # 2. First page of "workouts I can see": one query.
            policies = await load_policies(session)
            query_only: list[float] = []
            with_visible: list[float] = []
            inline: list[float] = []
            rows = 0
            for _, actor in actors:
                started = time.perf_counter()
                statement = first_page(visible(actor, "WORKOUT", policies=policies))
                built = time.perf_counter()
                with counting(engine) as statements:
                    result = (await session.execute(statement)).all()
                done = time.perf_counter()
                assert len(statements) == 1
                rows += len(result)
                query_only.append((done - built) * 1000)
                with_visible.append((done - started) * 1000)
            for _, actor in actors:
                started = time.perf_counter()
                await session.execute(first_page(visible(actor, "WORKOUT")))
                inline.append((time.perf_counter() - started) * 1000)
            lines.append(f"first page rows: {rows / len(actors):.1f} on average (max 20)")
            lines.append(summary("first page, the query (execute + fetch)", query_only))
            lines.append(summary("first page, visible() + the query", with_visible))
            lines.append(summary("first page, policies read in SQL (visible() default)", inline))

            # 3. The plan of that query, for a typical member.
            member = next(actor for kind, actor in actors if kind == "member")
            statement = first_page(visible(member, "WORKOUT", policies=policies))
            compiled = statement.compile(
                dialect=engine.dialect, compile_kwargs={"literal_binds": True}
            )
            # the engine's own compiled statement, no outside input
            plan = await session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}"))
            lines.append("EXPLAIN (ANALYZE, BUFFERS), first page for a member:")
            lines.extend("    " + row[0] for row in plan)
            await session.rollback()
    finally:
        await engine.dispose()
    return lines


async def main(arguments: argparse.Namespace) -> None:
    with server() as (server_url, where):
        async with throwaway_database(server_url, arguments.keep) as url:
            print(f"database: {url.database} on {where}")
            for line in await machine(url):
                print(line)
            for step, seconds in (await build(url)).items():
                print(f"{step}: {seconds:.1f} s")
            for line in await measure(url, arguments.runs):
                print(line)


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=300, help="sampled actors (>= 200)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    asyncio.run(main(parser.parse_args(argv)))


if __name__ == "__main__":
    cli()
