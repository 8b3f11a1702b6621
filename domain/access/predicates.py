"""Rules as SQL: for (actor, action, resource type), the named boolean expressions that decide.

Every path of docs/access.md becomes one *rule*: a SQL boolean correlated to the resource
table's row and parameterized by the actor's id (permission paths, visibility levels, the
visibility-policy path, each policy binding's allow or deny). The same list serves both
questions:

* ``visible`` = NOT (any deny) AND (any allow), for ``select(...).where(...)``;
* ``authorize`` selects every rule's boolean for one row (``WHERE id = :id``), so it can say
  which rules matched.

What the actor holds (roles with inheritance, memberships, permissions with their context) is
computed by CTEs at the top of the statement, once per statement. Rules test the row against
those sets with ``IN (SELECT …)`` (hashed) or uncorrelated ``EXISTS`` (evaluated once), so a
list query stays a cheap filter per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    and_,
    bindparam,
    cast,
    exists,
    extract,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, aggregate_order_by
from sqlalchemy.types import Boolean, DateTime, Integer, String, Text, Uuid

from domain.access.policies import (
    PermissionFacts,
    PolicyBinding,
    PolicySet,
    bindings_subquery,
    sql_document_is_valid,
)
from domain.access.resources import ResourceSpec, spec_for
from domain.access.rules import WILDCARD, When, hour_in
from domain.access.sqlutil import case_when, in_constants, sql_string
from domain.access.types import Action, Actor, Effect
from domain.models.access import (
    GrantScopeType,
    Permission,
    PermissionGrant,
    PermissionScope,
    Role,
    RolePermission,
    Visibility,
    VisibilityPolicy,
)
from domain.models.institution import (
    Institution,
    InstitutionCustomer,
    InstitutionDepartment,
    InstitutionDepartmentPermission,
    InstitutionMember,
    InstitutionMemberPermission,
    InstitutionMemberRole,
)
from domain.models.setting import Setting, SystemSettingValue, UserSettingValue
from domain.models.user import (
    ProfessionalClientRelation,
    ProfessionalRelationStatus,
    User,
    UserOwnership,
    UserPermission,
    UserRole,
    UserShareInvite,
)

COACH_CAN_SEE_LOGS = "coach_can_see_logs"
MANAGE = Action.MANAGE.value

# Context kinds of a held permission (docs/access.md, "Permissions and where a user gets them").
GLOBAL = "G"
IN_INSTITUTION = "I"
ON_RESOURCE = "R"

# Actions a user_ownership row gives, and the flag it needs (None: any non-revoked row).
_OWNERSHIP_ACTIONS: dict[str, tuple[str, ...] | None] = {
    Action.READ: None,
    Action.UPDATE: ("is_primary_owner", "can_edit"),
    Action.ARCHIVE: ("is_primary_owner", "can_edit"),
    Action.SHARE: ("is_primary_owner", "can_edit"),
    Action.DELETE: ("is_primary_owner", "can_delete"),
}

_UUID_NULL = cast(null(), Uuid)
_TIMESTAMPTZ = DateTime(timezone=True)
_TEXT_ARRAY = ARRAY(Text)
_INT = Integer()


@dataclass(frozen=True)
class Rule:
    """One named path: its SQL boolean (``condition``), and optionally an SQL text saying what
    it matched with (``witness``) or a fixed ``detail``."""

    name: str
    effect: Effect
    condition: ColumnElement[bool]
    # Built only when a decision is explained (authorize), never for visible().
    witness: Callable[[], ColumnElement[Any]] | None = None
    detail: str | None = None


@lru_cache(maxsize=128)
def _relevant_bindings(resource_type: str, action: str) -> CTE:
    """The active bindings whose document is valid and speaks about (action, type); the same
    for every actor, so built once and shared."""
    sub = bindings_subquery()
    rules_doc = sub.c.rules
    return (
        select(sub)
        .where(
            sql_document_is_valid(rules_doc),
            or_(sub.c.scoped.is_(False), sub.c.scope_institution_id.is_not(None)),
            rules_doc["actions"].op("?|")(cast(literal([action, WILDCARD]), _TEXT_ARRAY)),
            rules_doc["resource_types"].op("?|")(
                cast(literal([resource_type, WILDCARD]), _TEXT_ARRAY)
            ),
        )
        .cte(f"access_policy_{resource_type.lower()}")
        .prefix_with("MATERIALIZED")
    )


def _names_of(matching: Select[Any], name: ColumnElement[Any]) -> ColumnElement[Any]:
    return matching.with_only_columns(
        func.string_agg(name.distinct(), aggregate_order_by(literal_column("', '"), name))
    ).scalar_subquery()


def combine(rules: list[Rule]) -> ColumnElement[bool]:
    """NOT (any deny) AND (any allow); NULL never leaks through a NOT."""
    allows = [rule.condition for rule in rules if rule.effect == "allow"]
    denies = [rule.condition for rule in rules if rule.effect == "deny"]
    allowed: ColumnElement[bool] = or_(*allows) if allows else false()
    if not denies:
        return allowed
    return and_(allowed, not_(func.coalesce(or_(*denies), false())))


def _nn(expr: ColumnElement[bool]) -> ColumnElement[bool]:
    """NULL-safe boolean (for use under NOT or in comparisons)."""
    return func.coalesce(expr, false())


Hour = int | ColumnElement[Any]


@dataclass(frozen=True)
class Inputs:
    """What varies per request, as SQL: the actor's id (NULL for a guest), the decision time
    and its UTC hour (a Python int makes ``hours_utc`` a constant)."""

    actor_id: ColumnElement[Any]
    now: ColumnElement[Any]
    hour: Hour

    @classmethod
    def parameters(cls, hour: int) -> Inputs:
        """Named bind parameters (``access_actor_id``, ``access_now``) filled at execution; the
        hour is fixed so the statement can be cached per hour."""
        return cls(
            bindparam("access_actor_id", type_=Uuid),
            bindparam("access_now", type_=_TIMESTAMPTZ),
            hour,
        )

    @classmethod
    def from_input_cte(cls, resource_type: str, hour: int | None) -> Inputs:
        """Read from the one-row CTE ``input_cte()`` puts at the top of the statement, so the
        rules built on them serve every actor (``visible`` caches them). ``hour`` None: the
        decision time is the database's ``now()``."""
        # The name comes from ResourceKind (checked by input_cte_name): no input reaches the SQL.
        name = input_cte_name(resource_type)
        actor_id = literal_column(f"(SELECT actor_id FROM {name})", Uuid)  # noqa: S608
        if hour is None:
            now = func.now()
            return cls(actor_id, now, extract("hour", func.timezone(sql_string("UTC"), now)))
        now_sql = f"(SELECT now FROM {name})"  # noqa: S608
        return cls(actor_id, literal_column(now_sql, _TIMESTAMPTZ), hour)


