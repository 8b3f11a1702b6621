"""Small authorization worlds written as plain data (the YAML scenario format), materialized
into the test database: used by the scenario fixtures and the matrix tests.

A world names everything (users "ada", institution "gym", department "gym/lifting", resources
"w1" …); ``build_world`` inserts the rows and returns the names → ids map. The format is
documented in tests/scenarios/access/README.md.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, ResourceRef
from domain.models.access import (
    GranteeType,
    GrantScopeType,
    Permission,
    PermissionGrant,
    PermissionScope,
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
from domain.models.enums import ResourceType, RoleType
from domain.models.equipment import Equipment
from domain.models.exercise import Exercise
from domain.models.goal import Goal
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
from domain.models.media import Media, MediaType
from domain.models.program import Program
from domain.models.training_log import TrainingSession, TrainingSessionSource
from domain.models.user import (
    ProfessionalClientRelation,
    ProfessionalRelationStatus,
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
from domain.services.settings import set_system_setting, set_user_setting

GUEST = "guest"
CONTENT_MODELS: dict[str, type[Any]] = {
    "WORKOUT": Workout,
    "PROGRAM": Program,
    "EXERCISE": Exercise,
    "MEDIA": Media,
    "EQUIPMENT": Equipment,
    "GOAL": Goal,
    "TRAINING_LOG": TrainingSession,
    "INSTITUTION": Institution,
}

_OFFSET = re.compile(r"^([+-])(\d+)([dhm])$")


def when(value: Any, now: dt.datetime) -> dt.datetime | None:
    """``+7d`` / ``-1h`` / ``+30m`` relative to ``now``, an ISO timestamp, or None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value
    text = str(value)
    match = _OFFSET.match(text)
    if match:
        sign, amount, unit = match.groups()
        unit_name = {"d": "days", "h": "hours", "m": "minutes"}[unit]
        delta = dt.timedelta(**{unit_name: int(amount)})
        return now + delta if sign == "+" else now - delta
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_now(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass
class BuiltWorld:
    """Names → ids of a materialized world."""

    now: dt.datetime
    users: dict[str, uuid.UUID] = field(default_factory=dict)
    institutions: dict[str, uuid.UUID] = field(default_factory=dict)
    departments: dict[str, uuid.UUID] = field(default_factory=dict)
    roles: dict[str, uuid.UUID] = field(default_factory=dict)
    permissions: dict[str, uuid.UUID] = field(default_factory=dict)
    resources: dict[str, ResourceRef] = field(default_factory=dict)
    members: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)
    relations: dict[str, uuid.UUID] = field(default_factory=dict)

    def actor(self, name: str) -> Actor:
        return Actor.guest() if name == GUEST else Actor(self.users[name])

    def actors(self) -> dict[str, Actor]:
        return {GUEST: Actor.guest(), **{name: Actor(i) for name, i in self.users.items()}}

    def ref(self, name: str) -> ResourceRef:
        return self.resources[name]


@dataclass(frozen=True)
class Expectation:
    actor: str
    action: Action
    resource: str
    allowed: bool
    by: str | None
    line: str


_EXPECTATION = re.compile(
    r"^(?P<actor>\S+) (?P<action>[A-Z]+) (?P<resource>\S+): (?P<verdict>allow|deny)"
    r"(?: by (?P<by>.+))?$"
)


def parse_expectation(line: str) -> Expectation:
    match = _EXPECTATION.match(line.strip())
    if match is None:
        raise ValueError(f"bad expectation {line!r}: want 'ACTOR ACTION RESOURCE: allow|deny'")
    return Expectation(
        actor=match["actor"],
        action=Action(match["action"]),
        resource=match["resource"],
        allowed=match["verdict"] == "allow",
        by=match["by"],
        line=line.strip(),
    )


