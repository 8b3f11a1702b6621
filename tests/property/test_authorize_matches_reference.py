"""Property tests: the engine (`domain.access`) agrees with the reference model, and `visible`
selects exactly what `authorize` allows to READ (check/list consistency).

The worlds come from ``worlds.py``; the harness (own event loop, one SAVEPOINT per example) is
described in ``harness.py``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import visible
from tests.property import reference_model as ref
from tests.property.harness import (
    TABLES,
    Mismatch,
    WorldDatabase,
    engine_actor,
    engine_decision,
    explain,
    report,
)
from tests.property.worlds import Request, listings, materialize, scenarios

# At least 200 examples per test in CI; PROPERTY_EXAMPLES raises it for a longer local hunt.
EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "200"))
PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


# --------------------------------------------------------------------------------------------
# The engine decides as the reference model does
# --------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_authorize_matches_reference(
    world_db: WorldDatabase, scenario: tuple[ref.World, list[Request]]
) -> None:
    world, asked = scenario

    async def body(session: AsyncSession) -> list[Mismatch]:
        ids = await materialize(session, world, world_db.catalog)
        mismatches = []
        for request in asked:
            decision = await engine_decision(session, world, ids, request)
            expected = ref.reference_decide(world, request.actor, request.action, request.resource)
            if decision.allowed != expected.allowed:
                mismatches.append(Mismatch(request, expected, explain(decision)))
        return mismatches

    mismatches = world_db.example(body)
    assert not mismatches, report(world, mismatches, "disagreements with the reference model")


# --------------------------------------------------------------------------------------------
# Check/list consistency: visible() selects exactly what authorize() allows to READ
# --------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(listing=listings())
def test_visible_selects_what_authorize_allows(
    world_db: WorldDatabase, listing: tuple[ref.World, str]
) -> None:
    """For every actor of the world (the guest and each user): the rows of one drawn type that
    ``select(table.id).where(visible(actor, type))`` returns are exactly those for which
    ``authorize(READ)`` allows, and those the reference model allows. (One type per example
    keeps 200 examples within the time budget; hypothesis draws the type.)"""
    world, resource_type = listing
    table = TABLES[resource_type]
    keys = [k for k, r in world.resources.items() if r.type == resource_type]

    async def body(session: AsyncSession) -> tuple[list[str], list[Mismatch]]:
        ids = await materialize(session, world, world_db.catalog)
        key_of = ids.key_of()
        listing_errors: list[str] = []
        model_errors: list[Mismatch] = []
        for actor in (None, *world.users):
            query = (
                select(table.id)
                .where(visible(engine_actor(ids, actor), resource_type, now=world.now))
                .where(table.id.in_([ids[k] for k in keys]))
            )
            listed = {key_of[i] for i in (await session.scalars(query)).all()}
            allowed = set()
            for key in keys:
                request = Request(actor, "READ", key)
                decision = await engine_decision(session, world, ids, request)
                if decision.allowed:
                    allowed.add(key)
                expected = ref.reference_decide(world, actor, "READ", key)
                if decision.allowed != expected.allowed:
                    model_errors.append(Mismatch(request, expected, explain(decision)))
            if listed != allowed:
                listing_errors.append(
                    f"{actor or 'guest'} {resource_type}: visible() selects "
                    f"{sorted(listed)}, authorize(READ) allows {sorted(allowed)} "
                    f"(only listed: {sorted(listed - allowed)}, "
                    f"only authorized: {sorted(allowed - listed)})"
                )
        return listing_errors, model_errors

    listing_errors, model_errors = world_db.example(body)
    assert not listing_errors, report(world, listing_errors, "check/list inconsistencies")
    assert not model_errors, report(world, model_errors, "disagreements with the reference model")
