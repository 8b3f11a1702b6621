"""Institutions (gyms, clubs, clinics): creating one, its departments, its members and their
roles, and the settings it overrides for its members.

Who may do what
    * Creating an institution: a platform ADMIN (``ADMIN.INSTITUTION.MANAGE``, global) or a
      person holding the platform role COACH (``CREATOR_ROLES``: onboarding's "I run a gym or
      club" and "I coach" both give it). permissions.yaml has no ``INSTITUTION.CREATE`` for
      anyone but platform admins, so this rule lives here, in ``may_create_institution``.
    * Reading an institution (its screen): ``require(READ, INSTITUTION:I)`` — members get it
      from ``USER.INSTITUTION.READ`` (scope INSTITUTION).
    * Managing it (departments, members, roles, settings, invites): ``require_admin`` — one
      place, ``require(UPDATE, INSTITUTION:I)``. The engine grants it to holders of ADMIN *in I*
      (``INSTITUTION_ADMIN.INSTITUTION.UPDATE``, scope INSTITUTION, effective in the
      institution's context only — docs/access.md decision 4) and to platform admins
      (``ADMIN.INSTITUTION.MANAGE``, global). A COACH or MEMBER of I, or the ADMIN of another
      institution, is refused.
    Every function that takes a member, department or invite id loads the row first and checks
    the actor against *the row's* institution: an id forged into a button from another
    institution is refused, never acted on.

Changes to members and their roles go through the ORM so the audit hook
(domain/services/audit.py) writes AUDIT_LOG rows, attributed to the acting user with a reason.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, ResourceRef, authorize, literal_limit, require, visible
from domain.errors import Conflict, InvalidInput, NotAllowed, NotFound
from domain.models.access import Role, Visibility
from domain.models.institution import (
    Institution,
    InstitutionDepartment,
    InstitutionMember,
    InstitutionMemberRole,
)
from domain.models.setting import (
    InstitutionSettingValue,
    Setting,
    SettingDataType,
    SystemSettingValue,
)
from domain.models.user import User, UserRole
from domain.services import settings as settings_service
from domain.services.audit import audit_context, record_system_event

NAME_MAX = 100
DEPARTMENT_NAME_MAX = 100
MEMBERS_PAGE = 10
# Platform roles whose holders may create an institution (ADMIN inherits COACH but a held
# role row names only itself, so both are listed).
CREATOR_ROLES = ("COACH", "ADMIN")
# Platform roles an institution hands out to its members (roles.yaml minus GUEST), most
# privileged first; an institution's own roles (role.institution_id = I) come after them.
ASSIGNABLE_ROLES = ("ADMIN", "COACH", "TRAINER", "PHYSIOTHERAPIST", "MEMBER", "CUSTOMER")
ADMIN_ROLE = "ADMIN"
# Setting types the chat can edit at the institution level: a choice, a switch, a typed time
# or time zone. Lists (reminder days, 40 pieces of equipment) stay out of the chat editor.
EDITABLE_TYPES = (
    SettingDataType.ENUM,
    SettingDataType.BOOLEAN,
    SettingDataType.TIME,
    SettingDataType.TIMEZONE,
)


# --------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleView:
    id: uuid.UUID
    code: str
    name: str


@dataclass(frozen=True)
class InstitutionSummary:
    id: uuid.UUID
    name: str
    is_admin: bool


@dataclass(frozen=True)
class DepartmentView:
    id: uuid.UUID
    institution_id: uuid.UUID
    name: str
    members: int


@dataclass(frozen=True)
class InstitutionView:
    id: uuid.UUID
    name: str
    slug: str | None
    is_admin: bool
    my_roles: tuple[RoleView, ...]
    my_department: str | None
    members: int
    departments: tuple[DepartmentView, ...]


@dataclass(frozen=True)
class MemberView:
    id: uuid.UUID
    institution_id: uuid.UUID
    user_id: uuid.UUID
    name: str
    roles: tuple[RoleView, ...]
    department_id: uuid.UUID | None
    department: str | None
    joined_at: dt.datetime


@dataclass(frozen=True)
class MemberPage:
    members: tuple[MemberView, ...]
    total: int
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        return self.offset + self.limit < self.total


@dataclass(frozen=True)
class InstitutionSettingView:
    key: str
    name: str
    data_type: SettingDataType
    choices: tuple[Any, ...]
    value: Any  # effective for members who set nothing themselves
    inherited: Any  # what a reset brings back (system value or default)
    overridden: bool


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def localized(translations: dict[str, str], locale: str, fallback: str) -> str:
    return translations.get(locale) or translations.get("en") or fallback


def role_view(role: Role, locale: str) -> RoleView:
    return RoleView(role.id, role.code, localized(role.name_i18n, locale, role.name))


def person_name(first_name: str, last_name: str | None) -> str:
    return f"{first_name} {last_name}".strip() if last_name else first_name


def check_name(raw: str, *, limit: int = NAME_MAX, field: str = "name") -> str:
    """A trimmed, single-line name of 1..limit characters; InvalidInput otherwise."""
    name = " ".join(raw.split())
    if not name or len(name) > limit:
        raise InvalidInput(f"{field}: 1 to {limit} characters", field=field, limit=limit)
    return name


def _slug_base(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40]
    return base or "institution"


async def _free_slug(session: AsyncSession, name: str) -> str:
    """A unique slug for deep links and the CLI (``admin grant-role --institution``)."""
    base = _slug_base(name)
    slug = base
    while await session.scalar(select(Institution.id).where(Institution.slug == slug)):
        slug = f"{base}-{uuid.uuid4().hex[:6]}"
    return slug


async def _institution(session: AsyncSession, institution_id: uuid.UUID) -> Institution:
    found = await session.get(Institution, institution_id)
    if found is None or not found.is_active:
        raise NotFound(f"institution {institution_id} not found", id=str(institution_id))
    return found


async def require_admin(
    session: AsyncSession, actor_id: uuid.UUID, institution_id: uuid.UUID
) -> None:
    """The one check behind every management action: may ``actor_id`` manage this
    institution (ADMIN there, or platform admin)? NotAllowed (and a PERMISSION_DENIED
    security event) otherwise."""
    await require(
        session, Actor.user(actor_id), Action.UPDATE, ResourceRef("INSTITUTION", institution_id)
    )


async def is_admin(session: AsyncSession, actor_id: uuid.UUID, institution_id: uuid.UUID) -> bool:
    decision = await authorize(
        session, Actor.user(actor_id), Action.UPDATE, ResourceRef("INSTITUTION", institution_id)
    )
    return decision.allowed


async def _role(session: AsyncSession, code: str) -> Role:
    role = await session.scalar(
        select(Role).where(Role.code == code, Role.institution_id.is_(None), Role.is_active)
    )
    if role is None:
        raise NotFound(f"role {code} is not seeded", code=code)
    return role


async def assignable_roles(
    session: AsyncSession, institution_id: uuid.UUID, locale: str
) -> list[RoleView]:
    """Roles an institution may give: the platform ones of ``ASSIGNABLE_ROLES`` and its own."""
    rows = (
        await session.scalars(
            select(Role).where(
                Role.is_active,
                ((Role.institution_id.is_(None)) & Role.code.in_(ASSIGNABLE_ROLES))
                | (Role.institution_id == institution_id),
            )
        )
    ).all()
    order = {code: index for index, code in enumerate(ASSIGNABLE_ROLES)}
    ranked = sorted(
        rows,
        key=lambda role: (role.institution_id is not None, order.get(role.code, 99), role.code),
    )
    return [role_view(role, locale) for role in ranked]


async def assignable_role(
    session: AsyncSession, institution_id: uuid.UUID, role_id: uuid.UUID
) -> Role:
    """The role, if this institution may give it; InvalidInput otherwise (another
    institution's own role, GUEST, an inactive role …)."""
    role = await session.get(Role, role_id)
    if role is None or not role.is_active:
        raise InvalidInput("unknown role", field="role")
    if role.institution_id is None and role.code in ASSIGNABLE_ROLES:
        return role
    if role.institution_id == institution_id:
        return role
    raise InvalidInput(f"role {role.code} cannot be given in this institution", field="role")


async def department_of(
    session: AsyncSession, institution_id: uuid.UUID, department_id: uuid.UUID
) -> InstitutionDepartment:
    department = await session.get(InstitutionDepartment, department_id)
    if department is None or department.institution_id != institution_id:
        raise InvalidInput("unknown department", field="department")
    return department


# --------------------------------------------------------------------------------------------
# Creating an institution
# --------------------------------------------------------------------------------------------


async def may_create_institution(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Whether the user holds a platform role of ``CREATOR_ROLES`` (see the module docstring)."""
    held = await session.scalar(
        select(func.count())
        .select_from(UserRole)
        .join(Role, Role.id == UserRole.role_id)
        .join(User, User.id == UserRole.user_id)
        .where(
            UserRole.user_id == user_id,
            UserRole.is_active,
            Role.is_active,
            Role.institution_id.is_(None),
            Role.code.in_(CREATOR_ROLES),
            User.is_active,
        )
    )
    return bool(held)


async def _new_institution(
    session: AsyncSession, name: str, created_by: uuid.UUID | None
) -> Institution:
    visibility_id = await session.scalar(
        select(Visibility.id).where(
            Visibility.resource_type == "INSTITUTION", Visibility.is_default
        )
    )
    if visibility_id is None:
        raise NotFound("no default visibility for institutions is seeded")
    institution = Institution(
        id=uuid.uuid4(),
        name=name,
        slug=await _free_slug(session, name),
        created_by=created_by,
        visibility_id=visibility_id,
    )
    session.add(institution)
    await session.flush()
    return institution


async def add_member(
    session: AsyncSession,
    institution_id: uuid.UUID,
    user_id: uuid.UUID,
    role: Role | None,
    department_id: uuid.UUID | None,
    *,
    by: uuid.UUID | None,
    now: dt.datetime | None = None,
) -> InstitutionMember:
    """Make ``user_id`` an active member holding ``role`` (none: an invite whose role was
    deleted gives no role, never more than meant), reactivating an earlier, removed
    membership. Access is the caller's job."""
    member = await session.scalar(
        select(InstitutionMember).where(
            InstitutionMember.institution_id == institution_id,
            InstitutionMember.user_id == user_id,
        )
    )
    if member is None:
        member = InstitutionMember(
            id=uuid.uuid4(),
            institution_id=institution_id,
            user_id=user_id,
            department_id=department_id,
        )
        session.add(member)
        await session.flush()
    else:
        member.is_active = True
        member.department_id = department_id
        member.joined_at = now or dt.datetime.now(dt.UTC)
    if role is None:
        await session.flush()
        return member
    held = await session.get(InstitutionMemberRole, (member.id, role.id))
    if held is None:
        session.add(
            InstitutionMemberRole(
                institution_member_id=member.id, role_id=role.id, is_active=True, updated_by=by
            )
        )
    else:
        held.is_active = True
        held.updated_by = by
    await session.flush()
    return member


async def create_institution(session: AsyncSession, creator_id: uuid.UUID, name: str) -> uuid.UUID:
    """Create an institution whose creator becomes its member with the ADMIN role.

    NotAllowed when the creator may not create one; InvalidInput for a bad name."""
    clean = check_name(name)
    if not await may_create_institution(session, creator_id):
        raise NotAllowed(
            "only coaches and platform admins may create an institution",
            action="CREATE",
            resource_type="INSTITUTION",
        )
    async with audit_context(session, actor_id=creator_id, reason="institution created"):
        institution = await _new_institution(session, clean, creator_id)
        await add_member(
            session,
            institution.id,
            creator_id,
            await _role(session, ADMIN_ROLE),
            None,
            by=creator_id,
        )
    await record_system_event(
        session,
        "ROLE_GRANTED",
        user_id=creator_id,
        payload={"role": ADMIN_ROLE, "institution_id": str(institution.id), "by": str(creator_id)},
    )
    return institution.id


async def create_institution_as_operator(
    session: AsyncSession, name: str, admin_user_id: uuid.UUID | None
) -> Institution:
    """The CLI's path (an operator at the console, no chat user acting): create the
    institution and, when the admin already has an account, make them its ADMIN directly."""
    clean = check_name(name)
    async with audit_context(session, reason="institution created from the command line"):
        institution = await _new_institution(session, clean, None)
        if admin_user_id is not None:
            await add_member(
                session,
                institution.id,
                admin_user_id,
                await _role(session, ADMIN_ROLE),
                None,
                by=None,
            )
    return institution


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


async def my_institutions(session: AsyncSession, user_id: uuid.UUID) -> list[InstitutionSummary]:
    """The active institutions the user is an active member of (filtered by ``visible``)."""
    rows = (
        await session.execute(
            select(Institution.id, Institution.name)
            .join(
                InstitutionMember,
                and_(
                    InstitutionMember.institution_id == Institution.id,
                    InstitutionMember.user_id == user_id,
                    InstitutionMember.is_active,
                ),
            )
            .where(Institution.is_active, visible(Actor.user(user_id), "INSTITUTION"))
            .order_by(Institution.name, Institution.id)
            .limit(literal_limit(50))
        )
    ).all()
    return [
        InstitutionSummary(
            id=row.id, name=row.name, is_admin=await is_admin(session, user_id, row.id)
        )
        for row in rows
    ]


async def _roles_of_members(
    session: AsyncSession, member_ids: Sequence[uuid.UUID], locale: str
) -> dict[uuid.UUID, list[RoleView]]:
    roles: dict[uuid.UUID, list[RoleView]] = {member_id: [] for member_id in member_ids}
    if not member_ids:
        return roles
    rows = await session.execute(
        select(InstitutionMemberRole.institution_member_id, Role)
        .join(Role, Role.id == InstitutionMemberRole.role_id)
        .where(
            InstitutionMemberRole.institution_member_id.in_(member_ids),
            InstitutionMemberRole.is_active,
            Role.is_active,
        )
        .order_by(Role.code)
    )
    for member_id, role in rows:
        roles[member_id].append(role_view(role, locale))
    return roles


async def list_departments(
    session: AsyncSession, actor_id: uuid.UUID, institution_id: uuid.UUID
) -> list[DepartmentView]:
    """Departments with their number of active members (members of the institution may read)."""
    await require(
        session, Actor.user(actor_id), Action.READ, ResourceRef("INSTITUTION", institution_id)
    )
    counted = (
        select(func.count())
        .select_from(InstitutionMember)
        .where(
            InstitutionMember.department_id == InstitutionDepartment.id,
            InstitutionMember.is_active,
        )
        .correlate(InstitutionDepartment)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(InstitutionDepartment, counted)
        .where(InstitutionDepartment.institution_id == institution_id)
        .order_by(InstitutionDepartment.name)
        .limit(literal_limit(50))
    )
    return [
        DepartmentView(department.id, department.institution_id, department.name, int(count))
        for department, count in rows
    ]


async def institution_view(
    session: AsyncSession, actor_id: uuid.UUID, institution_id: uuid.UUID, locale: str
) -> InstitutionView:
    """The institution screen; NotAllowed for someone who is neither member nor admin."""
    await require(
        session, Actor.user(actor_id), Action.READ, ResourceRef("INSTITUTION", institution_id)
    )
    institution = await _institution(session, institution_id)
    me = await session.scalar(
        select(InstitutionMember).where(
            InstitutionMember.institution_id == institution_id,
            InstitutionMember.user_id == actor_id,
            InstitutionMember.is_active,
        )
    )
    my_roles: list[RoleView] = []
    my_department: str | None = None
    if me is not None:
        my_roles = (await _roles_of_members(session, [me.id], locale))[me.id]
        if me.department_id is not None:
            department = await session.get(InstitutionDepartment, me.department_id)
            my_department = department.name if department else None
    members = await session.scalar(
        select(func.count())
        .select_from(InstitutionMember)
        .where(InstitutionMember.institution_id == institution_id, InstitutionMember.is_active)
    )
    return InstitutionView(
        id=institution.id,
        name=institution.name,
        slug=institution.slug,
        is_admin=await is_admin(session, actor_id, institution_id),
        my_roles=tuple(my_roles),
        my_department=my_department,
        members=int(members or 0),
        departments=tuple(await list_departments(session, actor_id, institution_id)),
    )


# --------------------------------------------------------------------------------------------
# Departments: admins only
# --------------------------------------------------------------------------------------------


async def _department_for_admin(
    session: AsyncSession, actor_id: uuid.UUID, department_id: uuid.UUID
) -> InstitutionDepartment:
    department = await session.get(InstitutionDepartment, department_id)
    if department is None:
        raise NotFound(f"department {department_id} not found", id=str(department_id))
    await require_admin(session, actor_id, department.institution_id)
    return department


async def _name_taken(
    session: AsyncSession, institution_id: uuid.UUID, name: str, except_id: uuid.UUID | None = None
) -> bool:
    query = select(InstitutionDepartment.id).where(
        InstitutionDepartment.institution_id == institution_id,
        func.lower(InstitutionDepartment.name) == name.lower(),
    )
    if except_id is not None:
        query = query.where(InstitutionDepartment.id != except_id)
    return (await session.scalar(query)) is not None


async def create_department(
    session: AsyncSession, actor_id: uuid.UUID, institution_id: uuid.UUID, name: str
) -> uuid.UUID:
    await require_admin(session, actor_id, institution_id)
    clean = check_name(name, limit=DEPARTMENT_NAME_MAX, field="department")
    if await _name_taken(session, institution_id, clean):
        raise Conflict(f"a department named {clean!r} exists", field="department")
    department = InstitutionDepartment(id=uuid.uuid4(), institution_id=institution_id, name=clean)
    session.add(department)
    await session.flush()
    return department.id


async def department_detail(
    session: AsyncSession, actor_id: uuid.UUID, department_id: uuid.UUID
) -> DepartmentView:
    """One department, for its institution's admins."""
    department = await _department_for_admin(session, actor_id, department_id)
    members = await session.scalar(
        select(func.count())
        .select_from(InstitutionMember)
        .where(InstitutionMember.department_id == department.id, InstitutionMember.is_active)
    )
    return DepartmentView(
        department.id, department.institution_id, department.name, int(members or 0)
    )


async def rename_department(
    session: AsyncSession, actor_id: uuid.UUID, department_id: uuid.UUID, name: str
) -> uuid.UUID:
    """Rename a department; returns the institution's id."""
    department = await _department_for_admin(session, actor_id, department_id)
    clean = check_name(name, limit=DEPARTMENT_NAME_MAX, field="department")
    if await _name_taken(session, department.institution_id, clean, department.id):
        raise Conflict(f"a department named {clean!r} exists", field="department")
    department.name = clean
    await session.flush()
    return department.institution_id


async def delete_department(
    session: AsyncSession, actor_id: uuid.UUID, department_id: uuid.UUID
) -> uuid.UUID:
    """Delete a department; its members stay, without a department (FK SET NULL).
    Returns the institution's id."""
    department = await _department_for_admin(session, actor_id, department_id)
    institution_id = department.institution_id
    async with audit_context(session, actor_id=actor_id, reason="department deleted"):
        # Through the ORM, so the members' department change is audited too.
        for member in await session.scalars(
            select(InstitutionMember).where(InstitutionMember.department_id == department.id)
        ):
            member.department_id = None
        await session.flush()
        await session.delete(department)
    return institution_id


# --------------------------------------------------------------------------------------------
# Members: admins only
# --------------------------------------------------------------------------------------------


async def list_members(
    session: AsyncSession,
    actor_id: uuid.UUID,
    institution_id: uuid.UUID,
    *,
    locale: str,
    offset: int = 0,
    limit: int = MEMBERS_PAGE,
) -> MemberPage:
    """Active members, by name, one page (admins only)."""
    await require_admin(session, actor_id, institution_id)
    if offset < 0 or not 1 <= limit <= 50:
        raise InvalidInput("bad page", offset=offset, limit=limit)
    where = (InstitutionMember.institution_id == institution_id, InstitutionMember.is_active)
    total = await session.scalar(select(func.count()).select_from(InstitutionMember).where(*where))
    rows = (
        await session.execute(
            select(InstitutionMember, User.first_name, User.last_name, InstitutionDepartment.name)
            .join(User, User.id == InstitutionMember.user_id)
            .outerjoin(
                InstitutionDepartment,
                InstitutionDepartment.id == InstitutionMember.department_id,
            )
            .where(*where)
            .order_by(User.first_name, User.last_name, InstitutionMember.id)
            .offset(offset)
            .limit(literal_limit(limit))
        )
    ).all()
    roles = await _roles_of_members(session, [row[0].id for row in rows], locale)
    return MemberPage(
        members=tuple(
            MemberView(
                id=member.id,
                institution_id=member.institution_id,
                user_id=member.user_id,
                name=person_name(first, last),
                roles=tuple(roles[member.id]),
                department_id=member.department_id,
                department=department,
                joined_at=member.joined_at,
            )
            for member, first, last, department in rows
        ),
        total=int(total or 0),
        offset=offset,
        limit=limit,
    )


async def _member_for_admin(
    session: AsyncSession, actor_id: uuid.UUID, member_id: uuid.UUID
) -> InstitutionMember:
    member = await session.get(InstitutionMember, member_id)
    if member is None:
        raise NotFound(f"member {member_id} not found", id=str(member_id))
    # The member row's own institution: a forged id of another institution is refused here.
    await require_admin(session, actor_id, member.institution_id)
    if not member.is_active:
        raise NotFound(f"member {member_id} is no longer a member", id=str(member_id))
    return member


async def member_detail(
    session: AsyncSession, actor_id: uuid.UUID, member_id: uuid.UUID, locale: str
) -> MemberView:
    member = await _member_for_admin(session, actor_id, member_id)
    user = await session.get(User, member.user_id)
    assert user is not None
    department = (
        await session.get(InstitutionDepartment, member.department_id)
        if member.department_id
        else None
    )
    roles = await _roles_of_members(session, [member.id], locale)
    return MemberView(
        id=member.id,
        institution_id=member.institution_id,
        user_id=member.user_id,
        name=person_name(user.first_name, user.last_name),
        roles=tuple(roles[member.id]),
        department_id=member.department_id,
        department=department.name if department else None,
        joined_at=member.joined_at,
    )


async def _other_admins(
    session: AsyncSession, institution_id: uuid.UUID, except_member: uuid.UUID
) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(InstitutionMemberRole)
        .join(
            InstitutionMember, InstitutionMember.id == InstitutionMemberRole.institution_member_id
        )
        .join(Role, Role.id == InstitutionMemberRole.role_id)
        .where(
            InstitutionMember.institution_id == institution_id,
            InstitutionMember.is_active,
            InstitutionMember.id != except_member,
            InstitutionMemberRole.is_active,
            Role.code == ADMIN_ROLE,
            Role.institution_id.is_(None),
        )
    )
    return int(count or 0)


async def _holds_admin(session: AsyncSession, member_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(Role.id)
        .join(InstitutionMemberRole, InstitutionMemberRole.role_id == Role.id)
        .where(
            InstitutionMemberRole.institution_member_id == member_id,
            InstitutionMemberRole.is_active,
            Role.code == ADMIN_ROLE,
            Role.institution_id.is_(None),
        )
    )
    return found is not None


class LastAdmin(Conflict):
    """The change would leave the institution without an administrator."""

    code = "last_admin"


async def _keep_an_admin(session: AsyncSession, member: InstitutionMember) -> None:
    if await _holds_admin(session, member.id) and not await _other_admins(
        session, member.institution_id, member.id
    ):
        raise LastAdmin("an institution keeps at least one administrator")


async def set_member_role(
    session: AsyncSession, actor_id: uuid.UUID, member_id: uuid.UUID, role_id: uuid.UUID
) -> None:
    """Make ``role_id`` the member's one active role in the institution (others switched off,
    kept as history)."""
    member = await _member_for_admin(session, actor_id, member_id)
    role = await assignable_role(session, member.institution_id, role_id)
    if role.code != ADMIN_ROLE or role.institution_id is not None:
        await _keep_an_admin(session, member)
    async with audit_context(session, actor_id=actor_id, reason=f"role changed to {role.code}"):
        held = (
            await session.scalars(
                select(InstitutionMemberRole).where(
                    InstitutionMemberRole.institution_member_id == member.id
                )
            )
        ).all()
        found = False
        for row in held:
            wanted = row.role_id == role.id
            found = found or wanted
            if row.is_active != wanted:
                row.is_active = wanted
                row.updated_by = actor_id
        if not found:
            session.add(
                InstitutionMemberRole(
                    institution_member_id=member.id,
                    role_id=role.id,
                    is_active=True,
                    updated_by=actor_id,
                )
            )
    await record_system_event(
        session,
        "ROLE_GRANTED",
        user_id=member.user_id,
        payload={
            "role": role.code,
            "institution_id": str(member.institution_id),
            "by": str(actor_id),
        },
    )


async def set_member_department(
    session: AsyncSession,
    actor_id: uuid.UUID,
    member_id: uuid.UUID,
    department_id: uuid.UUID | None,
) -> None:
    member = await _member_for_admin(session, actor_id, member_id)
    if department_id is not None:
        await department_of(session, member.institution_id, department_id)
    async with audit_context(session, actor_id=actor_id, reason="department changed"):
        member.department_id = department_id


async def remove_member(session: AsyncSession, actor_id: uuid.UUID, member_id: uuid.UUID) -> None:
    """End a membership: the row and its roles stay, inactive (history, audit)."""
    member = await _member_for_admin(session, actor_id, member_id)
    await _keep_an_admin(session, member)
    async with audit_context(session, actor_id=actor_id, reason="member removed"):
        member.is_active = False
        for row in await session.scalars(
            select(InstitutionMemberRole).where(
                InstitutionMemberRole.institution_member_id == member.id,
                InstitutionMemberRole.is_active,
            )
        ):
            row.is_active = False
            row.updated_by = actor_id


async def admins_of(
    session: AsyncSession, institution_id: uuid.UUID
) -> list[tuple[uuid.UUID, int | None, str]]:
    """(user id, Telegram id, locale) of the institution's active ADMIN members."""
    rows = await session.execute(
        select(User.id, User.telegram_user_id, User.locale)
        .join(InstitutionMember, InstitutionMember.user_id == User.id)
        .join(
            InstitutionMemberRole,
            InstitutionMemberRole.institution_member_id == InstitutionMember.id,
        )
        .join(Role, Role.id == InstitutionMemberRole.role_id)
        .where(
            InstitutionMember.institution_id == institution_id,
            InstitutionMember.is_active,
            InstitutionMemberRole.is_active,
            Role.code == ADMIN_ROLE,
            Role.institution_id.is_(None),
            User.is_active,
        )
        .order_by(User.id)
    )
    return [(row.id, row.telegram_user_id, row.locale) for row in rows]


# --------------------------------------------------------------------------------------------
# Settings: admins only
# --------------------------------------------------------------------------------------------


async def institution_settings(
    session: AsyncSession, actor_id: uuid.UUID, institution_id: uuid.UUID, locale: str
) -> list[InstitutionSettingView]:
    """The settings an institution may override for its members, with the value its members
    inherit and whether the institution overrides it."""
    await require_admin(session, actor_id, institution_id)
    rows = await session.execute(
        select(Setting, InstitutionSettingValue.value, SystemSettingValue.value)
        .outerjoin(
            InstitutionSettingValue,
            and_(
                InstitutionSettingValue.setting_id == Setting.id,
                InstitutionSettingValue.institution_id == institution_id,
            ),
        )
        .outerjoin(
            SystemSettingValue,
            and_(SystemSettingValue.setting_id == Setting.id, Setting.is_system_configurable),
        )
        .where(
            Setting.is_active,
            Setting.is_institution_configurable,
            ~Setting.is_sensitive,
            Setting.data_type.in_(EDITABLE_TYPES),
        )
        .order_by(Setting.setting_key)
    )
    views = []
    for definition, own, system in rows:
        inherited = system if system is not None else definition.default_value
        views.append(
            InstitutionSettingView(
                key=definition.setting_key,
                name=localized(definition.display_name_i18n, locale, definition.display_name),
                data_type=definition.data_type,
                choices=tuple(definition.validation_rules.get("choices") or ()),
                value=own if own is not None else inherited,
                inherited=inherited,
                overridden=own is not None,
            )
        )
    return views


async def institution_setting(
    session: AsyncSession, actor_id: uuid.UUID, institution_id: uuid.UUID, key: str, locale: str
) -> InstitutionSettingView:
    for view in await institution_settings(session, actor_id, institution_id, locale):
        if view.key == key:
            return view
    raise NotFound(f"setting {key!r} cannot be set by an institution", key=key)


async def set_setting(
    session: AsyncSession, actor_id: uuid.UUID, institution_id: uuid.UUID, key: str, value: Any
) -> Any:
    """Override a setting for the institution's members (validated by the settings
    service: InvalidSettingValue names the rule). Returns the stored value."""
    await institution_setting(session, actor_id, institution_id, key, "en")
    stored = await settings_service.set_institution_setting(
        session, institution_id, key, value, changed_by=actor_id, reason="institution admin"
    )
    if key == "timezone":
        # The institution's own clock (schedules, "today") follows its time zone setting.
        await session.execute(
            update(Institution).where(Institution.id == institution_id).values(timezone=stored)
        )
    return stored


async def reset_setting(
    session: AsyncSession, actor_id: uuid.UUID, institution_id: uuid.UUID, key: str
) -> Any:
    """Remove the institution's override: members inherit the system value or the default
    again. Returns that value."""
    view = await institution_setting(session, actor_id, institution_id, key, "en")
    if view.overridden:
        await settings_service.reset_institution_setting(
            session,
            institution_id,
            key,
            changed_by=actor_id,
            reason="institution admin: back to default",
        )
        if key == "timezone":
            await session.execute(
                update(Institution)
                .where(Institution.id == institution_id)
                .values(timezone=str(view.inherited))
            )
    return view.inherited
