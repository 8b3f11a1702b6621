"""Administering access: list roles, grant and revoke roles, grant permissions, explain a
decision. The logic behind ``motriforge admin roles|grant-role|revoke-role|grant-permission|
explain``; the CLI only parses arguments and prints.

Every function works in the caller's transaction and raises ``InvalidInput`` / ``NotFound``
(nothing changed) on bad input.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.access import (
    AccessCache,
    Action,
    Actor,
    Decision,
    InvalidPolicy,
    ResourceRef,
    authorize,
)
from domain.access.resources import spec_for
from domain.errors import InvalidInput, NotFound
from domain.models.access import (
    GranteeType,
    GrantScopeType,
    Permission,
    PermissionGrant,
    Role,
    RolePermission,
)
from domain.models.institution import (
    Institution,
    InstitutionDepartment,
    InstitutionMember,
    InstitutionMemberRole,
)
from domain.models.user import User, UserRole
from domain.services.audit import record_system_event

GUEST = "guest"
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class RoleSummary:
    code: str
    name: str
    institution: str | None  # slug (or id) of the institution owning the role; None: platform
    parent: str | None
    permissions: int  # active role_permission rows (not counting inherited ones)
    is_active: bool
    is_system: bool


@dataclass(frozen=True)
class Explanation:
    actor: str
    action: Action
    resource: ResourceRef
    decision: Decision
    invalid_policies: tuple[InvalidPolicy, ...]


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


def describe_user(user: User) -> str:
    telegram = f" (telegram {user.telegram_user_id})" if user.telegram_user_id else ""
    return f"{user.first_name}{telegram} {user.id}"


async def find_user(session: AsyncSession, ref: str) -> User:
    """A user by Telegram id (digits) or UUID."""
    text = ref.strip()
    if text.isdigit():
        user = await session.scalar(select(User).where(User.telegram_user_id == int(text)))
    elif (ident := _uuid(text)) is not None:
        user = await session.get(User, ident)
    else:
        raise InvalidInput(f"not a Telegram id or a user UUID: {ref!r}", ref=ref)
    if user is None:
        raise NotFound(f"no user {ref}", ref=ref)
    return user


async def find_institution(session: AsyncSession, ref: str) -> Institution:
    """An institution by slug or UUID."""
    ident = _uuid(ref)
    institution = (
        await session.get(Institution, ident)
        if ident is not None
        else await session.scalar(select(Institution).where(Institution.slug == ref.strip()))
    )
    if institution is None:
        raise NotFound(f"no institution {ref}", ref=ref)
    return institution


async def find_role(
    session: AsyncSession, ref: str, institution: Institution | None = None
) -> Role:
    """A role by id, or by code: the institution's own role first, then the platform role."""
    ident = _uuid(ref)
    if ident is not None:
        role = await session.get(Role, ident)
        if role is None:
            raise NotFound(f"no role {ref}", ref=ref)
    else:
        code = ref.strip().upper()
        scopes = [None] if institution is None else [institution.id, None]
        role = None
        for scope in scopes:
            role = await session.scalar(
                select(Role).where(
                    Role.code == code, Role.institution_id.is_not_distinct_from(scope)
                )
            )
            if role is not None:
                break
        if role is None:
            where = "" if institution is None else f" (platform or {institution.slug})"
            raise NotFound(f"no role {code}{where}", ref=ref)
    if role.institution_id is not None and (
        institution is None or role.institution_id != institution.id
    ):
        raise InvalidInput(
            f"role {role.code} belongs to another institution; give --institution for it",
            ref=ref,
        )
    return role


async def list_roles(session: AsyncSession) -> list[RoleSummary]:
    parent = aliased(Role)
    counts = (
        select(func.count())
        .select_from(RolePermission)
        .where(RolePermission.role_id == Role.id, RolePermission.is_active)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            Role,
            parent.code,
            func.coalesce(Institution.slug, Institution.name),
            counts,
        )
        .outerjoin(parent, parent.id == Role.parent_role_id)
        .outerjoin(Institution, Institution.id == Role.institution_id)
        .order_by(Role.institution_id.is_not(None), Institution.slug, Role.code)
    )
    return [
        RoleSummary(
            code=role.code,
            name=role.name,
            institution=institution,
            parent=parent_code,
            permissions=int(count or 0),
            is_active=role.is_active,
            is_system=role.is_system_role,
        )
        for role, parent_code, institution, count in rows
    ]


