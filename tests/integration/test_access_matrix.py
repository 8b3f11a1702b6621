"""The access matrix: for each resource type the bot exposes, who may READ, UPDATE, DELETE and
ASSIGN one row, among nine typical actors. The row belongs to Olive, a member of gym; for
workouts and programs it is filed in gym with visibility INSTITUTION, otherwise it is PRIVATE;
for INSTITUTION the row is gym itself (PRIVATE).

Reading the table: an empty cell means nothing is allowed. Seed permissions explain each
line: members hold OWN permissions (no UPDATE on media), coaches RESOURCE_ID ones through a
consenting client relation, gym's ADMIN the INSTITUTION_ADMIN.* permissions and ADMIN's
is_global ones narrowed to gym, the platform ADMIN the is_global ones everywhere (it holds
nothing over other people's goals and training logs).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, authorize, visible
from domain.access.resources import spec_for
from tests.integration.access_world import build_world, parse_now

NOW = parse_now("2026-06-15T12:00:00Z")
ACTIONS = (Action.READ, Action.UPDATE, Action.DELETE, Action.ASSIGN)
ALL = "READ UPDATE DELETE ASSIGN"

ACTORS = (
    "guest",
    "owner",
    "other_user",
    "same_institution_member",
    "other_institution_member",
    "coach_with_consent",
    "coach_without_consent",
    "institution_admin",
    "platform_admin",
)

MATRIX: dict[str, dict[str, str]] = {
    "WORKOUT": {
        "owner": "READ UPDATE DELETE",
        "same_institution_member": "READ",
        "coach_with_consent": "ASSIGN",
        "institution_admin": ALL,
        "platform_admin": ALL,
    },
    "PROGRAM": {
        "owner": "READ UPDATE DELETE",
        "same_institution_member": "READ",
        "coach_with_consent": "ASSIGN",
        "institution_admin": ALL,
        "platform_admin": ALL,
    },
    "EXERCISE": {"owner": "READ UPDATE DELETE", "platform_admin": ALL},
    "MEDIA": {"owner": "READ DELETE", "platform_admin": ALL},
    "EQUIPMENT": {"owner": ALL, "platform_admin": ALL},
    "GOAL": {"owner": "READ UPDATE DELETE", "coach_with_consent": "READ"},
    "TRAINING_LOG": {"owner": "READ UPDATE DELETE", "coach_with_consent": "READ UPDATE"},
    "INSTITUTION": {
        "owner": "READ",
        "same_institution_member": "READ",
        "institution_admin": ALL,
        "platform_admin": ALL,
    },
}


def world(resource_type: str) -> dict[str, Any]:
    resource: dict[str, Any] = {"name": "row", "type": resource_type, "owner": "owner"}
    if resource_type in ("WORKOUT", "PROGRAM"):
        resource.update(institution="gym", visibility="INSTITUTION")
    elif resource_type != "TRAINING_LOG":
        resource["visibility"] = "PRIVATE"
    consent = {"logs": True, "goals": True, "programs": True}
    return {
        "users": [name for name in ACTORS if name != "guest"],
        "institutions": [{"slug": "gym"}, {"slug": "club"}],
        "user_roles": [
            {"user": "coach_with_consent", "role": "COACH"},
            {"user": "coach_without_consent", "role": "COACH"},
            {"user": "platform_admin", "role": "ADMIN"},
        ],
        "members": [
            {"user": "owner", "institution": "gym"},
            {"user": "same_institution_member", "institution": "gym"},
            {"user": "other_institution_member", "institution": "club"},
            {"user": "institution_admin", "institution": "gym", "roles": ["ADMIN"]},
        ],
        "relations": [
            {
                "name": "r1",
                "professional": "coach_with_consent",
                "customer": "owner",
                "consent": consent,
            },
            {
                "name": "r2",
                "professional": "coach_without_consent",
                "customer": "owner",
                "consent": {},
            },
        ],
        "resources": [] if resource_type == "INSTITUTION" else [resource],
    }


@pytest.mark.parametrize("resource_type", list(MATRIX))
async def test_matrix(session: AsyncSession, resource_type: str) -> None:
    built = await build_world(session, world(resource_type), NOW)
    ref = built.ref("gym" if resource_type == "INSTITUTION" else "row")
    table = spec_for(resource_type).table
    wrong = []
    for actor_name in ACTORS:
        expected = set(MATRIX[resource_type].get(actor_name, "").split())
        actor = built.actor(actor_name)
        for action in ACTIONS:
            decision = await authorize(session, actor, action, ref, now=NOW)
            if decision.allowed != (action.value in expected):
                wrong.append(f"{actor_name} {action.value}: {decision.reason}")
        listed = await session.scalar(
            select(table.c.id).where(table.c.id == ref.id, visible(actor, resource_type, now=NOW))
        )
        if (listed is not None) != ("READ" in expected):
            wrong.append(f"{actor_name}: visible() disagrees with the matrix")
    assert not wrong, f"{resource_type}:\n  " + "\n  ".join(wrong)