class _Builder:
    def __init__(self, session: AsyncSession, now: dt.datetime) -> None:
        self.session = session
        self.world = BuiltWorld(now=now)
        self._visibility: dict[tuple[str, str], uuid.UUID] = {}
        self._difficulty: uuid.UUID | None = None
        self._media_type: uuid.UUID | None = None
        self._serial = 0

    def serial(self) -> int:
        self._serial += 1
        return self._serial

    async def load_catalog(self) -> None:
        session = self.session
        for row in (
            await session.execute(select(Visibility.code, Visibility.resource_type, Visibility.id))
        ).all():
            self._visibility[(row.code, str(row.resource_type))] = row.id
        roles = await session.execute(
            select(Role.code, Role.id).where(Role.institution_id.is_(None))
        )
        self.world.roles.update({row.code: row.id for row in roles})
        permissions = await session.execute(select(Permission.name, Permission.id))
        self.world.permissions.update({row.name: row.id for row in permissions})
        self._difficulty = await session.scalar(select(DifficultyLevel.id).limit(1))
        self._media_type = await session.scalar(select(MediaType.id).limit(1))

    def visibility(self, code: str, resource_type: str) -> uuid.UUID:
        try:
            return self._visibility[(code, resource_type)]
        except KeyError:
            raise KeyError(f"no visibility {code} for {resource_type}") from None

    def permission(self, name: str) -> uuid.UUID:
        try:
            return self.world.permissions[name]
        except KeyError:
            raise KeyError(f"unknown permission {name} (declare it under permissions:)") from None

    def role(self, code: str) -> uuid.UUID:
        try:
            return self.world.roles[code]
        except KeyError:
            raise KeyError(f"unknown role {code}") from None

    def user(self, name: str | None) -> uuid.UUID | None:
        return None if name is None else self.world.users[name]

    def department(self, ref: str) -> uuid.UUID:
        return self.world.departments[ref]

    async def add(self, *rows: Any) -> None:
        self.session.add_all(rows)
        await self.session.flush()

    # ------------------------------------------------------------------------------

    async def build(self, spec: dict[str, Any]) -> BuiltWorld:
        now = self.world.now
        await self.load_catalog()

        for item in spec.get("permissions", []):
            name = item["name"]
            actor, resource, action = name.split(".")
            row = Permission(
                id=uuid.uuid4(),
                name=name,
                actor=actor,
                resource=resource,
                action=action,
                scope=PermissionScope(item["scope"]) if item.get("scope") else None,
                is_global=bool(item.get("is_global", False)),
            )
            await self.add(row)
            self.world.permissions[name] = row.id

        for item in spec.get("users", []):
            if isinstance(item, str):
                item = {"name": item}
            row = User(id=uuid.uuid4(), first_name=item["name"], is_active=item.get("active", True))
            await self.add(row)
            self.world.users[item["name"]] = row.id

        for item in spec.get("institutions", []):
            slug = item["slug"]
            row = Institution(
                id=uuid.uuid4(),
                name=slug.title(),
                slug=f"{slug}-{uuid.uuid4().hex[:6]}",
                is_active=item.get("active", True),
                visibility_id=self.visibility(item.get("visibility", "PRIVATE"), "INSTITUTION"),
            )
            await self.add(row)
            self.world.institutions[slug] = row.id
            self.world.resources[slug] = ResourceRef("INSTITUTION", row.id)
            for department in item.get("departments", []):
                dep = InstitutionDepartment(id=uuid.uuid4(), institution_id=row.id, name=department)
                await self.add(dep)
                self.world.departments[f"{slug}/{department}"] = dep.id

        for code in spec.get("inactive_roles", []):
            await self.session.execute(
                update(Role).where(Role.id == self.role(code)).values(is_active=False)
            )

        for item in spec.get("roles", []):
            parent = self.role(item["parent"]) if item.get("parent") else None
            institution = (
                self.world.institutions[item["institution"]] if item.get("institution") else None
            )
            type_name = item.get("type") or item.get("parent") or "MEMBER"
            role_type = (
                RoleType(type_name) if type_name in RoleType.__members__ else RoleType.MEMBER
            )
            row = Role(
                id=uuid.uuid4(),
                institution_id=institution,
                code=item["code"],
                name=item["code"].title(),
                type=role_type,
                parent_role_id=parent,
                is_active=item.get("active", True),
            )
            await self.add(row)
            self.world.roles[item["code"]] = row.id

        for item in spec.get("role_permissions", []):
            await self.add(
                RolePermission(
                    role_id=self.role(item["role"]),
                    permission_id=self.permission(item["permission"]),
                    is_active=item.get("active", True),
                )
            )

        for item in spec.get("user_roles", []):
            await self.add(
                UserRole(
                    user_id=self.world.users[item["user"]],
                    role_id=self.role(item["role"]),
                    is_active=item.get("active", True),
                )
            )

        for item in spec.get("user_permissions", []):
            await self.add(
                UserPermission(
                    user_id=self.world.users[item["user"]],
                    permission_id=self.permission(item["permission"]),
                    is_active=item.get("active", True),
                )
            )

        for item in spec.get("members", []):
            institution = item["institution"]
            department = item.get("department")
            member = InstitutionMember(
                id=uuid.uuid4(),
                institution_id=self.world.institutions[institution],
                user_id=self.world.users[item["user"]],
                department_id=self.department(f"{institution}/{department}")
                if department
                else None,
                is_active=item.get("active", True),
            )
            await self.add(member)
            self.world.members[(item["user"], institution)] = member.id
            for role in item.get("roles", []):
                role = role if isinstance(role, dict) else {"role": role}
                await self.add(
                    InstitutionMemberRole(
                        institution_member_id=member.id,
                        role_id=self.role(role["role"]),
                        is_active=role.get("active", True),
                    )
                )
            for permission in item.get("permissions", []):
                permission = (
                    permission if isinstance(permission, dict) else {"permission": permission}
                )
                await self.add(
                    InstitutionMemberPermission(
                        institution_member_id=member.id,
                        permission_id=self.permission(permission["permission"]),
                        is_active=permission.get("active", True),
                    )
                )

        for item in spec.get("department_permissions", []):
            await self.add(
                InstitutionDepartmentPermission(
                    institution_department_id=self.department(item["department"]),
                    permission_id=self.permission(item["permission"]),
                    is_active=item.get("active", True),
                )
            )

        for item in spec.get("relations", []):
            row = ProfessionalClientRelation(
                id=uuid.uuid4(),
                professional_id=self.world.users[item["professional"]],
                customer_id=self.world.users[item["customer"]],
                relation_type=ProfessionalRelationType(item.get("type", "COACH")),
                status=ProfessionalRelationStatus(item.get("status", "ACTIVE")),
                consent_scope=item.get("consent", {}),
            )
            await self.add(row)
            self.world.relations[item["name"]] = row.id

        for item in spec.get("customers", []):
            await self.add(
                InstitutionCustomer(
                    id=uuid.uuid4(),
                    institution_id=self.world.institutions[item["institution"]],
                    relation_id=self.world.relations[item["relation"]],
                    user_id=self.world.users[item["user"]],
                    is_active=item.get("active", True),
                )
            )

        for item in spec.get("settings", []):
            if item.get("user"):
                await set_user_setting(
                    self.session, self.world.users[item["user"]], item["key"], item["value"]
                )
            else:
                await set_system_setting(self.session, item["key"], item["value"])

        for item in spec.get("resources", []):
            await self.resource(item)

        for item in spec.get("ownerships", []):
            ref = self.world.resources[item["resource"]]
            ownership = UserOwnership(
                id=uuid.uuid4(),
                user_id=self.world.users[item["user"]],
                is_primary_owner=item.get("primary", False),
                can_edit=item.get("can_edit", False),
                can_delete=item.get("can_delete", False),
                is_revoked=item.get("revoked", False),
            )
            await self.add(ownership)
            subtype: Any = (
                UserWorkoutOwnership(id=ownership.id, workout_id=ref.id)
                if ref.type == "WORKOUT"
                else UserProgramOwnership(id=ownership.id, program_id=ref.id)
            )
            await self.add(subtype)

        for item in spec.get("shares", []):
            ref = self.world.resources[item["resource"]]
            accepted_by = self.user(item.get("accepted_by"))
            invited_by = self.user(item.get("by")) or next(iter(self.world.users.values()))
            await self.add(
                UserShareInvite(
                    id=uuid.uuid4(),
                    invited_by=invited_by,
                    workout_id=ref.id if ref.type == "WORKOUT" else None,
                    program_id=ref.id if ref.type == "PROGRAM" else None,
                    accepted_by=accepted_by,
                    accepted_at=now - dt.timedelta(hours=1) if accepted_by else None,
                    expires_at=when(item.get("expires", "+7d"), now),
                    is_revoked=item.get("revoked", False),
                )
            )

        for item in spec.get("grants", []):
            scope_type, scope_id = None, None
            if item.get("institution"):
                scope_type, scope_id = (
                    GrantScopeType.INSTITUTION,
                    self.world.institutions[item["institution"]],
                )
            elif item.get("department"):
                scope_type, scope_id = (
                    GrantScopeType.DEPARTMENT,
                    self.department(item["department"]),
                )
            elif item.get("resource"):
                scope_type, scope_id = (
                    GrantScopeType.RESOURCE,
                    self.world.resources[item["resource"]].id,
                )
            to_user = item.get("user")
            await self.add(
                PermissionGrant(
                    id=uuid.uuid4(),
                    grantee_type=GranteeType.USER if to_user else GranteeType.ROLE,
                    grantee_user_id=self.user(to_user),
                    grantee_role_id=None if to_user else self.role(item["role"]),
                    permission_id=self.permission(item["permission"]),
                    scope_type=scope_type,
                    scope_id=scope_id,
                    expires_at=when(item.get("expires"), now),
                    is_active=item.get("active", True),
                )
            )

        for item in spec.get("visibility_policies", []):
            await self.add(
                VisibilityPolicy(
                    id=uuid.uuid4(),
                    visibility_id=self.visibility(item["visibility"], item["type"]),
                    permission_id=self.permission(item["permission"]),
                    institution_id=self.world.institutions[item["institution"]]
                    if item.get("institution")
                    else None,
                    role_id=self.role(item["role"]) if item.get("role") else None,
                    allow_guest=item.get("allow_guest", False),
                    is_active=item.get("active", True),
                )
            )

        for item in spec.get("policies", []):
            policy = Policy(
                id=uuid.uuid4(),
                name=f"{item['name']}-{uuid.uuid4().hex[:6]}",
                policy_type=PolicyType(item.get("type", "RESOURCE_BASED")),
                policy_rules=item["rules"],
                is_active=item.get("active", True),
            )
            await self.add(policy)
            for target in item.get("assigned", []):
                await self.assign(policy.id, target)
        return self.world

    async def assign(self, policy_id: uuid.UUID, target: dict[str, Any]) -> None:
        active = target.get("active", True)
        if set(target) - {"active"} == {"institution"}:
            await self.add(
                InstitutionPolicy(
                    institution_id=self.world.institutions[target["institution"]],
                    policy_id=policy_id,
                    is_active=active,
                )
            )
            return
        scope_type, scope_id = None, None
        if target.get("institution"):
            scope_type, scope_id = (
                PolicyScopeType.INSTITUTION,
                self.world.institutions[target["institution"]],
            )
        elif target.get("department"):
            scope_type, scope_id = PolicyScopeType.DEPARTMENT, self.department(target["department"])
        to_role = target.get("role")
        await self.add(
            PolicyAssignment(
                id=uuid.uuid4(),
                policy_id=policy_id,
                target_type=PolicyTargetType.ROLE if to_role else PolicyTargetType.PERMISSION,
                target_role_id=self.role(to_role) if to_role else None,
                target_permission_id=None if to_role else self.permission(target["permission"]),
                scope_type=scope_type,
                scope_id=scope_id,
                is_active=active,
            )
        )

    async def resource(self, item: dict[str, Any]) -> None:
        kind = item["type"]
        name = item["name"]
        owner = self.user(item.get("owner"))
        institution = (
            self.world.institutions[item["institution"]] if item.get("institution") else None
        )
        visibility = item.get("visibility", "PRIVATE")
        row: Any
        if kind == "TRAINING_LOG":
            assert owner is not None, f"{name}: a training log needs an owner"
            row = TrainingSession(
                id=uuid.uuid4(), user_id=owner, source=TrainingSessionSource.FREE_TEXT
            )
        elif kind == "GOAL":
            assert owner is not None, f"{name}: a goal needs an owner"
            row = Goal(
                id=uuid.uuid4(),
                user_id=owner,
                title=name,
                visibility_id=self.visibility(visibility, "GOAL"),
            )
        else:
            common = {
                "id": uuid.uuid4(),
                "owner_id": owner,
                "visibility_id": self.visibility(visibility, ResourceType(kind).value),
            }
            label = f"{name}-{self.serial()}"
            if kind == "WORKOUT":
                row = Workout(
                    **common,
                    name=label,
                    institution_id=institution,
                    difficulty_level_id=self._difficulty,
                )
            elif kind == "PROGRAM":
                row = Program(
                    **common,
                    title=label,
                    description=label,
                    institution_id=institution,
                    difficulty_level_id=self._difficulty,
                )
            elif kind == "EXERCISE":
                row = Exercise(
                    **common,
                    name=label,
                    description=label,
                    instructions=label,
                    code=None if owner else f"test_{uuid.uuid4().hex[:10]}",
                    difficulty_level_id=self._difficulty,
                )
            elif kind == "EQUIPMENT":
                row = Equipment(
                    **common, name=label, code=None if owner else f"test_{uuid.uuid4().hex[:10]}"
                )
            elif kind == "MEDIA":
                row = Media(
                    **common, filename=label, telegram_file_id=label, media_type_id=self._media_type
                )
            else:
                raise ValueError(f"{name}: unknown resource type {kind}")
        await self.add(row)
        self.world.resources[name] = ResourceRef(kind, row.id)


async def build_world(session: AsyncSession, spec: dict[str, Any], now: dt.datetime) -> BuiltWorld:
    """Insert the world described by ``spec`` (in the session's transaction)."""
    return await _Builder(session, now).build(spec)
