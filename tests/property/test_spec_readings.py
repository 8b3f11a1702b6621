"""Hand-built worlds pinning down readings of docs/access.md the property tests had to settle.

Where the specification's text allowed two readings and the engine and the reference model
first disagreed, the reading settled on is written here as plain cases, each with the
paragraph it rests on. The reference model computes every expected decision too (so these
cases also guard the model), and the engine must agree.

Permissions held only in an institution context (an institution role, a member or
department permission, an institution- or department-scoped grant):

* is_global covers the rows of that institution only: "institution roles, effective in that
  institution only" (Actors), and roles.yaml: ADMIN's is_global permissions "apply everywhere"
  only as a platform role. The scope rule alone ("is_global → covers every row") would make
  every institution ADMIN a platform administrator.
* the other scopes apply as the scope rules are written, and only INSTITUTION consults the
  context: PUBLIC covers public rows, OWN the actor's own rows, RESOURCE_ID the rows of
  consenting clients, wherever those rows are. An institution's coach (COACH granted as an
  institution role, as institution invites do) thus reads a consenting client's logs, which
  belong to no institution.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.property import reference_model as ref
from tests.property.harness import WorldDatabase, engine_decision, explain
from tests.property.worlds import (
    CUSTOM_PERMISSIONS,
    Request,
    materialize,
    seeded_permissions,
    seeded_roles,
)

NOW = dt.datetime(2026, 6, 15, 10, 30, tzinfo=dt.UTC)


def base_world() -> ref.World:
    """Coach u0 and client u1; institution i0 where u0 is an active member without any
    global role beyond MEMBER; rows outside i0."""
    world = ref.World(now=NOW)
    permissions, pairs = seeded_permissions()
    world.permissions = {**permissions, **{p.name: p for p in CUSTOM_PERMISSIONS}}
    world.role_permissions = set(pairs)
    for code, parent in seeded_roles().items():
        world.roles[code] = ref.Role(code, code, parent)
    world.users = {"u0": ref.User("u0"), "u1": ref.User("u1")}
    world.institutions = {"i0": ref.Institution("i0", visibility="PRIVATE")}
    world.resources["i0"] = ref.Resource("i0", "INSTITUTION", None, "i0", "PRIVATE")
    world.memberships = {"m0": ref.Membership("m0", "u0", "i0")}
    world.resources["w_public"] = ref.Resource("w_public", "WORKOUT", None, None, "PUBLIC")
    world.resources["w_own"] = ref.Resource("w_own", "WORKOUT", "u0", None, "PRIVATE")
    world.resources["w_own_i0"] = ref.Resource("w_own_i0", "WORKOUT", "u0", "i0", "PRIVATE")
    world.resources["w_private"] = ref.Resource("w_private", "WORKOUT", "u1", None, "PRIVATE")
    world.resources["w_i0"] = ref.Resource("w_i0", "WORKOUT", "u1", "i0", "PRIVATE")
    world.resources["log_u1"] = ref.Resource("log_u1", "TRAINING_LOG", "u1")
    world.relations = {
        "rel0": ref.Relation("rel0", "u0", "u1", "ACTIVE", {"logs": True, "programs": True})
    }
    return world


def institution_role(role: str) -> Callable[[ref.World], None]:
    def change(world: ref.World) -> None:
        world.member_roles.append(ref.Flagged("m0", role))

    return change


def institution_custom_role_with(permission: str) -> Callable[[ref.World], None]:
    def change(world: ref.World) -> None:
        world.roles["r0"] = ref.Role("r0", "CUSTOM_0", "MEMBER", institution="i0")
        world.role_permissions.add(("r0", permission))
        world.member_roles.append(ref.Flagged("m0", "r0"))

    return change


def institution_grant(permission: str) -> Callable[[ref.World], None]:
    def change(world: ref.World) -> None:
        world.grants.append(
            ref.Grant(permission, grantee_user="u0", scope_type="INSTITUTION", scope="i0")
        )

    return change


def global_role(role: str) -> Callable[[ref.World], None]:
    def change(world: ref.World) -> None:
        world.user_roles.append(ref.Flagged("u0", role))

    return change


def role_permission(role: str, permission: str) -> Callable[[ref.World], None]:
    def change(world: ref.World) -> None:
        world.role_permissions.add((role, permission))

    return change


def logs_hidden_from_coaches(world: ref.World) -> None:
    world.coach_can_see_logs["u1"] = False


def ended_relation_customer_row_active(world: ref.World) -> None:
    world.relations["rel0"] = ref.Relation("rel0", "u0", "u1", "ENDED")
    world.customers.append(ref.InstitutionCustomer("i0", "rel0", "u1"))


def policy(
    rules: dict[str, object],
    *,
    role: str | None = None,
    permission: str | None = None,
    **scope: str,
) -> Callable[[ref.World], None]:
    """A policy assigned to a role (optionally scoped) or to a permission."""

    def change(world: ref.World) -> None:
        key = f"pol{len(world.policies)}"
        world.policies[key] = ref.Policy(key, rules)
        world.policy_assignments.append(
            ref.PolicyAssignment(
                key,
                target_role=role,
                target_permission=permission,
                scope_type=scope.get("scope_type"),
                scope=scope.get("scope"),
            )
        )

    return change


def both(*changes: Callable[[ref.World], None]) -> Callable[[ref.World], None]:
    def change(world: ref.World) -> None:
        for one in changes:
            one(world)

    return change


def add(**resources: ref.Resource) -> Callable[[ref.World], None]:
    def change(world: ref.World) -> None:
        world.resources.update(resources)

    return change


def switch_off_institution(world: ref.World) -> None:
    world.institutions["i0"] = ref.Institution("i0", active=False)


def member_u1_in(department: str, active: bool = True) -> Callable[[ref.World], None]:
    def change(world: ref.World) -> None:
        world.departments.setdefault("d0", ref.Department("d0", "i0"))
        world.memberships["m1"] = ref.Membership("m1", "u1", "i0", department, active)

    return change


def u0_in_department(world: ref.World) -> None:
    world.departments.setdefault("d0", ref.Department("d0", "i0"))
    world.memberships["m0"] = ref.Membership("m0", "u0", "i0", "d0")


# (id, change to the base world, request, expected by docs/access.md)
CASES = [
    # --- is_global held only in i0: rows of i0 only.
    (
        "institution ADMIN is not a platform admin",
        institution_role("ADMIN"),
        Request("u0", "UPDATE", "w_private"),
        False,
    ),
    (
        "institution role with an is_global permission, row outside i0",
        institution_custom_role_with("TEST_GLOBAL.WORKOUT.READ"),
        Request("u0", "READ", "w_private"),
        False,
    ),
    (
        "institution role with an is_global permission, row of i0",
        institution_custom_role_with("TEST_GLOBAL.WORKOUT.READ"),
        Request("u0", "READ", "w_i0"),
        True,
    ),
    (
        "platform role with an is_global permission, any row",
        both(global_role("TRAINER"), role_permission("TRAINER", "TEST_GLOBAL.WORKOUT.READ")),
        Request("u0", "READ", "w_private"),
        True,
    ),
    # --- PUBLIC scope held only in i0: public rows, wherever they are.
    (
        "institution TRAINER: COACH.WORKOUT.SHARE (PUBLIC) on a public row outside i0",
        institution_role("TRAINER"),
        Request("u0", "SHARE", "w_public"),
        True,
    ),
    (
        "institution-scoped grant of a PUBLIC permission, row outside i0",
        institution_grant("TEST.WORKOUT.SHARE"),
        Request("u0", "SHARE", "w_public"),
        True,
    ),
    # --- OWN scope held only in i0: the actor's own rows, wherever they are.
    (
        "institution role with an OWN permission, own row outside i0",
        institution_custom_role_with("TEST.WORKOUT.EXPORT"),
        Request("u0", "EXPORT", "w_own"),
        True,
    ),
    (
        "institution role with an OWN permission, own row of i0",
        institution_custom_role_with("TEST.WORKOUT.EXPORT"),
        Request("u0", "EXPORT", "w_own_i0"),
        True,
    ),
    # --- RESOURCE_ID (client relation) held only in i0: consenting clients' rows.
    (
        "institution COACH reads a client's log (the log belongs to no institution)",
        institution_role("COACH"),
        Request("u0", "READ", "log_u1"),
        True,
    ),
    (
        "institution COACH, client withdrew coach_can_see_logs",
        both(institution_role("COACH"), logs_hidden_from_coaches),
        Request("u0", "READ", "log_u1"),
        False,
    ),
    (
        "global COACH reads a consenting client's log",
        global_role("COACH"),
        Request("u0", "READ", "log_u1"),
        True,
    ),
]


# Further readings (INTERPRETATION notes of reference_model.py), each checked on its own.
READINGS = [
    (
        "an inactive institution gives its members no role",
        both(institution_role("ADMIN"), switch_off_institution),
        Request("u0", "UPDATE", "w_i0"),
        False,
    ),
    (
        "member of an active institution reads it (USER.INSTITUTION.READ, INSTITUTION scope)",
        lambda world: None,
        Request("u0", "READ", "i0"),
        True,
    ),
    (
        "a member of an inactive institution does not",
        switch_off_institution,
        Request("u0", "READ", "i0"),
        False,
    ),
    (
        "INSTITUTION visibility: an active institution_customer row counts, whatever the"
        " relation's status",
        both(
            add(w_inst=ref.Resource("w_inst", "WORKOUT", "u0", "i0", "INSTITUTION")),
            ended_relation_customer_row_active,
        ),
        Request("u1", "READ", "w_inst"),
        True,
    ),
    (
        "INSTITUTION_DEPARTMENT: the owner's department is read from the owner's membership"
        " even when it is inactive",
        both(
            u0_in_department,
            member_u1_in("d0", active=False),
            add(w_dep=ref.Resource("w_dep", "WORKOUT", "u1", "i0", "INSTITUTION_DEPARTMENT")),
        ),
        Request("u0", "READ", "w_dep"),
        True,
    ),
    (
        "INSTITUTION_CUSTOMER: a member holding COACH globally counts as holding it there",
        both(
            global_role("COACH"),
            add(w_ic=ref.Resource("w_ic", "WORKOUT", "u1", "i0", "INSTITUTION_CUSTOMER")),
        ),
        Request("u0", "READ", "w_ic"),
        True,
    ),
    (
        "visibility policy allow_guest: the role condition still applies to the guest",
        both(
            add(w_rb=ref.Resource("w_rb", "WORKOUT", "u1", None, "ROLE_BASED")),
            lambda world: world.visibility_policies.append(
                ref.VisibilityPolicy(
                    "ROLE_BASED", "WORKOUT", "TEST.WORKOUT.READ", role="COACH", allow_guest=True
                )
            ),
        ),
        Request(None, "READ", "w_rb"),
        False,
    ),
    (
        "visibility policy allow_guest with no role: the guest reads",
        both(
            add(w_rb=ref.Resource("w_rb", "WORKOUT", "u1", None, "ROLE_BASED")),
            lambda world: world.visibility_policies.append(
                ref.VisibilityPolicy("ROLE_BASED", "WORKOUT", "TEST.WORKOUT.READ", allow_guest=True)
            ),
        ),
        Request(None, "READ", "w_rb"),
        True,
    ),
    (
        "a grant to role GUEST reaches guests",
        lambda world: world.grants.append(
            ref.Grant("TEST_GLOBAL.WORKOUT.READ", grantee_role="GUEST")
        ),
        Request(None, "READ", "w_private"),
        True,
    ),
    (
        "actor_is_owner: the owner column makes the actor owner for any action",
        policy(
            {
                "effect": "allow",
                "actions": ["ASSIGN"],
                "resource_types": ["WORKOUT"],
                "when": {"actor_is_owner": True},
            },
            role="MEMBER",
        ),
        Request("u0", "ASSIGN", "w_own"),
        True,
    ),
    (
        "actor_is_owner: a user_ownership row (even primary) gives no ASSIGN",
        both(
            policy(
                {
                    "effect": "allow",
                    "actions": ["ASSIGN"],
                    "resource_types": ["WORKOUT"],
                    "when": {"actor_is_owner": True},
                },
                role="MEMBER",
            ),
            lambda world: world.ownerships.append(ref.Ownership("u0", "w_private")),
        ),
        Request("u0", "ASSIGN", "w_private"),
        False,
    ),
    (
        "an inactive user is a guest: owns nothing",
        both(
            lambda world: world.users.update(u0=ref.User("u0", active=False)),
            policy(
                {
                    "effect": "allow",
                    "actions": ["READ"],
                    "resource_types": ["WORKOUT"],
                    "when": {"actor_is_owner": True},
                },
                role="GUEST",
            ),
        ),
        Request("u0", "READ", "w_own"),
        False,
    ),
    (
        "resource_in_institution is false for an assignment without a scope institution",
        policy(
            {
                "effect": "allow",
                "actions": ["EXPORT"],
                "resource_types": ["WORKOUT"],
                "when": {"resource_in_institution": False},
            },
            role="MEMBER",
        ),
        Request("u0", "EXPORT", "w_private"),
        True,
    ),
    (
        "a department-scoped role assignment applies in the department's institution",
        both(
            lambda world: world.departments.update(d0=ref.Department("d0", "i0")),
            policy(
                {"effect": "allow", "actions": ["EXPORT"], "resource_types": ["*"], "when": {}},
                role="MEMBER",
                scope_type="DEPARTMENT",
                scope="d0",
            ),
        ),
        Request("u0", "EXPORT", "w_i0"),
        True,
    ),
    (
        "a role assignment scoped to an institution: only for rows of that institution",
        policy(
            {"effect": "allow", "actions": ["EXPORT"], "resource_types": ["*"], "when": {}},
            role="MEMBER",
            scope_type="INSTITUTION",
            scope="i0",
        ),
        Request("u0", "EXPORT", "w_private"),
        False,
    ),
    (
        "a deny assigned to a permission denies every request that permission would cover",
        both(
            add(w_mine=ref.Resource("w_mine", "WORKOUT", "u0", None, "PUBLIC")),
            policy(
                {"effect": "deny", "actions": ["READ"], "resource_types": ["WORKOUT"], "when": {}},
                permission="GUEST.WORKOUT.READ",
            ),
        ),
        Request("u0", "READ", "w_mine"),
        False,
    ),
    (
        "an allow assigned to a permission: the actor is treated as holding it",
        policy(
            {"effect": "allow", "actions": ["*"], "resource_types": ["*"], "when": {}},
            permission="TEST_GLOBAL.WORKOUT.READ",
        ),
        Request(None, "READ", "w_private"),
        True,
    ),
    (
        "a training log is PRIVATE for visibility_in",
        policy(
            {
                "effect": "deny",
                "actions": ["READ"],
                "resource_types": ["TRAINING_LOG"],
                "when": {"visibility_in": ["PRIVATE"]},
            },
            role="MEMBER",
        ),
        Request("u1", "READ", "log_u1"),
        False,
    ),
    (
        "hours_utc [22, 6] wraps midnight (10:30 is outside)",
        policy(
            {
                "effect": "deny",
                "actions": ["READ"],
                "resource_types": ["TRAINING_LOG"],
                "when": {"hours_utc": [22, 6]},
            },
            role="MEMBER",
        ),
        Request("u1", "READ", "log_u1"),
        True,
    ),
    (
        "hours_utc [6, 22] holds at 10:30",
        policy(
            {
                "effect": "deny",
                "actions": ["READ"],
                "resource_types": ["TRAINING_LOG"],
                "when": {"hours_utc": [6, 22]},
            },
            role="MEMBER",
        ),
        Request("u1", "READ", "log_u1"),
        False,
    ),
    (
        "a department-scoped grant reaches only members of that department",
        both(
            lambda world: world.departments.update(d0=ref.Department("d0", "i0")),
            lambda world: world.grants.append(
                ref.Grant(
                    "TEST.WORKOUT.MANAGE", grantee_user="u0", scope_type="DEPARTMENT", scope="d0"
                )
            ),
        ),
        Request("u0", "UPDATE", "w_i0"),
        False,
    ),
    (
        "... and does reach them",
        both(
            u0_in_department,
            lambda world: world.grants.append(
                ref.Grant(
                    "TEST.WORKOUT.MANAGE", grantee_user="u0", scope_type="DEPARTMENT", scope="d0"
                )
            ),
        ),
        Request("u0", "UPDATE", "w_i0"),
        True,
    ),
]
CASES += READINGS


@pytest.mark.parametrize(
    ("change", "request_", "expected"),
    [pytest.param(change, request, expected, id=name) for name, change, request, expected in CASES],
)
def test_case(
    world_db: WorldDatabase,
    change: Callable[[ref.World], None],
    request_: Request,
    expected: bool,
) -> None:
    world = base_world()
    change(world)
    reference = ref.reference_decide(world, request_.actor, request_.action, request_.resource)
    assert reference.allowed == expected, f"reference model: {reference}"

    async def body(session: AsyncSession) -> str:
        ids = await materialize(session, world, world_db.catalog)
        return explain(await engine_decision(session, world, ids, request_))

    got = world_db.example(body)
    assert got.startswith(f"allowed={expected}"), (
        f"{request_}: docs/access.md says {'ALLOW' if expected else 'DENY'}; engine: {got}"
    )