async def grant_role(
    session: AsyncSession,
    user_ref: str,
    role_ref: str,
    institution_ref: str | None = None,
    *,
    by: uuid.UUID | None = None,
) -> str:
    """Give a role: platform-wide (USER_ROLE) or in an institution (INSTITUTION_MEMBER_ROLE,
    making the user an active member first when needed). Returns what was done."""
    user = await find_user(session, user_ref)
    institution = (
        None if institution_ref is None else await find_institution(session, institution_ref)
    )
    role = await find_role(session, role_ref, institution)
    if not role.is_active:
        raise InvalidInput(f"role {role.code} is inactive", role=role.code)
    done: list[str] = []
    if institution is None:
        row = await session.get(UserRole, (user.id, role.id))
        if row is not None and row.is_active:
            return f"{describe_user(user)} already holds {role.code}"
        if row is None:
            session.add(UserRole(user_id=user.id, role_id=role.id, updated_by=by))
        else:
            row.is_active = True
            row.updated_by = by
        done.append(f"{describe_user(user)} now holds {role.code} (platform-wide)")
    else:
        member = await session.scalar(
            select(InstitutionMember).where(
                InstitutionMember.institution_id == institution.id,
                InstitutionMember.user_id == user.id,
            )
        )
        if member is None:
            member = InstitutionMember(
                id=uuid.uuid4(), institution_id=institution.id, user_id=user.id
            )
            session.add(member)
            await session.flush()
            done.append(f"added as a member of {institution.slug}")
        elif not member.is_active:
            member.is_active = True
            done.append(f"membership in {institution.slug} reactivated")
        held = await session.get(InstitutionMemberRole, (member.id, role.id))
        if held is not None and held.is_active and not done:
            return f"{describe_user(user)} already holds {role.code} in {institution.slug}"
        if held is None:
            session.add(
                InstitutionMemberRole(
                    institution_member_id=member.id, role_id=role.id, is_active=True, updated_by=by
                )
            )
        else:
            held.is_active = True
            held.updated_by = by
        done.insert(0, f"{describe_user(user)} now holds {role.code} in {institution.slug}")
    await session.flush()
    await record_system_event(
        session,
        "ROLE_GRANTED",
        user_id=user.id,
        payload={
            "role": role.code,
            "institution_id": None if institution is None else str(institution.id),
            "by": None if by is None else str(by),
        },
    )
    return "; ".join(done)


async def revoke_role(
    session: AsyncSession,
    user_ref: str,
    role_ref: str,
    institution_ref: str | None = None,
    *,
    by: uuid.UUID | None = None,
) -> str:
    """Switch a held role off (the row stays, inactive, as history)."""
    user = await find_user(session, user_ref)
    institution = (
        None if institution_ref is None else await find_institution(session, institution_ref)
    )
    role = await find_role(session, role_ref, institution)
    if institution is None:
        row = await session.get(UserRole, (user.id, role.id))
        if row is None or not row.is_active:
            raise InvalidInput(f"{describe_user(user)} does not hold {role.code} platform-wide")
        row.is_active = False
        row.updated_by = by
        where = "platform-wide"
    else:
        held = await session.scalar(
            select(InstitutionMemberRole)
            .join(
                InstitutionMember,
                InstitutionMember.id == InstitutionMemberRole.institution_member_id,
            )
            .where(
                InstitutionMember.institution_id == institution.id,
                InstitutionMember.user_id == user.id,
                InstitutionMemberRole.role_id == role.id,
            )
        )
        if held is None or not held.is_active:
            raise InvalidInput(
                f"{describe_user(user)} does not hold {role.code} in {institution.slug}"
            )
        held.is_active = False
        held.updated_by = by
        where = f"in {institution.slug}"
    await session.flush()
    await record_system_event(
        session,
        "ROLE_REVOKED",
        user_id=user.id,
        payload={
            "role": role.code,
            "institution_id": None if institution is None else str(institution.id),
            "by": None if by is None else str(by),
        },
    )
    return f"{describe_user(user)} no longer holds {role.code} {where}"