def input_cte_name(resource_type: str) -> str:
    return f"access_input_{spec_for(resource_type).kind.value.lower()}"


def input_cte(resource_type: str, actor: Actor, now: dt.datetime | None) -> CTE:
    """``WITH access_input_<type> AS (SELECT <actor id> AS actor_id, <now> AS now)``."""
    # Explicit casts: the CTE's columns are typed however the statement is rendered.
    moment = cast(null() if now is None else literal(_utc(now), _TIMESTAMPTZ), _TIMESTAMPTZ)
    actor_id = cast(_actor_literal(actor), Uuid)
    return select(actor_id.label("actor_id"), moment.label("now")).cte(
        input_cte_name(resource_type)
    )


def _utc(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    return now.astimezone(dt.UTC)


def _actor_literal(actor: Actor) -> ColumnElement[Any]:
    # A bind parameter even for a guest (NULL): one statement text for every actor.
    return literal(actor.user_id, Uuid)


class RuleBuilder:
    """Builds the rules of one (action, resource type) for the given inputs."""

    def __init__(self, resource_type: str, action: str, inputs: Inputs) -> None:
        self.spec: ResourceSpec = spec_for(resource_type)
        self.action: str = Action(str(action).upper()).value
        self.inputs = inputs
        users = User.__table__
        # The actor counts only while active; an inactive (or unknown) user is a guest.
        self.me: ColumnElement[Any] = (
            select(users.c.id)
            .where(users.c.id == inputs.actor_id, users.c.is_active)
            .scalar_subquery()
        )
        # Row facts used by several rules: built once per builder, shared in the tree.
        self._memo: dict[tuple[str, ...], ColumnElement[bool]] = {}
        suffix = self.spec.kind.value.lower()
        self._memberships = self._memberships_cte(f"access_membership_{suffix}")
        self._customerships = self._customerships_cte(f"access_customership_{suffix}")
        self._roles = self._roles_cte(f"access_role_{suffix}")
        self._held = self._held_cte(f"access_held_{suffix}")

    # ----------------------------------------------------------------------------------
    # What the actor holds (CTEs)
    # ----------------------------------------------------------------------------------

    @property
    def is_guest(self) -> ColumnElement[bool]:
        return self.me.is_(None)

    def _memberships_cte(self, name: str) -> CTE:
        member = InstitutionMember.__table__
        institution = Institution.__table__
        return (
            select(
                member.c.id.label("member_id"),
                member.c.institution_id,
                member.c.department_id,
            )
            .join(institution, institution.c.id == member.c.institution_id)
            .where(member.c.user_id == self.me, member.c.is_active, institution.c.is_active)
            .cte(name)
        )

    def _customerships_cte(self, name: str) -> CTE:
        customer = InstitutionCustomer.__table__
        institution = Institution.__table__
        return (
            select(customer.c.institution_id)
            .join(institution, institution.c.id == customer.c.institution_id)
            .where(customer.c.user_id == self.me, customer.c.is_active, institution.c.is_active)
            .cte(name)
        )

    def _roles_cte(self, name: str) -> CTE:
        """(role_id, institution_id): every role held, with its ancestors; institution_id NULL
        for a global role, else the institution the role is held in."""
        role = Role.__table__
        user_role = UserRole.__table__
        member_role = InstitutionMemberRole.__table__
        mem = self._memberships

        def system_role(code: str) -> Select[Any]:
            return select(role.c.id.label("role_id"), _UUID_NULL.label("institution_id")).where(
                role.c.institution_id.is_(None), role.c.code == code
            )

        start = union_all(
            system_role("GUEST").where(self.is_guest),
            system_role("MEMBER").where(self.me.is_not(None)),
            select(user_role.c.role_id, _UUID_NULL).where(
                user_role.c.user_id == self.me, user_role.c.is_active
            ),
            select(member_role.c.role_id, mem.c.institution_id)
            .join(mem, mem.c.member_id == member_role.c.institution_member_id)
            .where(member_role.c.is_active),
        ).subquery("held_role")
        closure = (
            select(start.c.role_id, start.c.institution_id)
            .join(role, role.c.id == start.c.role_id)
            .where(role.c.is_active)
            .cte(name, recursive=True)
        )
        child = role.alias("child_role")
        parent = role.alias("parent_role")
        return closure.union(
            select(child.c.parent_role_id, closure.c.institution_id)
            .join(child, child.c.id == closure.c.role_id)
            .join(parent, parent.c.id == child.c.parent_role_id)
            .where(parent.c.is_active)
        )

    def _held_cte(self, name: str) -> CTE:
        """(permission …, ctx, ctx_institution_id, ctx_resource_id, source): every permission
        the actor holds and where it applies."""
        roles = self._roles
        mem = self._memberships
        role = Role.__table__
        role_permission = RolePermission.__table__
        user_permission = UserPermission.__table__
        member_permission = InstitutionMemberPermission.__table__
        department_permission = InstitutionDepartmentPermission.__table__
        grant = PermissionGrant.__table__
        department = InstitutionDepartment.__table__
        institution = Institution.__table__
        grantee_role = role.alias("grantee_role")

        def ctx(kind: str) -> ColumnElement[str]:
            return literal(kind, String)

        inst_label = func.coalesce(institution.c.slug, institution.c.name)
        from_global_roles = (
            select(
                role_permission.c.permission_id,
                ctx(GLOBAL).label("ctx"),
                _UUID_NULL.label("ctx_institution_id"),
                _UUID_NULL.label("ctx_resource_id"),
                func.concat("role ", role.c.code).label("source"),
            )
            .join(roles, roles.c.role_id == role_permission.c.role_id)
            .join(role, role.c.id == role_permission.c.role_id)
            .where(role_permission.c.is_active, roles.c.institution_id.is_(None))
        )
        from_institution_roles = (
            select(
                role_permission.c.permission_id,
                ctx(IN_INSTITUTION),
                roles.c.institution_id,
                _UUID_NULL,
                func.concat("role ", role.c.code, " in ", inst_label),
            )
            .join(roles, roles.c.role_id == role_permission.c.role_id)
            .join(role, role.c.id == role_permission.c.role_id)
            .join(institution, institution.c.id == roles.c.institution_id)
            .where(role_permission.c.is_active)
        )
        from_user = select(
            user_permission.c.permission_id,
            ctx(GLOBAL),
            _UUID_NULL,
            _UUID_NULL,
            literal("user permission", String),
        ).where(user_permission.c.user_id == self.me, user_permission.c.is_active)
        from_member = (
            select(
                member_permission.c.permission_id,
                ctx(IN_INSTITUTION),
                mem.c.institution_id,
                _UUID_NULL,
                func.concat("member permission in ", inst_label),
            )
            .join(mem, mem.c.member_id == member_permission.c.institution_member_id)
            .join(institution, institution.c.id == mem.c.institution_id)
            .where(member_permission.c.is_active)
        )
        from_department = (
            select(
                department_permission.c.permission_id,
                ctx(IN_INSTITUTION),
                mem.c.institution_id,
                _UUID_NULL,
                func.concat("department permission in ", inst_label),
            )
            .join(mem, mem.c.department_id == department_permission.c.institution_department_id)
            .join(institution, institution.c.id == mem.c.institution_id)
            .where(department_permission.c.is_active)
        )
        grant_institution = case_when(
            (grant.c.scope_type == GrantScopeType.INSTITUTION, grant.c.scope_id),
            (grant.c.scope_type == GrantScopeType.DEPARTMENT, department.c.institution_id),
            else_=_UUID_NULL,
        )
        institution_scoped = in_constants(
            grant.c.scope_type, [GrantScopeType.INSTITUTION, GrantScopeType.DEPARTMENT]
        )
        from_grants = (
            select(
                grant.c.permission_id,
                case_when(
                    (grant.c.scope_type.is_(None), ctx(GLOBAL)),
                    (grant.c.scope_type == GrantScopeType.RESOURCE, ctx(ON_RESOURCE)),
                    else_=ctx(IN_INSTITUTION),
                ),
                grant_institution,
                case_when(
                    (grant.c.scope_type == GrantScopeType.RESOURCE, grant.c.scope_id),
                    else_=_UUID_NULL,
                ),
                case_when(
                    (grant.c.grantee_user_id.is_not(None), literal("grant to user", String)),
                    else_=func.concat("grant to role ", grantee_role.c.code),
                ),
            )
            .outerjoin(
                department,
                and_(
                    grant.c.scope_type == GrantScopeType.DEPARTMENT,
                    department.c.id == grant.c.scope_id,
                ),
            )
            .outerjoin(grantee_role, grantee_role.c.id == grant.c.grantee_role_id)
            .where(
                grant.c.is_active,
                or_(grant.c.expires_at.is_(None), grant.c.expires_at > self._now_param),
                or_(
                    grant.c.grantee_user_id == self.me,
                    grant.c.grantee_role_id.in_(
                        select(roles.c.role_id).where(roles.c.institution_id.is_(None))
                    ),
                    and_(
                        institution_scoped,
                        exists(
                            select(1)
                            .select_from(roles)
                            .where(
                                roles.c.role_id == grant.c.grantee_role_id,
                                roles.c.institution_id == grant_institution,
                            )
                        ),
                    ),
                ),
                # A department-scoped grant reaches the department's active members only.
                or_(
                    grant.c.scope_type.is_(None),
                    grant.c.scope_type != GrantScopeType.DEPARTMENT,
                    exists(
                        select(1)
                        .select_from(mem)
                        .where(
                            mem.c.department_id == grant.c.scope_id,
                            mem.c.institution_id == department.c.institution_id,
                        )
                    ),
                ),
            )
        )
        raw = union_all(
            from_global_roles,
            from_institution_roles,
            from_user,
            from_member,
            from_department,
            from_grants,
        ).subquery("held_raw")
        permission = Permission.__table__
        return (
            select(
                raw.c.permission_id,
                raw.c.ctx,
                raw.c.ctx_institution_id,
                raw.c.ctx_resource_id,
                raw.c.source,
                permission.c.name,
                permission.c.resource,
                permission.c.action,
                cast(permission.c.scope, String).label("scope"),
                permission.c.is_global,
            )
            .join(permission, permission.c.id == raw.c.permission_id)
            .cte(name)
        )

    @property
    def _now_param(self) -> ColumnElement[Any]:
        return self.inputs.now

    # ----------------------------------------------------------------------------------
    # Row facts
    # ----------------------------------------------------------------------------------

    def _inst(self) -> ColumnElement[Any] | None:
        return self.spec.institution

    def _held_match(
        self, *conditions: ColumnElement[bool], action: str | None = None
    ) -> Select[Any]:
        """Held permissions on this resource type covering ``action`` (default: the request's)."""
        held = self._held
        wanted = self.action if action is None else action
        return (
            select(1)
            .select_from(held)
            .where(
                in_constants(held.c.resource, self.spec.permission_resources),
                in_constants(held.c.action, sorted({wanted, MANAGE})),
                *conditions,
            )
        )

    def _witness(self, *conditions: ColumnElement[bool]) -> ColumnElement[Any]:
        """Names and sources of the held permissions meeting ``conditions`` (for explain)."""
        held = self._held
        label = func.concat(
            held.c.name,
            " (",
            case_when((held.c.is_global, "global"), else_=func.coalesce(held.c.scope, "no scope")),
            ") via ",
            held.c.source,
        )
        return (
            self._held_match(*conditions)
            .with_only_columns(
                func.string_agg(label.distinct(), aggregate_order_by(literal_column("', '"), label))
            )
            .scalar_subquery()
        )

    def _memoized(
        self, key: tuple[str, ...], build: Callable[[], ColumnElement[bool]]
    ) -> ColumnElement[bool]:
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def _visibility_in(self, codes: list[str]) -> ColumnElement[bool]:
        return self._memoized(("visibility", *codes), partial(self._build_visibility_in, codes))

    def _build_visibility_in(self, codes: list[str]) -> ColumnElement[bool]:
        column = self.spec.visibility
        if column is None:  # TRAINING_LOG: always private
            return true() if "PRIVATE" in codes else false()
        visibility = Visibility.__table__
        return column.in_(select(visibility.c.id).where(in_constants(visibility.c.code, codes)))

    def public_row(self) -> ColumnElement[bool]:
        return self._memoized(("public_row",), self._public_row)

    def _public_row(self) -> ColumnElement[bool]:
        """PUBLIC scope: visibility PUBLIC or SYSTEM, or a catalogue row (no owner)."""
        paths = [self._visibility_in(["PUBLIC", "SYSTEM"])]
        owner = self.spec.owner
        if self.spec.catalogue and owner is not None:
            paths.append(owner.is_(None))
        return or_(*paths)

    def owned(self, action: str | None = None) -> ColumnElement[bool]:
        wanted = self.action if action is None else action
        return self._memoized(("owned", wanted), partial(self._owned, wanted))

    def _owned(self, action: str | None = None) -> ColumnElement[bool]:
        """OWN scope: the actor owns R for ``action`` (docs/access.md, "OWN")."""
        wanted = self.action if action is None else action
        mem = self._memberships
        if self.spec.kind.value == "INSTITUTION":
            return self.spec.id.in_(select(mem.c.institution_id))
        owner = self.spec.owner
        assert owner is not None
        paths: list[ColumnElement[bool]] = [owner == self.me]
        table = self.spec.ownership_table
        if table is not None and wanted in _OWNERSHIP_ACTIONS:
            assert self.spec.ownership_column is not None
            ownership = UserOwnership.__table__
            flags = _OWNERSHIP_ACTIONS[wanted]
            conditions: list[ColumnElement[bool]] = [
                ownership.c.user_id == self.me,
                not_(ownership.c.is_revoked),
            ]
            if flags is not None:
                conditions.append(or_(*(ownership.c[flag] for flag in flags)))
            paths.append(
                self.spec.id.in_(
                    select(table.c[self.spec.ownership_column])
                    .join(ownership, ownership.c.id == table.c.id)
                    .where(*conditions)
                )
            )
        return or_(*paths)

    def in_my_institutions(self) -> ColumnElement[bool]:
        return self._memoized(("in_my_institutions",), self._in_my_institutions)

    def _in_my_institutions(self) -> ColumnElement[bool]:
        inst = self._inst()
        if inst is None:
            return false()
        return inst.in_(select(self._memberships.c.institution_id))

    def client_of_mine(self) -> ColumnElement[bool]:
        return self._memoized(("client_of_mine",), self._client_of_mine)

    def _client_of_mine(self) -> ColumnElement[bool]:
        """RESOURCE_ID from a role: R's owner is a consenting client of the actor."""
        key = self.spec.consent_key
        owner = self.spec.owner
        if key is None or owner is None:
            return false()
        relation = ProfessionalClientRelation.__table__
        conditions: list[ColumnElement[bool]] = [
            relation.c.professional_id == self.me,
            relation.c.status == ProfessionalRelationStatus.ACTIVE,
            relation.c.consent_scope.op("@>")(literal_column(f"'{{\"{key}\": true}}'::jsonb")),
        ]
        if self.spec.kind.value == "TRAINING_LOG":
            conditions.append(not_(self._logs_hidden_by(relation.c.customer_id)))
        return owner.in_(select(relation.c.customer_id).where(*conditions))

    @staticmethod
    def _logs_hidden_by(customer: ColumnElement[Any]) -> ColumnElement[bool]:
        """The client's effective ``coach_can_see_logs`` is JSON false (user value, else the
        system value, else the definition's default)."""
        setting = Setting.__table__
        user_value = UserSettingValue.__table__
        system_value = SystemSettingValue.__table__
        values = setting.outerjoin(
            user_value,
            and_(
                user_value.c.setting_id == setting.c.id,
                user_value.c.user_id == customer,
                setting.c.is_user_configurable,
            ),
        ).outerjoin(
            system_value,
            and_(system_value.c.setting_id == setting.c.id, setting.c.is_system_configurable),
        )
        effective = func.coalesce(user_value.c.value, system_value.c.value, setting.c.default_value)
        return exists(
            select(1)
            .select_from(values)
            .where(
                setting.c.setting_key == COACH_CAN_SEE_LOGS,
                setting.c.is_active,
                effective == cast(literal("false"), JSONB),
            )
            .correlate_except(setting, user_value, system_value)
        )

    def _holds_role(
        self, role_id: ColumnElement[Any], institution: ColumnElement[Any] | None
    ) -> ColumnElement[bool]:
        """The actor holds the role globally, or in ``institution`` when given."""
        roles = self._roles
        where: ColumnElement[bool] = roles.c.institution_id.is_(None)
        if institution is not None:
            where = or_(where, roles.c.institution_id == institution)
        # correlate_except: the role and institution may come from a row two levels up.
        return exists(
            select(1)
            .select_from(roles)
            .where(roles.c.role_id == role_id, where)
            .correlate_except(roles)
        )

    def _system_role(self, *codes: str) -> Select[Any]:
        role = Role.__table__
        return select(role.c.id).where(
            role.c.institution_id.is_(None), in_constants(role.c.code, codes)
        )

    def _holds_system_role_there(self, *codes: str) -> ColumnElement[bool]:
        """The actor holds one of these system roles globally or in R's institution."""
        roles = self._roles
        inst = self._inst()
        if inst is None:
            return false()
        ids = self._system_role(*codes)
        return or_(
            exists(
                select(1)
                .select_from(roles)
                .where(roles.c.role_id.in_(ids), roles.c.institution_id.is_(None))
            ),
            inst.in_(
                select(roles.c.institution_id).where(
                    roles.c.role_id.in_(ids), roles.c.institution_id.is_not(None)
                )
            ),
        )

    # ----------------------------------------------------------------------------------
    # The rules
    # ----------------------------------------------------------------------------------

    def permission_rules(self) -> list[Rule]:
        held = self._held
        spec = self.spec
        inst = self._inst()
        not_global = not_(held.c.is_global)
        rules: list[Rule] = []

        # is_global: every row from the global context, the context's rows otherwise.
        global_ctx = [held.c.is_global, held.c.ctx == GLOBAL]
        rules.append(
            Rule(
                "permission: is_global",
                "allow",
                exists(self._held_match(*global_ctx)),
                partial(self._witness, *global_ctx),
            )
        )
        if inst is not None:
            in_ctx = [held.c.is_global, held.c.ctx == IN_INSTITUTION]
            rules.append(
                Rule(
                    "permission: is_global in the institution",
                    "allow",
                    inst.in_(
                        self._held_match(*in_ctx).with_only_columns(held.c.ctx_institution_id)
                    ),
                    partial(self._witness, *in_ctx, held.c.ctx_institution_id == inst),
                )
            )
        # A resource-scoped grant names one row (RESOURCE_ID, INSTITUTION, is_global).
        on_row = [
            held.c.ctx == ON_RESOURCE,
            or_(
                held.c.is_global,
                in_constants(
                    held.c.scope, [PermissionScope.RESOURCE_ID, PermissionScope.INSTITUTION]
                ),
            ),
        ]
        rules.append(
            Rule(
                "permission: granted on this resource",
                "allow",
                spec.id.in_(self._held_match(*on_row).with_only_columns(held.c.ctx_resource_id)),
                partial(self._witness, *on_row, held.c.ctx_resource_id == spec.id),
            )
        )
        public = [not_global, held.c.scope == PermissionScope.PUBLIC.value]
        rules.append(
            Rule(
                "permission: PUBLIC",
                "allow",
                and_(self.public_row(), exists(self._held_match(*public))),
                partial(self._witness, *public),
            )
        )
        own = [not_global, held.c.scope == PermissionScope.OWN.value]
        rules.append(
            Rule(
                "permission: OWN",
                "allow",
                and_(self.owned(), exists(self._held_match(*own))),
                partial(self._witness, *own),
            )
        )
        if inst is not None:
            scope_institution = [not_global, held.c.scope == PermissionScope.INSTITUTION.value]
            from_global = [*scope_institution, held.c.ctx == GLOBAL]
            from_institution = [*scope_institution, held.c.ctx == IN_INSTITUTION]
            rules.append(
                Rule(
                    "permission: INSTITUTION",
                    "allow",
                    or_(
                        and_(self.in_my_institutions(), exists(self._held_match(*from_global))),
                        inst.in_(
                            self._held_match(*from_institution).with_only_columns(
                                held.c.ctx_institution_id
                            )
                        ),
                    ),
                    partial(
                        self._witness,
                        *scope_institution,
                        or_(held.c.ctx == GLOBAL, held.c.ctx_institution_id == inst),
                    ),
                )
            )
        if spec.consent_key is not None:
            relation = [
                not_global,
                held.c.scope == PermissionScope.RESOURCE_ID.value,
                in_constants(held.c.ctx, [GLOBAL, IN_INSTITUTION]),
            ]
            rules.append(
                Rule(
                    "permission: RESOURCE_ID (client relation)",
                    "allow",
                    and_(self.client_of_mine(), exists(self._held_match(*relation))),
                    partial(self._witness, *relation),
                )
            )
        return rules

    def visibility_rules(self) -> list[Rule]:
        """READ paths given by R's visibility level."""
        spec = self.spec
        if spec.visibility is None:
            return []
        inst = self._inst()
        owner = spec.owner
        mem = self._memberships
        cust = self._customerships
        held = self._held
        rules: list[Rule] = []

        def level(code: str, condition: ColumnElement[bool], *codes: str) -> None:
            rules.append(
                Rule(
                    f"visibility: {code}",
                    "allow",
                    and_(self._visibility_in(list(codes or (code,))), condition),
                    detail=f"visibility {'/'.join(codes or (code,))}",
                )
            )

        public_read = (
            select(1)
            .select_from(held)
            .where(
                in_constants(held.c.resource, spec.permission_resources),
                held.c.action == Action.READ.value,
                held.c.scope == PermissionScope.PUBLIC.value,
            )
        )
        level("PUBLIC", exists(public_read), "PUBLIC", "SYSTEM")
        if spec.share_column is not None:
            invite = UserShareInvite.__table__
            level(
                "SHARED",
                spec.id.in_(
                    select(invite.c[spec.share_column]).where(
                        invite.c.accepted_by == self.me,
                        invite.c.accepted_at.is_not(None),
                        not_(invite.c.is_revoked),
                        invite.c.expires_at > self._now_param,
                    )
                ),
            )
        if owner is not None:
            relation = ProfessionalClientRelation.__table__
            level(
                "CUSTOMER_SHARED",
                owner.in_(
                    select(relation.c.professional_id).where(
                        relation.c.customer_id == self.me,
                        relation.c.status == ProfessionalRelationStatus.ACTIVE,
                    )
                ),
            )
        if inst is not None:
            member_of = inst.in_(select(mem.c.institution_id))
            customer_of = inst.in_(select(cust.c.institution_id))
            level("INSTITUTION", or_(member_of, customer_of))
            level("INSTITUTION_MEMBER", member_of)
            level(
                "INSTITUTION_CUSTOMER",
                or_(customer_of, and_(member_of, self._holds_system_role_there("COACH", "ADMIN"))),
            )
            if owner is not None:
                member = InstitutionMember.__table__
                level(
                    "INSTITUTION_DEPARTMENT",
                    tuple_(inst, owner).in_(
                        select(member.c.institution_id, member.c.user_id).join(
                            mem,
                            and_(
                                mem.c.institution_id == member.c.institution_id,
                                mem.c.department_id == member.c.department_id,
                            ),
                        )
                    ),
                )
            level("INTERNAL", and_(member_of, self._holds_system_role_there("ADMIN")))
        return rules

    def visibility_policy_rule(self) -> Rule | None:
        """READ through an active visibility policy of R's visibility row."""
        column = self.spec.visibility
        if column is None:
            return None
        policy = VisibilityPolicy.__table__
        held = self._held
        inst = self._inst()
        institution_ok: ColumnElement[bool] = policy.c.institution_id.is_(None)
        if inst is not None:
            institution_ok = or_(institution_ok, policy.c.institution_id == inst)
        applicable = (
            select(1)
            .select_from(policy)
            .where(
                policy.c.is_active,
                policy.c.visibility_id == column,
                institution_ok,
                or_(policy.c.role_id.is_(None), self._holds_role(policy.c.role_id, inst)),
                or_(
                    policy.c.permission_id.in_(select(held.c.permission_id)),
                    and_(self.is_guest, policy.c.allow_guest),
                ),
            )
        )
        condition = and_(
            # Cheap hashed pre-filter: most rows are at a level without any policy.
            column.in_(select(policy.c.visibility_id).where(policy.c.is_active)),
            exists(applicable),
        )
        return Rule("visibility policy", "allow", condition)

    # ----------------------------------------------------------------------------------
    # Policies: loaded bindings (constants) …
    # ----------------------------------------------------------------------------------

    def coverage(self, permission: PermissionFacts) -> ColumnElement[bool]:
        """Would ``permission``, held in the global context, cover R for the request?"""
        if not permission.matches(self.spec.kind.value, self.action):
            return false()
        if permission.is_global:
            return true()
        return {
            PermissionScope.PUBLIC.value: self.public_row,
            PermissionScope.OWN.value: self.owned,
            PermissionScope.INSTITUTION.value: self.in_my_institutions,
            PermissionScope.RESOURCE_ID.value: self.client_of_mine,
        }.get(permission.scope or "", false)()

    def _inside(self, scope_institution: Any) -> ColumnElement[bool]:
        """R's institution is the binding's scope institution (NULL-safe)."""
        inst = self._inst()
        if inst is None or scope_institution is None:
            return false()
        if not isinstance(scope_institution, ColumnElement):
            scope_institution = literal(scope_institution, Uuid)
        return _nn(inst == scope_institution)

    def binding_applies(self, binding: PolicyBinding) -> ColumnElement[bool]:
        scope = binding.scope_institution_id
        if binding.target == "INSTITUTION":
            return self._inside(scope)
        if binding.target == "ROLE":
            assert binding.role_id is not None
            role_id = literal(binding.role_id, Uuid)
            if scope is None:
                return self._holds_role(role_id, None)
            return and_(self._inside(scope), self._holds_role(role_id, literal(scope, Uuid)))
        assert binding.permission is not None
        covered = self.coverage(binding.permission)
        return covered if scope is None else and_(self._inside(scope), covered)

    def when_holds(self, when: When | None, scope_institution: Any) -> ColumnElement[bool]:
        if when is None:
            return true()
        conditions: list[ColumnElement[bool]] = []
        if when.visibility_in is not None:
            conditions.append(_nn(self._visibility_in(list(when.visibility_in))))
        if when.actor_is_owner is not None:
            owned = _nn(self.owned())
            conditions.append(owned if when.actor_is_owner else not_(owned))
        if when.actor_is_guest is not None:
            conditions.append(self.is_guest if when.actor_is_guest else not_(self.is_guest))
        if when.resource_in_institution is not None:
            inside = self._inside(scope_institution)
            conditions.append(inside if when.resource_in_institution else not_(inside))
        if when.hours_utc is not None:
            start, end = when.hours_utc
            conditions.append(self._hour_in(start, end))
        return and_(true(), *conditions)

    def _hour(self) -> ColumnElement[Any]:
        hour = self.inputs.hour
        return literal(hour) if isinstance(hour, int) else hour

    def _hour_in(self, start: int, end: int) -> ColumnElement[bool]:
        hour = self.inputs.hour
        if isinstance(hour, int):
            return true() if hour_in(hour, start, end) else false()
        if start <= end:
            return and_(hour >= start, hour < end)
        return or_(hour >= start, hour < end)

    def loaded_policy_rules(self, policies: PolicySet) -> list[Rule]:
        rules = []
        for binding in policies.for_request(self.spec.kind.value, self.action):
            condition = and_(
                self.binding_applies(binding),
                self.when_holds(binding.rule.when, binding.scope_institution_id),
            )
            rules.append(Rule(binding.name, binding.rule.effect, condition, detail=binding.where))
        return rules

    # ----------------------------------------------------------------------------------
    # … or read from the tables in SQL (visible() without loaded policies)
    # ----------------------------------------------------------------------------------

    def inline_policy_rules(self) -> list[Rule]:
        """Two rules (deny, allow) evaluating every active binding's document in SQL."""
        relevant = _relevant_bindings(self.spec.kind.value, self.action)
        result = []
        effects: tuple[Effect, ...] = ("deny", "allow")
        for effect in effects:
            matching = (
                select(relevant.c.policy_name)
                .select_from(relevant)
                .where(
                    relevant.c.rules["effect"].astext == effect,
                    self._inline_applies(relevant),
                    self._inline_when(relevant.c.rules["when"], relevant.c.scope_institution_id),
                )
            )
            witness = partial(_names_of, matching, relevant.c.policy_name)
            result.append(Rule(f"policies: {effect}", effect, exists(matching), witness))
        return result

    def _inline_applies(self, binding: Any) -> ColumnElement[bool]:
        c = binding.c
        inside = self._inside(c.scope_institution_id)
        permission = and_(
            in_constants(c.permission_resource, self.spec.permission_resources),
            in_constants(c.permission_action, sorted({self.action, MANAGE})),
            or_(c.scoped.is_(False), inside),
            or_(
                c.permission_is_global,
                and_(
                    c.permission_scope == PermissionScope.PUBLIC.value,
                    self.public_row(),
                ),
                and_(c.permission_scope == PermissionScope.OWN.value, self.owned()),
                and_(
                    c.permission_scope == PermissionScope.INSTITUTION.value,
                    self.in_my_institutions(),
                ),
                and_(
                    c.permission_scope == PermissionScope.RESOURCE_ID.value,
                    self.client_of_mine(),
                ),
            ),
        )
        return or_(
            and_(c.target == "INSTITUTION", inside),
            and_(c.target == "ROLE", c.scoped.is_(False), self._holds_role(c.role_id, None)),
            and_(
                c.target == "ROLE",
                c.scoped.is_(True),
                inside,
                self._holds_role(c.role_id, c.scope_institution_id),
            ),
            and_(c.target == "PERMISSION", _nn(permission)),
        )

    def _inline_when(
        self, when: ColumnElement[Any], scope_institution: ColumnElement[Any]
    ) -> ColumnElement[bool]:
        def present(key: str) -> ColumnElement[bool]:
            return func.coalesce(func.jsonb_typeof(when[key]), "null") != "null"

        def flag(key: str, actual: ColumnElement[bool]) -> ColumnElement[bool]:
            return case_when(
                (present(key), when[key].astext.cast(Boolean) == _nn(actual)),
                else_=True,
            )

        column = self.spec.visibility
        if column is None:
            visibility_ok: ColumnElement[bool] = when["visibility_in"].op("?")("PRIVATE")
        else:
            visibility = Visibility.__table__
            visibility_ok = exists(
                select(1)
                .select_from(visibility)
                .where(
                    visibility.c.id == column,
                    when["visibility_in"].op("?")(visibility.c.code),
                )
                .correlate_except(visibility)
            )
        hours = when["hours_utc"]
        start = hours[0].astext.cast(_INT)
        end = hours[1].astext.cast(_INT)
        hour = self._hour()
        in_hours = case_when(
            (start <= end, and_(start <= hour, hour < end)),
            else_=or_(hour >= start, hour < end),
        )
        return and_(
            case_when((present("visibility_in"), visibility_ok), else_=True),
            flag("actor_is_owner", self.owned()),
            flag("actor_is_guest", self.is_guest),
            flag("resource_in_institution", self._inside(scope_institution)),
            case_when((present("hours_utc"), in_hours), else_=True),
        )

    # ----------------------------------------------------------------------------------

    def rules(self, policies: PolicySet | None) -> list[Rule]:
        """Every rule of the request: permissions, visibility (READ), policies."""
        rules = self.permission_rules()
        if self.action == Action.READ.value:
            rules.extend(self.visibility_rules())
            vp = self.visibility_policy_rule()
            if vp is not None:
                rules.append(vp)
        if policies is None:
            rules.extend(self.inline_policy_rules())
        else:
            rules.extend(self.loaded_policy_rules(policies))
        return rules
