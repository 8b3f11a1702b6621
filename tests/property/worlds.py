"""Hypothesis strategies for small authorization worlds, and their materialization.

A world (``reference_model.World``) is plain data; ``worlds()`` draws one and
``materialize(session, world)`` writes it into the (seeded) database through the ORM models,
returning the database id of every key. The seeded system roles and permissions are read from
the reference YAML files (the same files the seed loader reads) so the reference model knows
what every system role carries without asking the engine.

A world has: a decision time (the hour matters to `hours_utc`); the seeded system roles, one
sometimes switched off; 3-6 users (some inactive); 1-3 institutions (some inactive) with 0-2
departments each; 0-2 institution roles whose parent is a system role or the other one, with
extra role permissions; global roles and direct permissions; memberships (active or not, in a
department or not) with institution roles and member / department permissions; professional
<-> client relations (every status, consent keys true / false / absent; the professional
usually a COACH or PHYSIOTHERAPIST) and institution customers derived from them; workouts and
programs (owner or catalogue, in an institution or not, every visibility level), training
logs; user_ownership rows with every flag; share invites (accepted or not, revoked, expired);
the `coach_can_see_logs` setting of log owners (and sometimes a system-wide false);
permission grants to users and roles, unscoped or scoped to an institution, a department or
one row, never / later / already expired, some inactive; visibility policies (level x type,
permission, institution, role, allow_guest); allow and deny policies (actions, types, `when`
conditions) assigned to roles (optionally scoped), to permissions, or switched on by
institutions. Several draws are aimed (grants at a row of the world, logs at consenting
clients, invites at SHARED rows …) so that each rule decides something often enough.

``scenarios()`` adds the requests to ask (one per kind of decision, rare kinds first, see
``categorize``); ``listings()`` a resource type to list.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import domain.reference
from domain.models.access import (
    GranteeType,
    GrantScopeType,
    Permission,
    PermissionGrant,
    Policy,
    PolicyAssignment,
    PolicyScopeType,
    PolicyTargetType,
    PolicyType,
    Role,
    RolePermission,
    Visibility,
    VisibilityPolicy,
)
from domain.models.enums import RoleType
from domain.models.institution import (
    Institution,
    InstitutionCustomer,
    InstitutionDepartment,
    InstitutionDepartmentPermission,
    InstitutionMember,
    InstitutionMemberPermission,
    InstitutionMemberRole,
    InstitutionPolicy,
)
from domain.models.lookup import DifficultyLevel
from domain.models.program import Program
from domain.models.training_log import TrainingSession, TrainingSessionSource
from domain.models.user import (
    ProfessionalClientRelation,
    ProfessionalRelationType,
    User,
    UserOwnership,
    UserPermission,
    UserProgramOwnership,
    UserRole,
    UserShareInvite,
    UserWorkoutOwnership,
)
from domain.models.workout import Workout
from tests.property import reference_model as ref

DATA_DIR = Path(domain.reference.__file__).parent / "data"

# The decision time of a world: a fixed day (far from the wall clock, so an engine reading
# SQL now() instead of its `now` argument is caught), at a drawn hour.
BASE_NOW = dt.datetime(2026, 6, 15, 0, 30, tzinfo=dt.UTC)

VISIBILITY_LEVELS = {
    "WORKOUT": (
        "PRIVATE",
        "SHARED",
        "CUSTOMER_SHARED",
        "INSTITUTION",
        "INSTITUTION_DEPARTMENT",
        "INSTITUTION_MEMBER",
        "INSTITUTION_CUSTOMER",
        "GROUP_BASED",
        "ROLE_BASED",
        "PUBLIC",
        "SYSTEM",
    ),
    "INSTITUTION": ("PRIVATE", "INSTITUTION_MEMBER", "INTERNAL", "PUBLIC"),
}
VISIBILITY_LEVELS["PROGRAM"] = VISIBILITY_LEVELS["WORKOUT"]
# Levels drawn for workouts and programs: the ones with a rule of their own weigh more.
CONTENT_LEVELS = (
    *VISIBILITY_LEVELS["WORKOUT"],
    "PRIVATE",
    "SHARED",
    "SHARED",
    "CUSTOMER_SHARED",
    "INSTITUTION",
    "INSTITUTION_DEPARTMENT",
    "INSTITUTION_CUSTOMER",
)

# Extra permissions the worlds create (actor TEST), to reach scope/resource/action pairs the
# seed does not have: RESOURCE_ID reads for grants on one row, INSTITUTION-scoped management,
# OWN deletes, a global read.
CUSTOM_PERMISSIONS = (
    ref.Permission("TEST.WORKOUT.READ", "RESOURCE_ID"),
    ref.Permission("TEST.PROGRAM.UPDATE", "RESOURCE_ID"),
    ref.Permission("TEST.PROGRAM.MANAGE", "RESOURCE_ID"),
    ref.Permission("TEST.TRAINING_LOG.READ", "RESOURCE_ID"),
    ref.Permission("TEST.CLIENT_LOG.EXPORT", "RESOURCE_ID"),
    ref.Permission("TEST.WORKOUT.MANAGE", "INSTITUTION"),
    ref.Permission("TEST.PROGRAM.READ", "INSTITUTION"),
    ref.Permission("TEST.INSTITUTION.INVITE", "OWN"),
    ref.Permission("TEST.PROGRAM.EXPORT", "OWN"),
    ref.Permission("TEST.WORKOUT.EXPORT", "OWN"),
    ref.Permission("TEST.WORKOUT.SHARE", "PUBLIC"),
    ref.Permission("TEST_GLOBAL.WORKOUT.READ", None, is_global=True),
)

# Seeded permissions on the resource types of the model (the others never cover a row here).
SEEDED_POOL = (
    "GUEST.WORKOUT.READ",
    "GUEST.PROGRAM.READ",
    "GUEST.INSTITUTION.READ",
    "USER.WORKOUT.READ",
    "USER.WORKOUT.UPDATE",
    "USER.PROGRAM.ARCHIVE",
    "USER.TRAINING_LOG.READ",
    "USER.INSTITUTION.READ",
    "COACH.CLIENT_LOG.READ",
    "COACH.PROGRAM.ASSIGN",
    "COACH.WORKOUT.ASSIGN",
    "INSTITUTION_ADMIN.WORKOUT.MANAGE",
    "INSTITUTION_ADMIN.PROGRAM.MANAGE",
    "INSTITUTION_ADMIN.INSTITUTION.UPDATE",
    "ADMIN.PROGRAM.MANAGE",
    "ADMIN.WORKOUT.MANAGE",
    "USER.SETTING.READ",  # covers nothing here: a permission that must not leak
)
POOL = (*(p.name for p in CUSTOM_PERMISSIONS), *SEEDED_POOL)
# Grants mostly carry what a plain member lacks (else they rarely decide anything).
GRANT_POOL = (
    *(p.name for p in CUSTOM_PERMISSIONS),
    "COACH.CLIENT_LOG.READ",
    "COACH.WORKOUT.ASSIGN",
    "INSTITUTION_ADMIN.WORKOUT.MANAGE",
    "INSTITUTION_ADMIN.PROGRAM.MANAGE",
    "ADMIN.WORKOUT.MANAGE",
    "USER.WORKOUT.READ",
)

SYSTEM_ROLE_CODES = ("GUEST", "MEMBER", "CUSTOMER", "TRAINER", "COACH", "PHYSIOTHERAPIST", "ADMIN")
RELATION_STATUSES = ("ACTIVE", "ACTIVE", "ACTIVE", "PENDING", "ENDED", "DECLINED")


@cache
def seeded_roles() -> dict[str, str | None]:
    """System role code -> parent code, from roles.yaml."""
    rows = yaml.safe_load((DATA_DIR / "roles.yaml").read_text(encoding="utf-8"))
    return {row["code"]: row.get("parent") for row in rows}


@cache
def seeded_permissions() -> tuple[dict[str, ref.Permission], frozenset[tuple[str, str]]]:
    """Every seeded permission and the seeded (role, permission) pairs, from permissions.yaml."""
    data = yaml.safe_load((DATA_DIR / "permissions.yaml").read_text(encoding="utf-8"))
    permissions: dict[str, ref.Permission] = {}
    pairs: set[tuple[str, str]] = set()
    for item in data["permissions"]:
        name = f"{item['actor']}.{item['resource']}.{item['action']}"
        permissions[name] = ref.Permission(name, item.get("scope"), bool(item.get("is_global")))
        pairs.update((role, name) for role in item.get("roles", []))
    return permissions, frozenset(pairs)


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------


def _covered_type(permission: ref.Permission) -> str:
    return ref.PERMISSION_RESOURCE_ALIASES.get(permission.resource, permission.resource)


def mostly(probability_true: float = 0.8) -> st.SearchStrategy[bool]:
    """A biased boolean. The rare value sits in the middle of the choices: hypothesis likes
    the first and last ones (and would otherwise switch every rare flag on together)."""
    falses = 10 - round(probability_true * 10)
    return st.sampled_from([True] * 5 + [False] * falses + [True] * (5 - falses))


def rarely() -> st.SearchStrategy[bool]:
    return st.sampled_from([False] * 4 + [True] * 2 + [False] * 4)


def expiry(now: dt.datetime) -> st.SearchStrategy[dt.datetime | None]:
    """None (never expires), or some days before (a third) or after the decision time."""
    kind = st.sampled_from(["never", "future", "past", "past", "future", "never"])
    days = {
        "never": st.none(),
        "past": st.integers(-30, -1),
        "future": st.integers(1, 30),
    }
    return kind.flatmap(lambda k: days[k]).map(
        lambda d: None if d is None else now + dt.timedelta(days=d, minutes=7)
    )


def _subset(draw: st.DrawFn, items: Sequence[Any], max_size: int, min_size: int = 0) -> list[Any]:
    if not items:
        return []
    return draw(
        st.lists(st.sampled_from(list(items)), min_size=min_size, max_size=max_size, unique=True)
    )


def _rules(draw: st.DrawFn) -> dict[str, Any]:
    """A valid policy_rules document (docs/access.md "Policies"), with at most two `when`
    conditions (more would rarely all hold)."""
    actions = draw(
        st.one_of(
            st.just(["*"]),
            st.lists(st.sampled_from(ref.ACTIONS), min_size=1, max_size=3, unique=True),
        )
    )
    types = draw(
        st.one_of(
            st.just(["*"]),
            st.lists(
                st.sampled_from((*ref.RESOURCE_TYPES, "EXERCISE")),
                min_size=1,
                max_size=2,
                unique=True,
            ),
        )
    )
    codes = (*VISIBILITY_LEVELS["WORKOUT"], "INTERNAL")
    conditions: dict[str, st.SearchStrategy[Any]] = {
        "visibility_in": st.lists(st.sampled_from(codes), min_size=1, max_size=4, unique=True),
        "actor_is_owner": st.booleans(),
        "actor_is_guest": st.booleans(),
        "resource_in_institution": st.booleans(),
        "hours_utc": st.tuples(st.integers(0, 23), st.integers(0, 23))
        .filter(lambda h: h[0] != h[1])
        .map(list),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(conditions)), max_size=2, unique=True))
    return {
        "effect": draw(st.sampled_from(["deny", "allow"])),
        "actions": actions,
        "resource_types": types,
        "when": {name: draw(conditions[name]) for name in chosen},
    }


@st.composite
def worlds(draw: st.DrawFn, max_users: int = 6) -> ref.World:
    now = BASE_NOW.replace(hour=draw(st.integers(0, 23)))
    world = ref.World(now=now)

    # Permissions: the seed's and the TEST ones.
    seeded, pairs = seeded_permissions()
    world.permissions = {**seeded, **{p.name: p for p in CUSTOM_PERMISSIONS}}
    world.role_permissions = set(pairs)

    # System roles; sometimes one is switched off for the world.
    switched_off = draw(st.sampled_from([None] * 28 + list(SYSTEM_ROLE_CODES)))
    for code, parent in seeded_roles().items():
        world.roles[code] = ref.Role(code, code, parent, active=code != switched_off)

    # Users.
    n_users = draw(st.integers(3, max_users))
    users = [f"u{i}" for i in range(n_users)]
    for key in users:
        world.users[key] = ref.User(key, active=draw(mostly(0.9)))

    # Institutions and departments.
    institutions = [f"i{i}" for i in range(draw(st.integers(1, 3)))]
    for key in institutions:
        world.institutions[key] = ref.Institution(
            key,
            active=draw(mostly(0.9)),
            visibility=draw(st.sampled_from(VISIBILITY_LEVELS["INSTITUTION"])),
        )
        world.resources[key] = ref.Resource(
            key, "INSTITUTION", None, key, world.institutions[key].visibility
        )
        for _ in range(draw(st.integers(0, 2))):
            department = f"d{len(world.departments)}"
            world.departments[department] = ref.Department(department, key)
    departments = list(world.departments)

    # An institution's own roles (0-2), each refining a system role or the previous one.
    for i in range(draw(st.integers(0, 2))):
        institution = draw(st.sampled_from(institutions))
        local_parents = [r.key for r in world.roles.values() if r.institution == institution]
        parent = draw(
            st.sampled_from([*local_parents, "MEMBER", "CUSTOMER", "TRAINER", "COACH", "ADMIN"])
        )
        key = f"r{i}"
        world.roles[key] = ref.Role(
            key, f"CUSTOM_{i}", parent, active=draw(mostly(0.85)), institution=institution
        )
    all_roles = list(world.roles)
    system_roles = list(SYSTEM_ROLE_CODES)

    # Extra role permissions (system or custom roles).
    for _ in range(draw(st.integers(0, 3))):
        pair = (draw(st.sampled_from(all_roles)), draw(st.sampled_from(POOL)))
        world.role_permissions.add(pair)

    # Global roles and direct permissions.
    for user in users:
        for role in _subset(draw, system_roles[1:], 2):
            world.user_roles.append(ref.Flagged(user, role, draw(mostly(0.85))))
        if draw(rarely()):
            world.user_roles.append(ref.Flagged(user, "GUEST", True))
    for _ in range(draw(st.integers(0, 2))):
        pair = (draw(st.sampled_from(users)), draw(st.sampled_from(POOL)))
        if all((row.owner, row.target) != pair for row in world.user_permissions):
            world.user_permissions.append(ref.Flagged(*pair, active=draw(mostly(0.8))))

    # Memberships, their roles and permissions; department permissions.
    pairs_ui = [(u, i) for u in users for i in institutions]
    for user, institution in _subset(draw, pairs_ui, 6, min_size=1):
        local_departments = [
            d for d in departments if world.departments[d].institution == institution
        ]
        key = f"m{len(world.memberships)}"
        world.memberships[key] = ref.Membership(
            key,
            user,
            institution,
            department=draw(st.sampled_from([None, *local_departments, *local_departments])),
            active=draw(mostly(0.85)),
        )
        local_roles = [
            r
            for r in all_roles
            if world.roles[r].institution in (None, institution) and r != "GUEST"
        ]
        for role in _subset(draw, local_roles, 2):
            world.member_roles.append(ref.Flagged(key, role, draw(mostly(0.85))))
        for permission in _subset(draw, POOL, 1):
            world.member_permissions.append(ref.Flagged(key, permission, draw(mostly(0.8))))
    for department in _subset(draw, departments, 2):
        for permission in _subset(draw, POOL, 2):
            world.department_permissions.append(
                ref.Flagged(department, permission, draw(mostly(0.8)))
            )

    # Professional <-> client relations, and institution customers derived from them.
    ordered_pairs = [(a, b) for a in users for b in users if a != b]
    for professional, customer in _subset(draw, ordered_pairs, 3, min_size=1):
        key = f"rel{len(world.relations)}"
        # Each consent key: true (mostly), false or absent.
        given_consent = st.sampled_from([True, True, False, None, True, True])
        consent = {
            key: value
            for key in ("logs", "goals", "programs")
            if (value := draw(given_consent)) is not None
        }
        world.relations[key] = ref.Relation(
            key, professional, customer, draw(st.sampled_from(RELATION_STATUSES)), consent
        )
        # Usually the professional holds a professional role (else RESOURCE_ID never fires).
        hat = draw(st.sampled_from(["COACH", "COACH", "PHYSIOTHERAPIST", None]))
        if hat and all((r.owner, r.target) != (professional, hat) for r in world.user_roles):
            world.user_roles.append(ref.Flagged(professional, hat, True))
    relation_keys = list(world.relations)
    links = [(i, r) for i in institutions for r in relation_keys]
    for institution, relation in _subset(draw, links, 3):
        world.customers.append(
            ref.InstitutionCustomer(
                institution,
                relation,
                world.relations[relation].customer,
                active=draw(mostly(0.7)),
            )
        )

    # Resources: workouts and programs, training logs.
    # Owners: often someone's client, so relations and CUSTOMER_SHARED have rows to act on.
    clients = [r.customer for r in world.relations.values()]
    professionals = [r.professional for r in world.relations.values()]
    owners = st.sampled_from([None, *users, *users, *clients, *professionals])
    customer_institutions = [c.institution for c in world.customers]
    consenting = [
        r.customer
        for r in world.relations.values()
        if r.status == "ACTIVE" and r.consent.get("logs")
    ]
    for i in range(draw(st.integers(2, 6))):
        kind = draw(st.sampled_from(["WORKOUT", "PROGRAM"]))
        key = f"{kind[0].lower()}{i}"
        world.resources[key] = ref.Resource(
            key,
            kind,
            owner=draw(owners),
            institution=draw(st.sampled_from([None, *institutions, *customer_institutions])),
            visibility=draw(st.sampled_from(CONTENT_LEVELS)),
        )
    for i in range(draw(st.integers(0, 3))):
        key = f"log{i}"
        owner = draw(st.sampled_from([*users, *consenting, *consenting, *consenting]))
        world.resources[key] = ref.Resource(key, "TRAINING_LOG", owner=owner)
    content = [k for k, r in world.resources.items() if r.type in ("WORKOUT", "PROGRAM")]
    every_resource = list(world.resources)

    # Ownership rows and share invites on workouts and programs.
    for _ in range(draw(st.integers(0, 3))):
        world.ownerships.append(
            ref.Ownership(
                user=draw(st.sampled_from(users)),
                resource=draw(st.sampled_from(content)),
                is_primary_owner=draw(rarely()),
                can_edit=draw(st.booleans()),
                can_delete=draw(st.booleans()),
                is_revoked=draw(rarely()),
            )
        )
    shared = [k for k in content if world.resources[k].visibility == "SHARED"]
    for _ in range(draw(st.integers(1 if shared else 0, 3))):
        resource = draw(st.sampled_from([*content, *shared, *shared, *shared]))
        expires = draw(expiry(now))
        world.share_invites.append(
            ref.ShareInvite(
                resource=resource,
                invited_by=world.resources[resource].owner or draw(st.sampled_from(users)),
                accepted_by=draw(
                    st.sampled_from(
                        [*users, None, *(u for u in users if u != world.resources[resource].owner)]
                    )
                ),
                expires_at=expires if expires is not None else now + dt.timedelta(days=3),
                is_revoked=draw(st.sampled_from([False] * 4 + [True] * 3 + [False] * 3)),
            )
        )

    # The client's privacy setting (absent = not set), and sometimes a system-wide value.
    # Only the owners of training logs are drawn one: the setting decides nothing else, and
    # each value costs the settings service several statements.
    log_owners = sorted(
        {r.owner for r in world.resources.values() if r.type == "TRAINING_LOG" and r.owner}
    )
    for user in log_owners:
        value = draw(st.sampled_from([None, True, False, False]))
        if value is not None:
            world.coach_can_see_logs[user] = value
    world.coach_can_see_logs_default = draw(mostly(0.9))

    # Permission grants, each aimed at a row of the world: a permission on its type, scoped to
    # the row, its institution or a department of it (or not scoped); a third expired.
    for _ in range(draw(st.integers(1, 5))):
        target = world.resources[draw(st.sampled_from(every_resource))]
        fitting = [n for n in GRANT_POOL if _covered_type(world.permissions[n]) == target.type]
        permission = draw(st.sampled_from(fitting or list(GRANT_POOL)))
        where = ref.resource_institution(target) or draw(st.sampled_from(institutions))
        local_departments = [d for d in departments if world.departments[d].institution == where]
        options: list[str | None] = [None, "INSTITUTION"]
        if world.permissions[permission].scope == "RESOURCE_ID":
            options += ["RESOURCE", "RESOURCE"]
        if local_departments:
            options.append("DEPARTMENT")
        scope_type = draw(st.sampled_from(options))
        scope = {
            None: None,
            "INSTITUTION": where,
            "RESOURCE": target.key,
            "DEPARTMENT": draw(st.sampled_from(local_departments)) if local_departments else None,
        }[scope_type]
        # The grantee: anyone, or someone close to the row (owner, member there, coach).
        near = [target.owner] if target.owner else []
        near += [m.user for m in world.memberships.values() if m.institution == where]
        near += [r.professional for r in world.relations.values() if r.customer == target.owner]
        to_role = draw(st.booleans())
        world.grants.append(
            ref.Grant(
                permission=permission,
                grantee_user=None if to_role else draw(st.sampled_from(users + near)),
                grantee_role=draw(st.sampled_from(all_roles)) if to_role else None,
                scope_type=scope_type,
                scope=scope,
                expires_at=draw(expiry(now)),
                active=draw(mostly(0.8)),
            )
        )

    # Visibility policies.
    seen_vp: set[tuple[Any, ...]] = set()
    for _ in range(draw(st.integers(0, 2))):
        # Usually the level of a resource of the world, so the policy has something to open.
        like = draw(
            st.sampled_from(
                [None, *[r for r in world.resources.values() if r.type != "TRAINING_LOG"]]
            )
        )
        if like is not None:
            resource_type, code = like.type, like.visibility
        else:
            resource_type = draw(st.sampled_from(["WORKOUT", "PROGRAM", "INSTITUTION"]))
            levels = VISIBILITY_LEVELS[resource_type]
            preferred = [c for c in ("ROLE_BASED", "GROUP_BASED") if c in levels]
            code = draw(st.sampled_from([*preferred, *preferred, *levels]))
        policy = ref.VisibilityPolicy(
            visibility=code,
            resource_type=resource_type,
            permission=draw(st.sampled_from(POOL)),
            institution=draw(st.sampled_from([None, *institutions])),
            role=draw(st.sampled_from([None, *all_roles])),
            allow_guest=draw(rarely()),
            active=draw(mostly(0.85)),
        )
        identity = (code, resource_type, policy.permission, policy.institution, policy.role)
        if identity not in seen_vp:
            seen_vp.add(identity)
            world.visibility_policies.append(policy)

    # Policies (allow / deny rules) and where they are assigned.
    for i in range(draw(st.sampled_from([0, 1, 1, 2, 2, 3]))):
        key = f"pol{i}"
        world.policies[key] = ref.Policy(
            key,
            _rules(draw),
            policy_type=draw(st.sampled_from([t.value for t in PolicyType])),
            active=draw(mostly(0.85)),
        )
        for _ in range(draw(st.integers(1, 2))):
            assignee = draw(st.sampled_from(["ROLE", "ROLE", "PERMISSION", "INSTITUTION"]))
            if assignee == "INSTITUTION":
                institution = draw(st.sampled_from(institutions))
                if all(
                    (row.owner, row.target) != (institution, key)
                    for row in world.institution_policies
                ):
                    world.institution_policies.append(
                        ref.Flagged(institution, key, draw(mostly(0.85)))
                    )
            elif assignee == "PERMISSION":
                world.policy_assignments.append(
                    ref.PolicyAssignment(
                        key,
                        target_permission=draw(st.sampled_from(POOL)),
                        active=draw(mostly(0.85)),
                    )
                )
            else:
                scope_type = draw(st.sampled_from([None, None, "INSTITUTION", "DEPARTMENT"]))
                if scope_type == "DEPARTMENT" and not departments:
                    scope_type = None
                scope = None
                if scope_type == "INSTITUTION":
                    scope = draw(st.sampled_from(institutions))
                elif scope_type == "DEPARTMENT":
                    scope = draw(st.sampled_from(departments))
                world.policy_assignments.append(
                    ref.PolicyAssignment(
                        key,
                        target_role=draw(st.sampled_from(all_roles)),
                        scope_type=scope_type,
                        scope=scope,
                        active=draw(mostly(0.85)),
                    )
                )
    return world


@dataclass(frozen=True)
class Request:
    actor: str | None  # user key, None = guest
    action: str
    resource: str


def _on(rows: Sequence[Any]) -> list[Any]:
    return [dataclasses.replace(row, active=True) for row in rows]


def _on_map(rows: dict[str, Any]) -> dict[str, Any]:
    return {key: dataclasses.replace(row, active=True) for key, row in rows.items()}


def _allow_policies_only(world: ref.World) -> dict[str, Any]:
    allow = {k for k, p in world.policies.items() if p.rules["effect"] == "allow"}
    return {
        "policies": {k: dataclasses.replace(world.policies[k], active=True) for k in allow},
        "policy_assignments": _on([a for a in world.policy_assignments if a.policy in allow]),
        "institution_policies": _on([r for r in world.institution_policies if r.target in allow]),
    }


# One switch each that can stand between a request and an allow, turned on. A request the
# real world denies and one of these variants allows is a "near miss" on that switch: exactly
# where an engine's handling of is_active / expires_at / is_revoked / consent is tested.
RELAXATIONS: dict[str, Callable[[ref.World], dict[str, Any]]] = {
    "grant expiry": lambda w: {
        "grants": [dataclasses.replace(g, expires_at=None) for g in w.grants]
    },
    "grant inactive": lambda w: {"grants": _on(w.grants)},
    "user inactive": lambda w: {"users": _on_map(w.users)},
    "role inactive": lambda w: {"roles": _on_map(w.roles)},
    "user_role inactive": lambda w: {"user_roles": _on(w.user_roles)},
    "user_permission inactive": lambda w: {"user_permissions": _on(w.user_permissions)},
    "institution inactive": lambda w: {"institutions": _on_map(w.institutions)},
    "membership inactive": lambda w: {"memberships": _on_map(w.memberships)},
    "member row inactive": lambda w: {
        "member_roles": _on(w.member_roles),
        "member_permissions": _on(w.member_permissions),
        "department_permissions": _on(w.department_permissions),
    },
    "customer inactive": lambda w: {"customers": _on(w.customers)},
    "ownership flags": lambda w: {
        "ownerships": [
            dataclasses.replace(o, is_primary_owner=True, is_revoked=False) for o in w.ownerships
        ]
    },
    "invite revoked/expired": lambda w: {
        "share_invites": [
            dataclasses.replace(i, is_revoked=False, expires_at=w.now + dt.timedelta(days=365))
            for i in w.share_invites
        ]
    },
    "relation status/consent": lambda w: {
        "relations": {
            k: dataclasses.replace(
                r, status="ACTIVE", consent={"logs": True, "goals": True, "programs": True}
            )
            for k, r in w.relations.items()
        }
    },
    "department of a grant": lambda w: {
        "grants": [
            dataclasses.replace(
                g, scope_type="INSTITUTION", scope=w.departments[g.scope].institution
            )
            if g.scope_type == "DEPARTMENT" and g.scope is not None
            else g
            for g in w.grants
        ]
    },
    "hour of the decision": lambda w: {"now": w.now + dt.timedelta(hours=12)},
    "coach_can_see_logs": lambda w: {"coach_can_see_logs": {}, "coach_can_see_logs_default": True},
    "visibility policy inactive": lambda w: {"visibility_policies": _on(w.visibility_policies)},
    "visibility policy role": lambda w: {
        "visibility_policies": [dataclasses.replace(v, role=None) for v in w.visibility_policies]
    },
    "allow policy inactive / deny policy": _allow_policies_only,
}


def relaxed(world: ref.World, *names: str) -> ref.World:
    """The world with the named switches (all of RELAXATIONS when none) turned on."""
    changes: dict[str, Any] = {}
    for name in names or tuple(RELAXATIONS):
        changes.update(RELAXATIONS[name](world))
    return dataclasses.replace(world, **changes, memo={})


def _deny_variants(world: ref.World) -> list[ref.World]:
    """The world with every deny rule, its assignments and institution switches active, at
    the decision hour and twelve hours later (hours_utc)."""
    deny = {k for k, p in world.policies.items() if p.rules["effect"] == "deny"}
    if not deny:
        return []
    strict = dataclasses.replace(
        world,
        policies={
            k: dataclasses.replace(p, active=True) if k in deny else p
            for k, p in world.policies.items()
        },
        policy_assignments=[
            dataclasses.replace(a, active=True) if a.policy in deny else a
            for a in world.policy_assignments
        ],
        institution_policies=[
            dataclasses.replace(r, active=True) if r.target in deny else r
            for r in world.institution_policies
        ],
        memo={},
    )
    later = dataclasses.replace(strict, now=world.now + dt.timedelta(hours=12), memo={})
    return [strict, later]


def _without_denies(world: ref.World) -> ref.World:
    allow = {k for k, p in world.policies.items() if p.rules["effect"] == "allow"}
    return dataclasses.replace(
        world,
        policies={k: p for k, p in world.policies.items() if k in allow},
        policy_assignments=[a for a in world.policy_assignments if a.policy in allow],
        institution_policies=[r for r in world.institution_policies if r.target in allow],
        memo={},
    )


def _kind(world: ref.World, reason: str) -> str:
    """A coarse label of a reference reason: which kind of rule, not which row."""
    if reason.startswith("permission "):
        _, name, context = reason.split(" ", 2)
        permission = world.permissions[name]
        scope = "is_global" if permission.is_global else permission.scope
        where = context.split(",")[0].strip("('").lower()
        return f"permission {scope} from {where} context"
    return reason


def categorize(world: ref.World) -> dict[str, list[Request]]:
    """Every request about the world, grouped by how the reference model decides it:
    allowed through which kind of rule (or allowed only because a deny rule is switched off),
    denied by a deny rule, a near miss on one switch (``RELAXATIONS``), or plainly denied."""
    variants = {}
    for name, relax in RELAXATIONS.items():
        changes = relax(world)
        if any(getattr(world, field) != value for field, value in changes.items()):
            variants[name] = dataclasses.replace(world, **changes, memo={})
    stricter = _deny_variants(world)
    lenient = _without_denies(world)
    groups: dict[str, list[Request]] = {}
    for actor in (None, *world.users):
        for action in ref.ACTIONS:
            for key in world.resources:
                decision = ref.reference_decide(world, actor, action, key)
                if decision.allowed:
                    label = "allow: " + _kind(world, decision.reason)
                    if any(not ref.reference_authorize(v, actor, action, key) for v in stricter):
                        label = "allow: a deny rule is switched off or out of hours"
                elif decision.reason == "policy deny":
                    label = "deny: policy"
                    if ref.reference_authorize(lenient, actor, action, key):
                        label = "deny: policy over an allow"
                else:
                    label = "deny"
                    for name, variant in variants.items():
                        if ref.reference_authorize(variant, actor, action, key):
                            label = f"near miss: {name}"
                            break
                groups.setdefault(label, []).append(Request(actor, action, key))
    return groups


@st.composite
def listings(draw: st.DrawFn) -> tuple[ref.World, str]:
    """A world and one resource type it has rows of (what a list screen shows)."""
    world = draw(worlds(max_users=3))
    present = sorted({r.type for r in world.resources.values()})
    # Workouts and programs have most visibility levels: listed twice as often.
    weighted = [t for t in present for _ in range(2 if t in ("WORKOUT", "PROGRAM") else 1)]
    return world, draw(st.sampled_from(weighted))


COMMON_LABELS = (
    "deny",
    "allow: permission OWN from global context",
    "allow: permission INSTITUTION from global context",
    "allow: permission PUBLIC from global context",
    "allow: permission is_global from global context",
)


@st.composite
def scenarios(draw: st.DrawFn, max_requests: int = 4) -> tuple[ref.World, list[Request]]:
    """A world and (actor, action, resource) requests about it.

    Uniformly drawn requests are mostly plain denials. Instead the requests are grouped by
    how the reference model decides them (``categorize``: allowed through each kind of rule,
    denied by a deny rule, near misses on each switch, plain denials), and one request is
    asked per group, the rare groups first (near misses, deny rules, visibility, scoped
    permissions), common ones filling up to ``max_requests`` (each engine call costs)."""
    world = draw(worlds())
    groups = categorize(world)
    rare = [label for label in sorted(groups) if label not in COMMON_LABELS]
    common = [label for label in sorted(groups) if label in COMMON_LABELS]
    labels = draw(st.permutations(rare)) + draw(st.permutations(common))
    return world, [draw(st.sampled_from(groups[label])) for label in labels[:max_requests]]


# --------------------------------------------------------------------------------------------
# Materialization
# --------------------------------------------------------------------------------------------


@dataclass
class Catalog:
    """Ids of the seeded rows a world refers to (loaded once per test)."""

    roles: dict[str, uuid.UUID]
    permissions: dict[str, uuid.UUID]
    visibility: dict[tuple[str, str], uuid.UUID]
    difficulty_level: uuid.UUID


async def load_catalog(session: AsyncSession) -> Catalog:
    """Seeded ids, and the TEST permissions (created once, in the caller's transaction)."""
    names = [p.name for p in CUSTOM_PERMISSIONS]
    existing = set(
        (await session.scalars(select(Permission.name).where(Permission.name.in_(names)))).all()
    )
    missing = [p for p in CUSTOM_PERMISSIONS if p.name not in existing]
    if missing:
        await session.execute(
            insert(Permission),
            [
                {
                    "name": p.name,
                    "actor": p.name.split(".")[0],
                    "resource": p.resource,
                    "action": p.action,
                    "scope": p.scope,
                    "is_global": p.is_global,
                    "description": "property tests",
                }
                for p in missing
            ],
        )
    result = await session.execute(select(Role.code, Role.id).where(Role.institution_id.is_(None)))
    roles = dict(result.all())
    result = await session.execute(select(Permission.name, Permission.id))
    permissions = dict(result.all())
    visibility = {
        (code, str(kind)): id_
        for code, kind, id_ in await session.execute(
            select(Visibility.code, Visibility.resource_type, Visibility.id)
        )
    }
    difficulty = (await session.scalars(select(DifficultyLevel.id).limit(1))).one()
    return Catalog(roles, permissions, visibility, difficulty)


class Materialized(dict[str, uuid.UUID]):
    """World key -> database id (users, roles, institutions, departments, resources …)."""

    def key_of(self) -> dict[uuid.UUID, str]:
        return {v: k for k, v in self.items()}


async def _insert(session: AsyncSession, model: type[Any], rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(model), rows)


async def materialize(
    session: AsyncSession, world: ref.World, catalog: Catalog | None = None
) -> Materialized:
    """Write the world into the database (ORM models, seeded rows by name); return the ids."""
    from domain.services.settings import set_system_setting, set_user_setting

    if catalog is None:
        catalog = await load_catalog(session)
    ids = Materialized()
    now = world.now
    ids.update(catalog.roles)
    for key in (*world.users, *world.institutions, *world.departments, *world.memberships):
        ids[key] = uuid.uuid4()
    for key in (*world.relations, *world.policies, *world.resources):
        if key not in world.institutions:
            ids[key] = uuid.uuid4()

    def perm(name: str) -> uuid.UUID:
        return catalog.permissions[name]

    def vis(code: str, resource_type: str) -> uuid.UUID:
        return catalog.visibility[(code, resource_type)]

    await _insert(
        session,
        User,
        [
            {"id": ids[u.key], "first_name": u.key, "is_active": u.active}
            for u in world.users.values()
        ],
    )
    await _insert(
        session,
        Institution,
        [
            {
                "id": ids[i.key],
                "name": i.key,
                "is_active": i.active,
                "visibility_id": vis(i.visibility, "INSTITUTION"),
            }
            for i in world.institutions.values()
        ],
    )
    await _insert(
        session,
        InstitutionDepartment,
        [
            {"id": ids[d.key], "institution_id": ids[d.institution], "name": d.key}
            for d in world.departments.values()
        ],
    )

    # Roles: switch off system roles, create the institutions' own roles (parents first).
    for role in world.roles.values():
        if role.institution is None:
            if not role.active:
                await session.execute(
                    update(Role).where(Role.id == ids[role.key]).values(is_active=False)
                )
            continue
        ids[role.key] = uuid.uuid4()
        # "an institution's own role keeps its parent's type": the system role it refines.
        system = role.parent
        while system is not None and world.roles[system].institution is not None:
            system = world.roles[system].parent
        await _insert(
            session,
            Role,
            [
                {
                    "id": ids[role.key],
                    "institution_id": ids[role.institution],
                    "code": role.code,
                    "name": role.code.title(),
                    "type": RoleType(system or "MEMBER"),
                    "parent_role_id": ids[role.parent] if role.parent else None,
                    "is_active": role.active,
                }
            ],
        )
    _seeded, seeded_pairs = seeded_permissions()
    await _insert(
        session,
        RolePermission,
        [
            {"role_id": ids[r], "permission_id": perm(p), "is_active": True}
            for r, p in sorted(world.role_permissions - seeded_pairs)
        ],
    )
    await _insert(
        session,
        UserRole,
        [
            {"user_id": ids[row.owner], "role_id": ids[row.target], "is_active": row.active}
            for row in world.user_roles
        ],
    )
    await _insert(
        session,
        UserPermission,
        [
            {"user_id": ids[row.owner], "permission_id": perm(row.target), "is_active": row.active}
            for row in world.user_permissions
        ],
    )
    await _insert(
        session,
        InstitutionMember,
        [
            {
                "id": ids[m.key],
                "institution_id": ids[m.institution],
                "user_id": ids[m.user],
                "department_id": ids[m.department] if m.department else None,
                "is_active": m.active,
                "joined_at": now - dt.timedelta(days=100),
            }
            for m in world.memberships.values()
        ],
    )
    await _insert(
        session,
        InstitutionMemberRole,
        [
            {
                "institution_member_id": ids[row.owner],
                "role_id": ids[row.target],
                "is_active": row.active,
            }
            for row in world.member_roles
        ],
    )
    await _insert(
        session,
        InstitutionMemberPermission,
        [
            {
                "institution_member_id": ids[row.owner],
                "permission_id": perm(row.target),
                "is_active": row.active,
            }
            for row in world.member_permissions
        ],
    )
    await _insert(
        session,
        InstitutionDepartmentPermission,
        [
            {
                "institution_department_id": ids[row.owner],
                "permission_id": perm(row.target),
                "is_active": row.active,
            }
            for row in world.department_permissions
        ],
    )
    await _insert(
        session,
        ProfessionalClientRelation,
        [
            {
                "id": ids[r.key],
                "professional_id": ids[r.professional],
                "customer_id": ids[r.customer],
                "relation_type": ProfessionalRelationType.COACH,
                "status": r.status,
                "consent_scope": dict(r.consent),
                "consented_at": now - dt.timedelta(days=20) if r.status == "ACTIVE" else None,
            }
            for r in world.relations.values()
        ],
    )
    await _insert(
        session,
        InstitutionCustomer,
        [
            {
                "institution_id": ids[c.institution],
                "relation_id": ids[c.relation],
                "user_id": ids[c.user],
                "is_active": c.active,
                "linked_at": now - dt.timedelta(days=20),
            }
            for c in world.customers
        ],
    )

    # Resources.
    content = [r for r in world.resources.values() if r.type in ("WORKOUT", "PROGRAM")]
    await _insert(
        session,
        Workout,
        [
            {
                "id": ids[r.key],
                "owner_id": ids[r.owner] if r.owner else None,
                "institution_id": ids[r.institution] if r.institution else None,
                "name": r.key,
                "difficulty_level_id": catalog.difficulty_level,
                "visibility_id": vis(r.visibility, "WORKOUT"),
            }
            for r in content
            if r.type == "WORKOUT"
        ],
    )
    await _insert(
        session,
        Program,
        [
            {
                "id": ids[r.key],
                "owner_id": ids[r.owner] if r.owner else None,
                "institution_id": ids[r.institution] if r.institution else None,
                "title": r.key,
                "description": r.key,
                "difficulty_level_id": catalog.difficulty_level,
                "visibility_id": vis(r.visibility, "PROGRAM"),
            }
            for r in content
            if r.type == "PROGRAM"
        ],
    )
    await _insert(
        session,
        TrainingSession,
        [
            {
                "id": ids[r.key],
                "user_id": ids[r.owner or ""],
                "source": TrainingSessionSource.FREE_TEXT,
                "started_at": now - dt.timedelta(days=2),
            }
            for r in world.resources.values()
            if r.type == "TRAINING_LOG"
        ],
    )
    ownership_rows: list[dict[str, Any]] = []
    program_rows: list[dict[str, Any]] = []
    workout_rows: list[dict[str, Any]] = []
    for row in world.ownerships:
        ownership_id = uuid.uuid4()
        ownership_rows.append(
            {
                "id": ownership_id,
                "user_id": ids[row.user],
                "is_primary_owner": row.is_primary_owner,
                "can_edit": row.can_edit,
                "can_delete": row.can_delete,
                "is_revoked": row.is_revoked,
            }
        )
        if world.resources[row.resource].type == "PROGRAM":
            program_rows.append({"id": ownership_id, "program_id": ids[row.resource]})
        else:
            workout_rows.append({"id": ownership_id, "workout_id": ids[row.resource]})
    await _insert(session, UserOwnership, ownership_rows)
    await _insert(session, UserProgramOwnership, program_rows)
    await _insert(session, UserWorkoutOwnership, workout_rows)
    await _insert(
        session,
        UserShareInvite,
        [
            {
                "invited_by": ids[s.invited_by],
                "program_id": (
                    ids[s.resource] if world.resources[s.resource].type == "PROGRAM" else None
                ),
                "workout_id": (
                    ids[s.resource] if world.resources[s.resource].type == "WORKOUT" else None
                ),
                "sent_at": now - dt.timedelta(days=10),
                "accepted_by": ids[s.accepted_by] if s.accepted_by else None,
                "accepted_at": now - dt.timedelta(days=5) if s.accepted_by else None,
                "expires_at": s.expires_at,
                "is_active": True,
                "is_revoked": s.is_revoked,
            }
            for s in world.share_invites
        ],
    )

    # The privacy setting, through the settings service.
    if not world.coach_can_see_logs_default:
        await set_system_setting(session, "coach_can_see_logs", False)
    for user, value in world.coach_can_see_logs.items():
        await set_user_setting(session, ids[user], "coach_can_see_logs", value)

    # Grants, visibility policies, policies.
    await _insert(
        session,
        PermissionGrant,
        [
            {
                "grantee_type": GranteeType.ROLE if g.grantee_role else GranteeType.USER,
                "grantee_user_id": ids[g.grantee_user] if g.grantee_user else None,
                "grantee_role_id": ids[g.grantee_role] if g.grantee_role else None,
                "permission_id": perm(g.permission),
                "scope_type": GrantScopeType(g.scope_type) if g.scope_type else None,
                "scope_id": ids[g.scope] if g.scope else None,
                "granted_at": now - dt.timedelta(days=60),
                "expires_at": g.expires_at,
                "is_active": g.active,
            }
            for g in world.grants
        ],
    )
    await _insert(
        session,
        VisibilityPolicy,
        [
            {
                "visibility_id": vis(v.visibility, v.resource_type),
                "permission_id": perm(v.permission),
                "institution_id": ids[v.institution] if v.institution else None,
                "role_id": ids[v.role] if v.role else None,
                "allow_guest": v.allow_guest,
                "is_active": v.active,
            }
            for v in world.visibility_policies
        ],
    )
    await _insert(
        session,
        Policy,
        [
            {
                "id": ids[p.key],
                "name": f"{p.key}-{ids[p.key].hex[:12]}",
                "policy_type": PolicyType(p.policy_type),
                "policy_rules": dict(p.rules),
                "is_active": p.active,
            }
            for p in world.policies.values()
        ],
    )
    await _insert(
        session,
        PolicyAssignment,
        [
            {
                "policy_id": ids[a.policy],
                "target_type": (
                    PolicyTargetType.ROLE if a.target_role else PolicyTargetType.PERMISSION
                ),
                "target_role_id": ids[a.target_role] if a.target_role else None,
                "target_permission_id": (
                    perm(a.target_permission) if a.target_permission else None
                ),
                "scope_type": PolicyScopeType(a.scope_type) if a.scope_type else None,
                "scope_id": ids[a.scope] if a.scope else None,
                "is_active": a.active,
            }
            for a in world.policy_assignments
        ],
    )
    await _insert(
        session,
        InstitutionPolicy,
        [
            {
                "institution_id": ids[row.owner],
                "policy_id": ids[row.target],
                "is_active": row.active,
            }
            for row in world.institution_policies
        ],
    )
    await session.flush()
    return ids
