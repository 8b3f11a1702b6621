"""An independent reference model of the authorization rules of docs/access.md.

Plain Python over plain data: no SQL, no import of ``domain.access``. Every function below is
one paragraph of the specification, written from the text and cited next to the code, so that
a disagreement with the engine can be settled by re-reading the paragraph.

Entities are named by short string keys ("u0", "i1", "w3" …); ``worlds.materialize`` maps the
keys to database ids. System roles are keyed by their code (GUEST, MEMBER, COACH …).

Readings of the specification where its text leaves room are marked ``INTERPRETATION`` (the
final report of the property tests lists them).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ACTIONS = (
    "READ",
    "CREATE",
    "UPDATE",
    "DELETE",
    "SHARE",
    "ARCHIVE",
    "ASSIGN",
    "EXPORT",
    "INVITE",
    "MANAGE",
)

# Resource types this model (and the property tests) cover.
RESOURCE_TYPES = ("WORKOUT", "PROGRAM", "TRAINING_LOG", "INSTITUTION")

# "`CLIENT_LOG` permissions cover TRAINING_LOG rows"
PERMISSION_RESOURCE_ALIASES = {"CLIENT_LOG": "TRAINING_LOG"}

# RESOURCE_ID from a professional's role: the consent key the relation must allow.
CONSENT_KEYS = {
    "TRAINING_LOG": "logs",
    "GOAL": "goals",
    "PROGRAM": "programs",
    "WORKOUT": "programs",
}

Context = tuple[str, str | None]  # ("GLOBAL", None) | ("INSTITUTION", i) | ("RESOURCE", r)
GLOBAL: Context = ("GLOBAL", None)


# --------------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    key: str
    active: bool = True


@dataclass(frozen=True)
class Role:
    key: str  # the code for system roles; a unique key for an institution's own role
    code: str
    parent: str | None
    active: bool = True
    institution: str | None = None  # None = platform (system) role


@dataclass(frozen=True)
class Permission:
    name: str  # ACTOR.RESOURCE.ACTION
    scope: str | None  # OWN / INSTITUTION / PUBLIC / RESOURCE_ID, None only when is_global
    is_global: bool = False
    resource: str = field(init=False, repr=False, compare=False)
    action: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _actor, resource, action = self.name.split(".")
        object.__setattr__(self, "resource", resource)
        object.__setattr__(self, "action", action)


@dataclass(frozen=True)
class Institution:
    key: str
    active: bool = True
    visibility: str = "PRIVATE"


@dataclass(frozen=True)
class Department:
    key: str
    institution: str


@dataclass(frozen=True)
class Membership:
    key: str
    user: str
    institution: str
    department: str | None = None
    active: bool = True


@dataclass(frozen=True)
class Flagged:
    """A join row with an ``is_active`` flag: (owner key, target key, active)."""

    owner: str
    target: str
    active: bool = True


@dataclass(frozen=True)
class Grant:
    permission: str
    grantee_user: str | None = None
    grantee_role: str | None = None
    scope_type: str | None = None  # INSTITUTION / DEPARTMENT / RESOURCE
    scope: str | None = None  # institution / department / resource key
    expires_at: dt.datetime | None = None
    active: bool = True


@dataclass(frozen=True)
class Resource:
    key: str
    type: str  # WORKOUT / PROGRAM / TRAINING_LOG / INSTITUTION
    owner: str | None = None
    institution: str | None = None
    visibility: str = "PRIVATE"


@dataclass(frozen=True)
class Ownership:
    user: str
    resource: str
    is_primary_owner: bool = True
    can_edit: bool = False
    can_delete: bool = False
    is_revoked: bool = False


@dataclass(frozen=True)
class ShareInvite:
    resource: str
    invited_by: str
    accepted_by: str | None
    expires_at: dt.datetime
    is_revoked: bool = False


@dataclass(frozen=True)
class Relation:
    key: str
    professional: str
    customer: str
    status: str = "ACTIVE"  # ACTIVE / PENDING / ENDED / DECLINED
    consent: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class InstitutionCustomer:
    institution: str
    relation: str
    user: str
    active: bool = True


@dataclass(frozen=True)
class VisibilityPolicy:
    visibility: str
    resource_type: str
    permission: str
    institution: str | None = None
    role: str | None = None
    allow_guest: bool = False
    active: bool = True


@dataclass(frozen=True)
class Policy:
    key: str
    rules: Mapping[str, Any]  # the policy_rules JSON document
    policy_type: str = "RESOURCE_BASED"
    active: bool = True


@dataclass(frozen=True)
class PolicyAssignment:
    policy: str
    target_role: str | None = None
    target_permission: str | None = None
    scope_type: str | None = None  # INSTITUTION / DEPARTMENT
    scope: str | None = None
    active: bool = True


@dataclass
class World:
    now: dt.datetime
    users: dict[str, User] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    permissions: dict[str, Permission] = field(default_factory=dict)
    # (role key, permission name); all active (the seed's rows and the generated ones).
    role_permissions: set[tuple[str, str]] = field(default_factory=set)
    user_roles: list[Flagged] = field(default_factory=list)  # user -> role
    user_permissions: list[Flagged] = field(default_factory=list)  # user -> permission
    institutions: dict[str, Institution] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)
    memberships: dict[str, Membership] = field(default_factory=dict)
    member_roles: list[Flagged] = field(default_factory=list)  # membership -> role
    member_permissions: list[Flagged] = field(default_factory=list)  # membership -> perm
    department_permissions: list[Flagged] = field(default_factory=list)  # department -> perm
    customers: list[InstitutionCustomer] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    # WORKOUT / PROGRAM / TRAINING_LOG rows, and one INSTITUTION row per institution.
    resources: dict[str, Resource] = field(default_factory=dict)
    ownerships: list[Ownership] = field(default_factory=list)
    share_invites: list[ShareInvite] = field(default_factory=list)
    relations: dict[str, Relation] = field(default_factory=dict)
    # user -> value of the `coach_can_see_logs` user setting (absent = not set).
    coach_can_see_logs: dict[str, bool] = field(default_factory=dict)
    coach_can_see_logs_default: bool = True
    visibility_policies: list[VisibilityPolicy] = field(default_factory=list)
    policies: dict[str, Policy] = field(default_factory=dict)
    policy_assignments: list[PolicyAssignment] = field(default_factory=list)
    institution_policies: list[Flagged] = field(default_factory=list)  # institution -> policy
    # Memo of derived facts (roles, holdings) per actor; a world is not changed once built.
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:
        return f"World(\n{self.describe()}\n)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints failing examples with this (its own printer ignores __repr__)."""
        printer.text(repr(self))

    def describe(self) -> str:
        """A readable dump for failure messages (only the non-empty parts)."""
        lines = [f"now={self.now.isoformat()}"]
        for name in (
            "users",
            "institutions",
            "departments",
            "memberships",
            "relations",
            "resources",
        ):
            for value in getattr(self, name).values():
                lines.append(f"  {value}")
        custom_roles = [r for r in self.roles.values() if r.institution or not r.active]
        lines.extend(f"  {r}" for r in custom_roles)
        seeded = {(r, p) for r, p in self.role_permissions if r in self.roles}
        lines.extend(
            f"  role_permission {r} -> {p}"
            for r, p in sorted(seeded)
            if self.roles[r].institution or p.startswith("TEST.")
        )
        for name in (
            "user_roles",
            "user_permissions",
            "member_roles",
            "member_permissions",
            "department_permissions",
            "customers",
            "grants",
            "ownerships",
            "share_invites",
            "visibility_policies",
            "policy_assignments",
            "institution_policies",
        ):
            for value in getattr(self, name):
                lines.append(f"  {name[:-1]}: {value}")
        lines.extend(f"  {p}" for p in self.policies.values())
        if self.coach_can_see_logs:
            lines.append(f"  coach_can_see_logs={self.coach_can_see_logs}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Actors and roles
# --------------------------------------------------------------------------------------------


def is_guest(world: World, actor: str | None) -> bool:
    """Spec: "A guest (no account, or an inactive user) holds the role GUEST only."""
    return actor is None or not world.users[actor].active


def role_closure(world: World, role: str) -> set[str]:
    """Spec: "A role inherits every permission of its parent … Inactive roles grant nothing (and
    stop the inheritance through them)." Holding a role = holding it and its ancestors up to
    the first inactive one."""
    held: set[str] = set()
    current: str | None = role
    while current is not None and current not in held:
        spec = world.roles[current]
        if not spec.active:
            break
        held.add(current)
        current = spec.parent
    return held


def global_roles(world: World, actor: str | None) -> set[str]:
    """Guest: GUEST. User: MEMBER (implicit) plus every active user_role, with ancestors."""
    key = ("global_roles", actor)
    if key not in world.memo:
        world.memo[key] = _global_roles(world, actor)
    return set(world.memo[key])


def _global_roles(world: World, actor: str | None) -> set[str]:
    if is_guest(world, actor):
        return role_closure(world, "GUEST")
    held = role_closure(world, "MEMBER")
    for row in world.user_roles:
        if row.owner == actor and row.active:
            held |= role_closure(world, row.target)
    return held


def active_membership(world: World, actor: str | None, institution: str) -> Membership | None:
    """The actor's membership in the institution when it counts: an active user, an active
    membership, an active institution ("an active member of an active institution").

    INTERPRETATION: the same definition of "active member" is used everywhere (roles, member
    permissions, OWN on an institution, visibility levels)."""
    if is_guest(world, actor) or not world.institutions[institution].active:
        return None
    for membership in world.memberships.values():
        if membership.user == actor and membership.institution == institution and membership.active:
            return membership
    return None


def is_active_member(world: World, actor: str | None, institution: str | None) -> bool:
    return institution is not None and active_membership(world, actor, institution) is not None


def is_active_customer(world: World, actor: str | None, institution: str | None) -> bool:
    """An active ``institution_customer`` row of an active institution.

    INTERPRETATION: the institution_customer row's own flag decides (not the relation's
    status)."""
    if institution is None or is_guest(world, actor):
        return False
    if not world.institutions[institution].active:
        return False
    return any(
        c.institution == institution and c.user == actor and c.active for c in world.customers
    )


def institution_roles(world: World, actor: str | None, institution: str) -> set[str]:
    """Every active institution_member_role of an active membership, with ancestors
    ("effective in that institution only")."""
    key = ("institution_roles", actor, institution)
    if key not in world.memo:
        world.memo[key] = _institution_roles(world, actor, institution)
    return set(world.memo[key])


def _institution_roles(world: World, actor: str | None, institution: str) -> set[str]:
    membership = active_membership(world, actor, institution)
    if membership is None:
        return set()
    held: set[str] = set()
    for row in world.member_roles:
        if row.owner == membership.key and row.active:
            held |= role_closure(world, row.target)
    return held


def roles_in(world: World, actor: str | None, institution: str | None) -> set[str]:
    """Roles the actor holds "there": global roles and the institution's roles."""
    held = global_roles(world, actor)
    if institution is not None:
        held |= institution_roles(world, actor, institution)
    return held


# --------------------------------------------------------------------------------------------
# Permissions and their contexts
# --------------------------------------------------------------------------------------------


def grant_is_live(world: World, grant: Grant) -> bool:
    return grant.active and (grant.expires_at is None or grant.expires_at > world.now)


def grant_context(world: World, actor: str | None, grant: Grant) -> Context | None:
    """The context a grant gives this actor, or None when it does not reach them.

    "A grant to a role applies to users holding that role globally, or — for an institution-
    or department-scoped grant — holding it in that institution." A department scope → "its
    institution, members of D"."""
    if not grant_is_live(world, grant):
        return None
    institution: str | None = None
    if grant.scope_type == "INSTITUTION":
        institution = grant.scope
    elif grant.scope_type == "DEPARTMENT":
        assert grant.scope is not None
        institution = world.departments[grant.scope].institution

    if grant.grantee_user is not None:
        if is_guest(world, actor) or grant.grantee_user != actor:
            return None
    else:
        assert grant.grantee_role is not None
        held = global_roles(world, actor)
        if institution is not None:
            held = held | institution_roles(world, actor, institution)
        if grant.grantee_role not in held:
            return None

    if grant.scope_type == "DEPARTMENT":
        assert institution is not None
        membership = active_membership(world, actor, institution)
        if membership is None or membership.department != grant.scope:
            return None
        return ("INSTITUTION", institution)
    if grant.scope_type == "INSTITUTION":
        return ("INSTITUTION", institution)
    if grant.scope_type == "RESOURCE":
        return ("RESOURCE", grant.scope)
    return GLOBAL


def holdings(world: World, actor: str | None) -> list[tuple[str, Context]]:
    """Every (permission, context) the actor holds (the table "where a user gets them")."""
    key = ("holdings", actor)
    if key not in world.memo:
        world.memo[key] = _holdings(world, actor)
    return list(world.memo[key])


def _holdings(world: World, actor: str | None) -> list[tuple[str, Context]]:
    held: list[tuple[str, Context]] = []
    global_held = global_roles(world, actor)
    for role, permission in world.role_permissions:
        if role in global_held:
            held.append((permission, GLOBAL))
    if not is_guest(world, actor):
        for row in world.user_permissions:
            if row.owner == actor and row.active:
                held.append((row.target, GLOBAL))
        for institution in world.institutions:
            membership = active_membership(world, actor, institution)
            if membership is None:
                continue
            context: Context = ("INSTITUTION", institution)
            local_roles = institution_roles(world, actor, institution)
            for role, permission in world.role_permissions:
                if role in local_roles:
                    held.append((permission, context))
            for row in world.member_permissions:
                if row.owner == membership.key and row.active:
                    held.append((row.target, context))
            if membership.department is not None:
                for row in world.department_permissions:
                    if row.owner == membership.department and row.active:
                        held.append((row.target, context))
    for grant in world.grants:
        grant_ctx = grant_context(world, actor, grant)
        if grant_ctx is not None:
            held.append((grant.permission, grant_ctx))
    return held


def matching_holdings(
    world: World, actor: str | None, resource_type: str, action: str
) -> list[tuple[Permission, Context]]:
    """The holdings whose permission names this resource type and action (an index per actor
    is memoized: MANAGE is filed under every action)."""
    key = ("matching", actor)
    if key not in world.memo:
        index: dict[tuple[str, str], list[tuple[Permission, Context]]] = {}
        for name, context in holdings(world, actor):
            permission = world.permissions[name]
            covered = PERMISSION_RESOURCE_ALIASES.get(permission.resource, permission.resource)
            actions = ACTIONS if permission.action == "MANAGE" else (permission.action,)
            for one in actions:
                index.setdefault((covered, one), []).append((permission, context))
        world.memo[key] = index
    found: list[tuple[Permission, Context]] = world.memo[key].get((resource_type, action), [])
    return found  # shared: callers only read


# --------------------------------------------------------------------------------------------
# Ownership, relations, coverage
# --------------------------------------------------------------------------------------------


def visibility_code(resource: Resource) -> str:
    """TRAINING_LOG rows are "(always private)"."""
    return "PRIVATE" if resource.type == "TRAINING_LOG" else resource.visibility


def resource_institution(resource: Resource) -> str | None:
    """Spec: "The resource's institutions are its institution_id …"; an INSTITUTION is its own."""
    if resource.type == "INSTITUTION":
        return resource.key
    return resource.institution


def owns(world: World, actor: str | None, resource: Resource, action: str) -> bool:
    """OWN: "R's owner column is the actor, or — for PROGRAM and WORKOUT — the actor has a
    non-revoked user_ownership for R (READ always; UPDATE/ARCHIVE/SHARE only with
    is_primary_owner or can_edit; DELETE only with is_primary_owner or can_delete).
    For INSTITUTION, OWN means the actor is an active member."

    INTERPRETATION: a user_ownership row gives no other action (CREATE, ASSIGN, EXPORT …).
    """
    if is_guest(world, actor):
        return False
    if resource.type == "INSTITUTION":
        return is_active_member(world, actor, resource.key)
    if resource.owner is not None and resource.owner == actor:
        return True
    if resource.type not in ("PROGRAM", "WORKOUT"):
        return False
    for row in world.ownerships:
        if row.user != actor or row.resource != resource.key or row.is_revoked:
            continue
        if action == "READ":
            return True
        if action in ("UPDATE", "ARCHIVE", "SHARE") and (row.is_primary_owner or row.can_edit):
            return True
        if action == "DELETE" and (row.is_primary_owner or row.can_delete):
            return True
    return False


def coach_can_see_logs(world: World, client: str) -> bool:
    return world.coach_can_see_logs.get(client, world.coach_can_see_logs_default)


def client_relation_allows(world: World, actor: str | None, resource: Resource) -> bool:
    """RESOURCE_ID from a professional's role: "R's owner is a client of the actor through an
    ACTIVE user_professional_customer_relation whose consent_scope allows it (`logs` for
    TRAINING_LOG, `goals` for GOAL, `programs` for PROGRAM/WORKOUT …) and — for TRAINING_LOG —
    the client's setting `coach_can_see_logs` is not false."""
    if is_guest(world, actor) or resource.owner is None:
        return False
    key = CONSENT_KEYS.get(resource.type)
    if key is None:
        return False
    for relation in world.relations.values():
        if (
            relation.professional == actor
            and relation.customer == resource.owner
            and relation.status == "ACTIVE"
            and relation.consent.get(key) is True
        ):
            return resource.type != "TRAINING_LOG" or coach_can_see_logs(world, resource.owner)
    return False


def permission_matches(permission: Permission, resource_type: str, action: str) -> bool:
    """RESOURCE and ACTION decide what a permission covers; MANAGE covers every action."""
    covered = PERMISSION_RESOURCE_ALIASES.get(permission.resource, permission.resource)
    return covered == resource_type and permission.action in (action, "MANAGE")


def covers(
    world: World,
    actor: str | None,
    permission: Permission,
    context: Context,
    resource: Resource,
    action: str,
) -> bool:
    """Spec: "When a permission covers a resource (scope)"."""
    if not permission_matches(permission, resource.type, action):
        return False
    kind, where = context
    if permission.is_global:
        # INTERPRETATION (settled with the property tests, see test_spec_readings.py): held
        # in an institution context, is_global covers every row OF THAT INSTITUTION. The
        # scope rule says "every row", but institution roles are "effective in that
        # institution only" and an institution ADMIN is not a platform admin (roles.yaml:
        # ADMIN's is_global permissions apply everywhere only as a platform role). The other
        # scopes are applied as written: only INSTITUTION consults the context, so an
        # institution COACH still reads a consenting client's logs (RESOURCE_ID), and PUBLIC
        # and OWN reach public / own rows wherever they are.
        return kind != "INSTITUTION" or resource_institution(resource) == where
    if permission.scope == "PUBLIC":
        return visibility_code(resource) in ("PUBLIC", "SYSTEM")
    if permission.scope == "OWN":
        return owns(world, actor, resource, action)
    if permission.scope == "INSTITUTION":
        institution = resource_institution(resource)
        if institution is None:
            return False
        if kind == "INSTITUTION":
            return institution == where
        if kind == "GLOBAL":
            return is_active_member(world, actor, institution)
        return False  # resource context: not generated (undefined by the specification)
    if permission.scope == "RESOURCE_ID":
        if kind == "RESOURCE":
            return resource.key == where
        return client_relation_allows(world, actor, resource)
    return False


# --------------------------------------------------------------------------------------------
# Visibility (READ only)
# --------------------------------------------------------------------------------------------


def owner_department(world: World, resource: Resource, institution: str) -> str | None:
    """Spec: "the owner's department there": the department of the owner's membership in R's
    institution. INTERPRETATION: the owner's membership row is read as it is (its is_active
    flag is not consulted)."""
    if resource.owner is None:
        return None
    for membership in world.memberships.values():
        if membership.user == resource.owner and membership.institution == institution:
            return membership.department
    return None


def visibility_level_allows(world: World, actor: str | None, resource: Resource) -> bool:
    if resource.type == "TRAINING_LOG":
        return False
    code = visibility_code(resource)
    institution = resource_institution(resource)
    guest = is_guest(world, actor)
    if code in ("PUBLIC", "SYSTEM"):
        # Everyone holding a READ permission of the type with scope PUBLIC, guests included.
        return any(
            (p := world.permissions[name]).scope == "PUBLIC"
            and p.action == "READ"
            and PERMISSION_RESOURCE_ALIASES.get(p.resource, p.resource) == resource.type
            for name, _ in holdings(world, actor)
        )
    if code == "SHARED":
        if guest or resource.type not in ("PROGRAM", "WORKOUT"):
            return False
        return any(
            invite.resource == resource.key
            and invite.accepted_by == actor
            and not invite.is_revoked
            and invite.expires_at > world.now
            for invite in world.share_invites
        )
    if code == "CUSTOMER_SHARED":
        if guest or resource.owner is None:
            return False
        return any(
            relation.professional == resource.owner
            and relation.customer == actor
            and relation.status == "ACTIVE"
            for relation in world.relations.values()
        )
    if code == "INSTITUTION":
        return is_active_member(world, actor, institution) or is_active_customer(
            world, actor, institution
        )
    if code == "INSTITUTION_MEMBER":
        return is_active_member(world, actor, institution)
    if code == "INSTITUTION_CUSTOMER":
        if is_active_customer(world, actor, institution):
            return True
        return is_active_member(world, actor, institution) and bool(
            {"COACH", "ADMIN"} & roles_in(world, actor, institution)
        )
    if code == "INSTITUTION_DEPARTMENT":
        if institution is None:
            return False
        membership = active_membership(world, actor, institution)
        if membership is None or membership.department is None:
            return False
        return membership.department == owner_department(world, resource, institution)
    if code == "INTERNAL":
        return is_active_member(world, actor, institution) and "ADMIN" in roles_in(
            world, actor, institution
        )
    return False  # PRIVATE; ROLE_BASED and GROUP_BASED only through a visibility policy


def visibility_policy_allows(world: World, actor: str | None, resource: Resource) -> bool:
    """Spec: "Visibility policies (active) add READ paths for their visibility level (code ×
    resource type): the actor may read R when the policy's institution is NULL or R's
    institution, the actor holds the policy's role (NULL = any) globally or in R's
    institution, and the actor holds the policy's required permission (any context) — or the
    actor is a guest and allow_guest is true."

    INTERPRETATION: allow_guest replaces only the required-permission condition."""
    if resource.type == "TRAINING_LOG":
        return False
    code = visibility_code(resource)
    institution = resource_institution(resource)
    held_permissions: set[str] | None = None
    for policy in world.visibility_policies:
        if not policy.active or policy.visibility != code:
            continue
        if policy.resource_type != resource.type:
            continue
        if policy.institution is not None and policy.institution != institution:
            continue
        if policy.role is not None and policy.role not in roles_in(world, actor, institution):
            continue
        if held_permissions is None:
            held_permissions = {name for name, _ in holdings(world, actor)}
        if policy.permission in held_permissions:
            return True
        if is_guest(world, actor) and policy.allow_guest:
            return True
    return False


# --------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------


def hour_in(hour: int, start: int, end: int) -> bool:
    """`hours_utc` is `[from, to)`; `[22, 6]` wraps midnight."""
    if start <= end:
        return start <= hour < end
    return hour >= start or hour < end


def when_holds(
    world: World,
    actor: str | None,
    resource: Resource,
    action: str,
    when: Mapping[str, Any],
    scope_institution: str | None,
) -> bool:
    """`when` fields, "all optional, all must hold".

    INTERPRETATION: `actor_is_owner` is the OWN test for the requested action;
    `resource_in_institution` is false when the assignment has no scope institution."""
    if "visibility_in" in when and visibility_code(resource) not in when["visibility_in"]:
        return False
    if "actor_is_owner" in when and owns(world, actor, resource, action) != when["actor_is_owner"]:
        return False
    if "actor_is_guest" in when and is_guest(world, actor) != when["actor_is_guest"]:
        return False
    if "resource_in_institution" in when:
        inside = (
            scope_institution is not None and resource_institution(resource) == scope_institution
        )
        if inside != when["resource_in_institution"]:
            return False
    if "hours_utc" in when:
        start, end = when["hours_utc"]
        if not hour_in(world.now.hour, start, end):
            return False
    return True


def rule_matches(
    world: World,
    actor: str | None,
    resource: Resource,
    action: str,
    rules: Mapping[str, Any],
    scope_institution: str | None,
) -> bool:
    actions = rules["actions"]
    types = rules["resource_types"]
    if "*" not in actions and action not in actions:
        return False
    if "*" not in types and resource.type not in types:
        return False
    return when_holds(world, actor, resource, action, rules.get("when") or {}, scope_institution)


def applicable_effects(
    world: World, actor: str | None, resource: Resource, action: str
) -> list[str]:
    """Effects of the active, assigned policies whose rule matches the request."""
    effects: list[str] = []
    institution = resource_institution(resource)

    def consider(policy_key: str, scope_institution: str | None) -> None:
        policy = world.policies[policy_key]
        if policy.active and rule_matches(
            world, actor, resource, action, policy.rules, scope_institution
        ):
            effects.append(policy.rules["effect"])

    for assignment in world.policy_assignments:
        if not assignment.active:
            continue
        if assignment.target_role is not None:
            # "actors holding that role (globally, or — when the assignment is scoped to an
            # institution/department — in that institution, for resources of that
            # institution)". INTERPRETATION: a department scope means its institution (no
            # department membership is required).
            if assignment.scope_type is None:
                if assignment.target_role in global_roles(world, actor):
                    consider(assignment.policy, None)
                continue
            assert assignment.scope is not None
            scope = (
                assignment.scope
                if assignment.scope_type == "INSTITUTION"
                else world.departments[assignment.scope].institution
            )
            if institution == scope and assignment.target_role in roles_in(world, actor, scope):
                consider(assignment.policy, scope)
        else:
            # "requests that permission would cover": the permission, as if held by the actor
            # (global context), covers the request. INTERPRETATION: a deny then denies the
            # request outright ("an applicable deny wins over everything").
            assert assignment.target_permission is not None
            permission = world.permissions[assignment.target_permission]
            if covers(world, actor, permission, GLOBAL, resource, action):
                consider(assignment.policy, None)
    for row in world.institution_policies:
        if row.active and institution == row.owner:
            consider(row.target, row.owner)
    return effects


# --------------------------------------------------------------------------------------------
# The decision
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceDecision:
    allowed: bool
    reason: str


def reference_decide(
    world: World, actor: str | None, action: str, resource_key: str, now: dt.datetime | None = None
) -> ReferenceDecision:
    """Spec: "Order of evaluation: an applicable deny wins over everything (even an owner, even a
    platform admin's is_global); otherwise any allow (permission, visibility, visibility
    policy, allow rule) allows; otherwise deny."""
    if now is not None and now != world.now:
        world = _at(world, now)
    resource = world.resources[resource_key]
    effects = applicable_effects(world, actor, resource, action)
    if "deny" in effects:
        return ReferenceDecision(False, "policy deny")
    for permission, context in matching_holdings(world, actor, resource.type, action):
        if covers(world, actor, permission, context, resource, action):
            return ReferenceDecision(True, f"permission {permission.name} {context}")
    if action == "READ":
        if visibility_level_allows(world, actor, resource):
            return ReferenceDecision(True, f"visibility {visibility_code(resource)}")
        if visibility_policy_allows(world, actor, resource):
            return ReferenceDecision(True, "visibility policy")
    if "allow" in effects:
        return ReferenceDecision(True, "policy allow")
    return ReferenceDecision(False, "no rule allows it")


def reference_authorize(
    world: World, actor: str | None, action: str, resource_key: str, now: dt.datetime | None = None
) -> bool:
    """May ``actor`` (a user key, or None for a guest) do ``action`` on the resource?"""
    return reference_decide(world, actor, action, resource_key, now).allowed


def reference_visible(
    world: World, actor: str | None, resource_type: str, keys: Iterable[str] | None = None
) -> set[str]:
    """The resources of a type the actor may READ (what `visible` must select)."""
    candidates = keys if keys is not None else world.resources
    return {
        key
        for key in candidates
        if world.resources[key].type == resource_type
        and reference_authorize(world, actor, "READ", key)
    }


def _at(world: World, now: dt.datetime) -> World:
    return dataclasses.replace(world, now=now, memo={})