def parse_expiry(text: str, now: dt.datetime) -> dt.datetime:
    """``30d`` / ``12h`` / ``90m`` / ``2w`` from now, or an ISO timestamp (UTC when no zone);
    must lie in the future."""
    value = text.strip()
    match = _DURATION.match(value)
    if match:
        amount, unit = match.groups()
        if int(amount) == 0:
            raise InvalidInput(f"expiry {text!r} is not in the future", value=text)
        return now + dt.timedelta(**{_DURATION_UNITS[unit]: int(amount)})
    try:
        moment = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise InvalidInput(
            f"bad expiry {text!r}: use a duration (30d, 12h, 90m, 2w) or a timestamp"
            " (2026-12-31T00:00Z)",
            value=text,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    if moment <= now:
        raise InvalidInput(f"expiry {text!r} is not in the future", value=text)
    return moment


async def _resource_exists(session: AsyncSession, ref: ResourceRef) -> bool:
    spec = spec_for(ref.type)
    found = await session.scalar(select(spec.table.c.id).where(spec.table.c.id == ref.id))
    return found is not None


async def grant_permission(
    session: AsyncSession,
    user_ref: str,
    permission_name: str,
    *,
    institution: str | None = None,
    department: str | None = None,
    resource: str | None = None,
    expires: str | None = None,
    by: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> tuple[PermissionGrant, str]:
    """A PERMISSION_GRANT to a user: unscoped, or scoped to one institution, department or
    resource (``TYPE:ID``), optionally expiring."""
    moment = now or dt.datetime.now(dt.UTC)
    if sum(value is not None for value in (institution, department, resource)) > 1:
        raise InvalidInput("give at most one of --institution, --department, --resource")
    user = await find_user(session, user_ref)
    permission = await session.scalar(
        select(Permission).where(Permission.name == permission_name.strip().upper())
    )
    if permission is None:
        raise NotFound(f"no permission {permission_name}", name=permission_name)
    expires_at = None if expires is None else parse_expiry(expires, moment)

    scope_type: GrantScopeType | None = None
    scope_id: uuid.UUID | None = None
    where = "everywhere"
    if institution is not None:
        found = await find_institution(session, institution)
        scope_type, scope_id, where = GrantScopeType.INSTITUTION, found.id, f"in {found.slug}"
    elif department is not None:
        ident = _uuid(department)
        dep = None if ident is None else await session.get(InstitutionDepartment, ident)
        if dep is None:
            raise NotFound(f"no department {department}", ref=department)
        scope_type, scope_id, where = GrantScopeType.DEPARTMENT, dep.id, f"in department {dep.name}"
    elif resource is not None:
        try:
            ref = ResourceRef.parse(resource)
        except ValueError as error:
            raise InvalidInput(f"bad --resource: {error}", ref=resource) from None
        if not await _resource_exists(session, ref):
            raise NotFound(f"no {ref.type} {ref.id}", ref=resource)
        scope_type, scope_id, where = GrantScopeType.RESOURCE, ref.id, f"on {ref}"

    grant = PermissionGrant(
        id=uuid.uuid4(),
        grantee_type=GranteeType.USER,
        grantee_user_id=user.id,
        permission_id=permission.id,
        scope_type=scope_type,
        scope_id=scope_id,
        granted_by=by,
        created_by=by,
        expires_at=expires_at,
    )
    session.add(grant)
    await session.flush()
    await record_system_event(
        session,
        "PERMISSION_GRANTED",
        user_id=user.id,
        payload={
            "permission": permission.name,
            "scope_type": None if scope_type is None else str(scope_type),
            "scope_id": None if scope_id is None else str(scope_id),
            "expires_at": None if expires_at is None else expires_at.isoformat(),
        },
    )
    until = "" if expires_at is None else f" until {expires_at.isoformat(timespec='minutes')}"
    return grant, f"granted {permission.name} to {describe_user(user)} {where}{until}"


async def explain(
    session: AsyncSession,
    user_ref: str,
    action: str,
    resource: str,
    *,
    now: dt.datetime | None = None,
) -> Explanation:
    """The decision for (user, action, resource) with every rule that took part."""
    try:
        wanted = Action(action.strip().upper())
    except ValueError:
        raise InvalidInput(
            f"unknown action {action!r} (one of {', '.join(a.value for a in Action)})",
            action=action,
        ) from None
    try:
        ref = ResourceRef.parse(resource)
    except ValueError as error:
        raise InvalidInput(f"bad resource: {error}", ref=resource) from None
    if user_ref.strip().lower() == GUEST:
        actor, label = Actor.guest(), GUEST
    else:
        user = await find_user(session, user_ref)
        actor = Actor(user.id)
        label = describe_user(user) + ("" if user.is_active else " (inactive: a guest)")
    if not await _resource_exists(session, ref):
        raise NotFound(f"no {ref.type} {ref.id}", ref=resource)
    cache = AccessCache(now=now)
    policies = await cache.policies(session)
    decision = await authorize(session, actor, wanted, ref, cache=cache)
    return Explanation(label, wanted, ref, decision, policies.invalid)
