"""Policies where they apply: loading the active (policy, binding) pairs in one query, and the
same pairs as a SQL subquery with the document checked in SQL (used by ``visible`` when no
loaded policies are passed).

A *binding* is one place a policy is switched on: a POLICY_ASSIGNMENT to a role or to a
permission (optionally scoped to an institution or department), or an INSTITUTION_POLICY.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    cast,
    exists,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Boolean, Integer, String, Text, Uuid

from domain.access.resources import permission_covers_type
from domain.access.rules import (
    ACTION_NAMES,
    RESOURCE_TYPE_NAMES,
    RULE_KEYS,
    VISIBILITY_CODE_PATTERN,
    WHEN_KEYS,
    PolicyRule,
    parse_rule,
    rule_error,
)
from domain.access.sqlutil import case_when, in_constants
from domain.models.access import (
    Permission,
    Policy,
    PolicyAssignment,
    PolicyScopeType,
    Role,
)
from domain.models.institution import Institution, InstitutionDepartment, InstitutionPolicy

BindingTarget = Literal["ROLE", "PERMISSION", "INSTITUTION"]


@dataclass(frozen=True)
class PermissionFacts:
    """What the engine needs to know about a permission a policy is assigned to."""

    id: uuid.UUID
    name: str
    resource: str
    action: str
    scope: str | None
    is_global: bool

    def matches(self, resource_type: str, action: str) -> bool:
        return permission_covers_type(self.resource, resource_type) and self.action in (
            action,
            "MANAGE",
        )


@dataclass(frozen=True)
class PolicyBinding:
    """One active policy switched on in one place, with its validated rule."""

    policy_id: uuid.UUID
    policy_name: str
    rule: PolicyRule
    target: BindingTarget
    role_id: uuid.UUID | None = None
    role_code: str | None = None
    permission: PermissionFacts | None = None
    # The assignment's scope (a department's institution) or the institution_policy's
    # institution; None when unscoped.
    scope_institution_id: uuid.UUID | None = None
    scope_label: str | None = None

    @property
    def where(self) -> str:
        """Where the policy is switched on, for explanations."""
        scope = f" in {self.scope_label}" if self.scope_label else ""
        if self.target == "ROLE":
            return f"role {self.role_code}{scope}"
        if self.target == "PERMISSION":
            assert self.permission is not None
            return f"permission {self.permission.name}{scope}"
        return f"institution {self.scope_label}"

    @property
    def name(self) -> str:
        return f"policy {self.policy_name} [{self.where}]"


@dataclass(frozen=True)
class InvalidPolicy:
    """An active policy whose document does not validate: it applies nowhere."""

    policy_id: uuid.UUID
    policy_name: str
    error: str


@dataclass(frozen=True)
class PolicySet:
    """Every active binding of every active policy, loaded once per update."""

    bindings: tuple[PolicyBinding, ...] = ()
    invalid: tuple[InvalidPolicy, ...] = ()
    # Identifies the content: statements built for one set are reused for an equal set.
    fingerprint: str = "none"

    def for_request(self, resource_type: str, action: str) -> list[PolicyBinding]:
        return [b for b in self.bindings if b.rule.covers(action, resource_type)]


EMPTY_POLICIES = PolicySet()


def bindings_subquery() -> Subquery:
    """(policy, binding) rows of active policies and active bindings: one UNION ALL.

    ``scoped`` says whether the binding names a scope (a department that no longer exists
    leaves ``scope_institution_id`` NULL: the binding then applies nowhere).
    """
    pa = PolicyAssignment.__table__
    pol = Policy.__table__
    perm = Permission.__table__
    role = Role.__table__
    dept = InstitutionDepartment.__table__
    inst = Institution.__table__
    ip = InstitutionPolicy.__table__

    scope_institution = case_when(
        (pa.c.scope_type == PolicyScopeType.INSTITUTION, pa.c.scope_id),
        (pa.c.scope_type == PolicyScopeType.DEPARTMENT, dept.c.institution_id),
        else_=cast(null(), Uuid),
    )
    assigned = (
        select(
            pol.c.id.label("policy_id"),
            pol.c.name.label("policy_name"),
            pol.c.policy_rules.label("rules"),
            cast(pa.c.target_type, String).label("target"),
            pa.c.target_role_id.label("role_id"),
            role.c.code.label("role_code"),
            perm.c.id.label("permission_id"),
            perm.c.name.label("permission_name"),
            perm.c.resource.label("permission_resource"),
            perm.c.action.label("permission_action"),
            cast(perm.c.scope, String).label("permission_scope"),
            perm.c.is_global.label("permission_is_global"),
            pa.c.scope_type.is_not(None).label("scoped"),
            scope_institution.label("scope_institution_id"),
            func.coalesce(inst.c.slug, inst.c.name).label("scope_label"),
        )
        .select_from(pa)
        .join(pol, pol.c.id == pa.c.policy_id)
        .outerjoin(role, role.c.id == pa.c.target_role_id)
        .outerjoin(perm, perm.c.id == pa.c.target_permission_id)
        .outerjoin(
            dept,
            and_(pa.c.scope_type == PolicyScopeType.DEPARTMENT, dept.c.id == pa.c.scope_id),
        )
        .outerjoin(inst, inst.c.id == scope_institution)
        .where(pa.c.is_active, pol.c.is_active)
    )
    switched_on = (
        select(
            pol.c.id,
            pol.c.name,
            pol.c.policy_rules,
            literal("INSTITUTION", String),
            cast(null(), Uuid),
            cast(null(), String),
            cast(null(), Uuid),
            cast(null(), String),
            cast(null(), String),
            cast(null(), String),
            cast(null(), String),
            cast(null(), Boolean),
            true(),
            ip.c.institution_id,
            func.coalesce(inst.c.slug, inst.c.name),
        )
        .select_from(ip)
        .join(pol, pol.c.id == ip.c.policy_id)
        .join(inst, inst.c.id == ip.c.institution_id)
        .where(ip.c.is_active, pol.c.is_active)
    )
    return union_all(assigned, switched_on).subquery("policy_binding")


def binding_rows() -> Select[Any]:
    sub = bindings_subquery()
    return select(sub).order_by(sub.c.policy_name, sub.c.target, sub.c.scope_institution_id)


async def load_policies(session: AsyncSession) -> PolicySet:
    """Every active binding of every active policy, validated: ONE query."""
    bindings: list[PolicyBinding] = []
    invalid: dict[uuid.UUID, InvalidPolicy] = {}
    for row in (await session.execute(binding_rows())).mappings():
        try:
            rule = parse_rule(row["rules"])
        except ValidationError:
            error = rule_error(row["rules"]) or "invalid document"
            invalid[row["policy_id"]] = InvalidPolicy(row["policy_id"], row["policy_name"], error)
            continue
        if row["scoped"] and row["scope_institution_id"] is None:
            continue  # scoped to a department that no longer exists: applies nowhere
        permission = None
        if row["permission_id"] is not None:
            permission = PermissionFacts(
                id=row["permission_id"],
                name=row["permission_name"],
                resource=row["permission_resource"],
                action=row["permission_action"],
                scope=row["permission_scope"],
                is_global=bool(row["permission_is_global"]),
            )
        target: BindingTarget = row["target"]
        bindings.append(
            PolicyBinding(
                policy_id=row["policy_id"],
                policy_name=row["policy_name"],
                rule=rule,
                target=target,
                role_id=row["role_id"],
                role_code=row["role_code"],
                permission=permission,
                scope_institution_id=row["scope_institution_id"],
                scope_label=row["scope_label"],
            )
        )
    return PolicySet(tuple(bindings), tuple(invalid.values()), _fingerprint(bindings))


def _fingerprint(bindings: list[PolicyBinding]) -> str:
    parts = [
        [
            str(b.policy_id),
            b.policy_name,
            b.target,
            str(b.role_id),
            b.role_code,
            None if b.permission is None else [str(b.permission.id), b.permission.name],
            None
            if b.permission is None
            else [b.permission.resource, b.permission.action, b.permission.scope],
            None if b.permission is None else b.permission.is_global,
            str(b.scope_institution_id),
            b.scope_label,
            b.rule.model_dump(mode="json"),
        ]
        for b in bindings
    ]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return f"policies:{digest[:32]}"


# --------------------------------------------------------------------------------------
# The document read in SQL (mirrors domain/access/rules.py; tests compare both readings)
# --------------------------------------------------------------------------------------


_INT = Integer()
_TEXT_ARRAY = ARRAY(Text)


def _jsonb(value: str) -> ColumnElement[Any]:
    return cast(literal(value), JSONB)


def _json_array(values: Sequence[str]) -> ColumnElement[Any]:
    return _jsonb(json.dumps(list(values)))


def _typeof(expr: ColumnElement[Any]) -> ColumnElement[str]:
    return func.coalesce(func.jsonb_typeof(expr), "missing")


def _non_empty_array_within(
    expr: ColumnElement[Any], allowed: Sequence[str]
) -> ColumnElement[bool]:
    return and_(
        _typeof(expr) == "array",
        func.jsonb_array_length(expr) > 0,
        expr.op("<@")(_json_array(allowed)),
    )


def _set(when: ColumnElement[Any], key: str) -> ColumnElement[bool]:
    """The key is present with a non-null value (null means "no condition", as in pydantic)."""
    return not_(in_constants(_typeof(when[key]), ["missing", "null"]))


def sql_when_is_valid(when: ColumnElement[Any]) -> ColumnElement[bool]:
    """SQL for "``when`` validates" (absent or null counts as valid)."""
    vis = when["visibility_in"]
    hours = when["hours_utc"]
    element: ColumnElement[Any] = literal_column("element")
    bad_code = exists(
        select(1)
        .select_from(func.jsonb_array_elements(vis).alias("element"))
        .where(
            or_(
                func.jsonb_typeof(element) != "string",
                not_(element.op("#>>")(literal_column("'{}'")).op("~")(VISIBILITY_CODE_PATTERN)),
            )
        )
    )
    checks = [
        (when.op("-")(cast(literal(list(WHEN_KEYS)), _TEXT_ARRAY)) == _jsonb("{}")),
        or_(
            not_(_set(when, "visibility_in")),
            and_(
                _typeof(vis) == "array",
                func.jsonb_array_length(vis) > 0,
                not_(bad_code),
            ),
        ),
        *[
            or_(not_(_set(when, key)), _typeof(when[key]) == "boolean")
            for key in ("actor_is_owner", "actor_is_guest", "resource_in_institution")
        ],
        or_(
            not_(_set(when, "hours_utc")),
            and_(
                _typeof(hours) == "array",
                func.jsonb_array_length(hours) == 2,
                _hour(hours, 0, 23),
                _hour(hours, 1, 24),
            ),
        ),
    ]
    return case_when(
        (in_constants(_typeof(when), ["missing", "null"]), True),
        (_typeof(when) == "object", and_(*checks)),
        else_=False,
    )


def _hour(hours: ColumnElement[Any], index: int, high: int) -> ColumnElement[bool]:
    """Element ``index`` of ``hours`` is a JSON integer within ``0..high``."""
    item = hours[index]
    text = item.op("#>>")(literal_column("'{}'"))
    return case_when(
        (
            and_(_typeof(item) == "number", text.op("~")(r"^[0-9]{1,3}$")),
            cast(text, _INT) <= high,
        ),
        else_=False,
    )


def sql_document_is_valid(rules: ColumnElement[Any]) -> ColumnElement[bool]:
    """SQL for "``parse_rule(rules)`` succeeds" (see ``rules.py``)."""
    checks = and_(
        rules.op("-")(cast(literal(list(RULE_KEYS)), _TEXT_ARRAY)) == _jsonb("{}"),
        rules["effect"].in_([_jsonb('"allow"'), _jsonb('"deny"')]),
        _non_empty_array_within(rules["actions"], ACTION_NAMES),
        _non_empty_array_within(rules["resource_types"], RESOURCE_TYPE_NAMES),
        sql_when_is_valid(rules["when"]),
    )
    return case_when((_typeof(rules) == "object", checks), else_=False)
