"""The human-readable scenarios of tests/scenarios/access/*.yaml, run against the engine.

Each file is a small world and expected lines ``ACTOR ACTION RESOURCE: allow|deny [by RULE]``.
Beyond its lines, every scenario also checks check/list consistency: for every actor of the
world and every resource type in it, ``visible`` (with loaded policies and with the policies
read in SQL) selects exactly the rows ``authorize`` allows to READ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, authorize, load_policies, visible
from domain.access.resources import spec_for
from tests.integration.access_world import build_world, parse_expectation, parse_now

SCENARIOS = sorted((Path(__file__).parents[1] / "scenarios" / "access").glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def test_there_are_scenarios() -> None:
    assert len(SCENARIOS) >= 10


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.stem)
async def test_scenario(session: AsyncSession, path: Path) -> None:
    document = load(path)
    now = parse_now(document["now"])
    world = await build_world(session, document["world"], now)

    failures: list[str] = []
    for line in document["expect"]:
        expected = parse_expectation(line)
        decision = await authorize(
            session,
            world.actor(expected.actor),
            expected.action,
            world.ref(expected.resource),
            now=now,
        )
        if decision.allowed != expected.allowed:
            matched = [f"{rule.name} ({rule.detail})" for rule in decision.matched]
            failures.append(f"{expected.line}  ->  got {decision.reason}; matched: {matched}")
        elif expected.by is not None and expected.by not in (decision.decided_by or ""):
            failures.append(f"{expected.line}  ->  decided by {decision.decided_by!r}")

    # Check/list consistency over the whole world, both ways of reading policies.
    policies = await load_policies(session)
    by_type: dict[str, dict[Any, str]] = {}
    for name, ref in world.resources.items():
        by_type.setdefault(ref.type, {})[ref.id] = name
    for actor_name, actor in world.actors().items():
        for resource_type, rows in by_type.items():
            allowed = set()
            for name in rows.values():
                decision = await authorize(session, actor, Action.READ, world.ref(name), now=now)
                if decision.allowed:
                    allowed.add(name)
            table = spec_for(resource_type).table
            for mode, loaded in (("loaded policies", policies), ("policies in SQL", None)):
                predicate = visible(actor, resource_type, now=now, policies=loaded)
                listed_ids = await session.scalars(
                    select(table.c.id).where(table.c.id.in_(list(rows)), predicate)
                )
                listed = {rows[row_id] for row_id in listed_ids}
                if listed != allowed:
                    failures.append(
                        f"visible({actor_name}, {resource_type}) with {mode} lists "
                        f"{sorted(listed)}, authorize READ allows {sorted(allowed)}"
                    )
    assert not failures, f"{path.name}:\n  " + "\n  ".join(failures)
