"""The engine's contracts beyond single decisions: round trips, the per-update cache, require()
and its rate-limited SECURITY_EVENT trail, policies read in SQL vs loaded, database time."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, literal, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.access import (
    DENIALS_PER_MINUTE,
    AccessCache,
    Action,
    Actor,
    ResourceRef,
    authorize,
    literal_limit,
    load_policies,
    require,
    rule_error,
    visible,
)
from domain.access.policies import sql_document_is_valid
from domain.errors import NotAllowed
from domain.models.audit import EventType, SecurityEvent
from domain.models.workout import Workout
from tests.integration.access_world import BuiltWorld, build_world, parse_now

NOW = parse_now("2026-06-15T12:00:00Z")

WORLD: dict[str, Any] = {
    "users": ["ada", "bob", {"name": "ivy", "active": False}],
    "institutions": [{"slug": "gym"}],
    "members": [{"user": "bob", "institution": "gym"}],
    "resources": [
        {"name": "w_private", "type": "WORKOUT", "owner": "ada", "visibility": "PRIVATE"},
        {"name": "w_public", "type": "WORKOUT", "owner": "ada", "visibility": "PUBLIC"},
        {
            "name": "w_gym",
            "type": "WORKOUT",
            "owner": "ada",
            "institution": "gym",
            "visibility": "INSTITUTION",
        },
        {"name": "p_private", "type": "PROGRAM", "owner": "ada", "visibility": "PRIVATE"},
    ],
    "policies": [
        {
            "name": "no-program-delete",
            "rules": {"effect": "deny", "actions": ["DELETE"], "resource_types": ["PROGRAM"]},
            "assigned": [{"role": "MEMBER"}],
        }
    ],
}


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every statement sent to the server while the block runs."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@pytest.fixture
async def world(session: AsyncSession) -> BuiltWorld:
    return await build_world(session, WORLD, NOW)


async def test_cold_authorize_takes_two_round_trips(
    session: AsyncSession, engine: AsyncEngine, world: BuiltWorld
) -> None:
    with counting(engine) as statements:
        decision = await authorize(
            session, world.actor("ada"), Action.READ, world.ref("w_private"), now=NOW
        )
    assert decision.allowed
    assert len(statements) == 2, statements  # the policies, then every rule of the row


async def test_the_cache_loads_policies_once_and_remembers_decisions(
    session: AsyncSession, engine: AsyncEngine, world: BuiltWorld
) -> None:
    cache = AccessCache(now=NOW)
    with counting(engine) as statements:
        first = await authorize(
            session, world.actor("bob"), "READ", world.ref("w_gym"), cache=cache
        )
        again = await authorize(
            session, world.actor("bob"), "READ", world.ref("w_gym"), cache=cache
        )
        other = await authorize(
            session, world.actor("bob"), "READ", world.ref("w_private"), cache=cache
        )
        predicate = await cache.visible(session, world.actor("bob"), "WORKOUT")
        listed = (await session.scalars(select(Workout.id).where(predicate))).all()
    assert first.allowed
    assert again is first
    assert not other.allowed
    # policies once, one statement per new decision, the list query: 4
    assert len(statements) == 4, statements
    assert world.ref("w_gym").id in listed
    assert world.ref("w_private").id not in listed
    assert cache.now == NOW
    cache.clear()
    with counting(engine) as statements:
        await authorize(session, world.actor("bob"), "READ", world.ref("w_gym"), cache=cache)
    assert len(statements) == 2


async def test_a_list_is_one_query(
    session: AsyncSession, engine: AsyncEngine, world: BuiltWorld
) -> None:
    ids = [world.ref(name).id for name in ("w_private", "w_public", "w_gym")]
    with counting(engine) as statements:
        rows = await session.scalars(
            select(Workout.id)
            .where(Workout.id.in_(ids), visible(world.actor("bob"), "WORKOUT", now=NOW))
            .order_by(Workout.created_at.desc())
            .limit(literal_limit(20))
        )
        listed = set(rows)
    assert len(statements) == 1
    assert listed == {world.ref("w_public").id, world.ref("w_gym").id}


async def test_explanations_name_the_rule(session: AsyncSession, world: BuiltWorld) -> None:
    own = await authorize(session, world.actor("ada"), Action.READ, world.ref("w_private"), now=NOW)
    assert own.decided_by == "permission: OWN"
    assert "USER.WORKOUT.READ (OWN) via role MEMBER" in own.reason
    assert any(rule.name == "visibility: PUBLIC" and not rule.matched for rule in own.rules)

    denied = await authorize(
        session, world.actor("ada"), Action.DELETE, world.ref("p_private"), now=NOW
    )
    assert not denied.allowed
    assert "no-program-delete" in (denied.decided_by or "")
    assert any(rule.name == "permission: OWN" and rule.matched for rule in denied.rules)

    nobody = await authorize(
        session, world.actor("bob"), Action.READ, world.ref("w_private"), now=NOW
    )
    assert (nobody.allowed, nobody.reason, nobody.decided_by) == (False, "no rule allows it", None)
    assert not nobody.matched


async def test_missing_resource_is_denied(session: AsyncSession, world: BuiltWorld) -> None:
    decision = await authorize(
        session, world.actor("ada"), Action.READ, ResourceRef("WORKOUT", uuid.uuid4()), now=NOW
    )
    assert (decision.allowed, decision.reason, decision.rules) == (False, "resource not found", ())


async def test_an_inactive_user_is_a_guest(session: AsyncSession, world: BuiltWorld) -> None:
    for name in ("w_private", "w_public", "w_gym"):
        as_ivy = await authorize(session, world.actor("ivy"), "READ", world.ref(name), now=NOW)
        as_guest = await authorize(session, Actor.guest(), "READ", world.ref(name), now=NOW)
        assert as_ivy.allowed == as_guest.allowed


async def count_denials(session: AsyncSession, user_id: uuid.UUID | None) -> int:
    who = SecurityEvent.user_id.is_(None) if user_id is None else SecurityEvent.user_id == user_id
    query = (
        select(func.count())
        .select_from(SecurityEvent)
        .join(EventType, EventType.id == SecurityEvent.event_type_id)
        .where(who, EventType.code == "PERMISSION_DENIED")
    )
    return int(await session.scalar(query) or 0)


async def test_require_raises_and_records_a_rate_limited_trail(
    session: AsyncSession, world: BuiltWorld
) -> None:
    bob, ada = world.actor("bob"), world.actor("ada")
    target = world.ref("w_private")
    await require(session, ada, Action.UPDATE, target, now=NOW)  # allowed: nothing recorded
    assert await count_denials(session, ada.user_id) == 0

    with pytest.raises(NotAllowed) as refused:
        await require(session, bob, Action.UPDATE, target, now=NOW)
    assert refused.value.params["resource_type"] == "WORKOUT"
    assert refused.value.params["reason"] == "no rule allows it"
    event_row = (
        await session.execute(select(SecurityEvent).where(SecurityEvent.user_id == bob.user_id))
    ).scalar_one()
    assert (event_row.resource_type, event_row.resource_id, event_row.action) == (
        "WORKOUT",
        target.id,
        "UPDATE",
    )
    assert event_row.event_details["reason"] == "no rule allows it"

    for _ in range(DENIALS_PER_MINUTE + 10):
        with pytest.raises(NotAllowed):
            await require(session, bob, Action.DELETE, target, now=NOW)
    assert await count_denials(session, bob.user_id) == DENIALS_PER_MINUTE
    # the budget is per actor
    with pytest.raises(NotAllowed):
        await require(session, world.actor("ivy"), Action.DELETE, target, now=NOW)
    assert await count_denials(session, world.actor("ivy").user_id) == 1


async def test_guests_share_one_budget(session: AsyncSession, world: BuiltWorld) -> None:
    before = await count_denials(session, None)
    for _ in range(DENIALS_PER_MINUTE + 5):
        with pytest.raises(NotAllowed):
            await require(session, Actor.guest(), Action.READ, world.ref("w_private"), now=NOW)
    assert await count_denials(session, None) == max(before, DENIALS_PER_MINUTE)


async def test_the_rate_limit_count_uses_the_index(session: AsyncSession) -> None:
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        row[0]
        for row in await session.execute(
            text(
                "EXPLAIN SELECT 1 FROM security_event WHERE user_id = :u AND event_type_id = :t"
                " AND occurred_at > now() - interval '1 minute' LIMIT 20"
            ),
            {"u": uuid.uuid4(), "t": uuid.uuid4()},
        )
    )
    assert "ix_security_event_user_type_occurred" in plan


async def test_visible_at_database_time_matches_authorize(
    session: AsyncSession, world: BuiltWorld
) -> None:
    now = await session.scalar(select(func.now()))
    assert now is not None
    policies = await load_policies(session)
    ids = {world.ref(name).id: name for name in ("w_private", "w_public", "w_gym")}
    for name in ("ada", "bob", "ivy", "guest"):
        actor = world.actor(name)
        allowed = {
            ids[i]
            for i in ids
            if (await authorize(session, actor, "READ", ResourceRef("WORKOUT", i), now=now)).allowed
        }
        for loaded in (policies, None):
            predicate = visible(actor, "WORKOUT", policies=loaded)
            listed = {
                ids[i]
                for i in await session.scalars(
                    select(Workout.id).where(Workout.id.in_(list(ids)), predicate)
                )
            }
            assert listed == allowed, name


def test_one_statement_text_for_every_actor(world: BuiltWorld) -> None:
    """The actor and the time are parameters: every actor shares one compiled statement (and
    one prepared statement, whose generic plan PostgreSQL reuses)."""
    texts = {
        str(select(Workout.id).where(visible(actor, "WORKOUT", now=NOW)).limit(literal_limit(20)))
        for actor in world.actors().values()
    }
    assert len(texts) == 1


async def test_an_invalid_policy_applies_nowhere(session: AsyncSession, world: BuiltWorld) -> None:
    from domain.models.access import Policy, PolicyAssignment, PolicyTargetType, PolicyType

    policy = Policy(
        id=uuid.uuid4(),
        name=f"broken-{uuid.uuid4().hex[:6]}",
        policy_type=PolicyType.ROLE_BASED,
        policy_rules={"effect": "deny", "actions": ["*"], "resource_types": ["*"], "x": 1},
    )
    session.add(policy)
    await session.flush()
    session.add(
        PolicyAssignment(
            id=uuid.uuid4(),
            policy_id=policy.id,
            target_type=PolicyTargetType.ROLE,
            target_role_id=world.roles["GUEST"],
        )
    )
    await session.flush()
    policies = await load_policies(session)
    assert [p.policy_name for p in policies.invalid] == [policy.name]
    assert "x: Extra inputs are not permitted" in policies.invalid[0].error
    decision = await authorize(session, world.actor("ada"), "READ", world.ref("w_public"), now=NOW)
    assert decision.allowed
    listed = await session.scalar(
        select(Workout.id).where(
            Workout.id == world.ref("w_public").id, visible(Actor.guest(), "WORKOUT", now=NOW)
        )
    )
    assert listed is not None


# --------------------------------------------------------------------------------------------
# The document read in SQL accepts exactly what the pydantic model accepts
# --------------------------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "effect": "deny",
    "actions": ["READ"],
    "resource_types": ["WORKOUT"],
    "when": {
        "visibility_in": ["PUBLIC"],
        "actor_is_owner": True,
        "actor_is_guest": False,
        "resource_in_institution": True,
        "hours_utc": [22, 6],
    },
}
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    6,
    23,
    24,
    25,
    -1,
    22.0,
    1.5,
    "",
    "READ",
    "*",
    "deny",
    "allow",
    "PUBLIC",
    "public",
    "X-Y",
    [],
    ["READ"],
    ["*"],
    ["USER"],
    ["READ", 1],
    [22],
    [22, 6],
    [22, 6, 1],
    ["22", "6"],
    [True, 6],
    [0, 24],
    [24, 0],
    {},
    {"a": 1},
    [["READ"]],
    10**12,
]


def mutations(count: int, seed: int = 20260615) -> list[Any]:
    """Documents near the valid shape: each changes, removes or adds one or two keys."""
    rng = random.Random(seed)
    documents: list[Any] = [BASE, None, [], "deny", 1, {}]
    keys = ["effect", "actions", "resource_types", "when", "extra"]
    when_keys = [*BASE["when"], "weekday"]
    for _ in range(count):
        document = json.loads(json.dumps(BASE))
        for _ in range(rng.choice([1, 1, 2])):
            if rng.random() < 0.5:
                key = rng.choice(keys)
                if rng.random() < 0.2:
                    document.pop(key, None)
                else:
                    document[key] = rng.choice(ODD_VALUES)
            elif isinstance(document.get("when"), dict):
                key = rng.choice(when_keys)
                if rng.random() < 0.2:
                    document["when"].pop(key, None)
                else:
                    document["when"][key] = rng.choice(ODD_VALUES)
        documents.append(document)
    return documents


async def test_sql_and_pydantic_agree_on_validity(session: AsyncSession) -> None:
    documents = mutations(600)
    in_sql: list[bool] = []
    for start in range(0, len(documents), 40):  # a bounded number of bind parameters
        chunk = documents[start : start + 40]
        checks = [
            sql_document_is_valid(func.cast(literal(json.dumps(doc)), JSONB)) for doc in chunk
        ]
        in_sql.extend(bool(value) for value in (await session.execute(select(*checks))).one())
    disagreements = [
        (doc, rule_error(doc), sql)
        for doc, sql in zip(documents, in_sql, strict=True)
        if (rule_error(doc) is None) != sql
    ]
    valid = sum(rule_error(doc) is None for doc in documents)
    assert 50 < valid < len(documents) - 50  # both kinds are well represented
    assert not disagreements, disagreements[:5]
