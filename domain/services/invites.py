"""Institution invite links (``inv_<token>``): issued by an institution's admin with a role,
an optional department, an expiry and a maximum number of uses; listed, revoked; previewed and
redeemed by the person who opens the link.

The secret is ``domain.services.link_tokens``'s: the row keeps only its digest
(``institution_invite.token``), the link carries the token.

Redemption is one conditional UPDATE::

    UPDATE institution_invite SET use_count = use_count + 1, …
    WHERE id = :id AND is_active AND NOT is_revoked AND expires_at > :now
      AND (max_uses IS NULL OR use_count < max_uses)
    RETURNING use_count

PostgreSQL re-checks the WHERE on the latest row version after waiting for a concurrent
redeemer's lock (READ COMMITTED), so a single-use invite opened by two people at the same
moment is spent once: the second UPDATE matches nothing and is refused as USED_UP.

A refused redemption (unknown, expired, revoked, used up) changes nothing but a
LINK_REDEMPTION_FAILED security event (``link_tokens.refuse``); the caller commits that row.
Opening a link of an institution one already belongs to is ALREADY_DONE: no use is spent and no
failure is counted (it is not a guess).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput, NotFound
from domain.models.access import Role
from domain.models.institution import (
    Institution,
    InstitutionDepartment,
    InstitutionInvite,
    InstitutionMember,
)
from domain.models.user import User
from domain.services import link_tokens
from domain.services.audit import audit_context, record_system_event
from domain.services.institutions import (
    ADMIN_ROLE,
    RoleView,
    add_member,
    admins_of,
    assignable_role,
    create_institution_as_operator,
    department_of,
    localized,
    person_name,
    require_admin,
    role_view,
)
from domain.services.link_tokens import LinkKind, LinkProblem, LinkRefused

EXPIRY_DAYS = (1, 7, 30)
MAX_USES_CHOICES: tuple[int | None, ...] = (1, 10, None)  # None = unlimited
OPERATOR_INVITE_DAYS = 7


@dataclass(frozen=True)
class IssuedInvite:
    """A new invite: ``token`` is shown once (in the link), never stored."""

    id: uuid.UUID
    token: str
    expires_at: dt.datetime

    @property
    def payload(self) -> str:
        return f"{LinkKind.INVITE.value}_{self.token}"


@dataclass(frozen=True)
class OperatorSetup:
    """What ``motriforge admin create-institution`` did: the institution, and either the admin
    made directly (they already use the bot) or the invite link to hand them."""

    institution_id: uuid.UUID
    name: str
    slug: str | None
    admin_name: str | None
    invite: IssuedInvite | None


@dataclass(frozen=True)
class InviteView:
    id: uuid.UUID
    role: RoleView | None
    department: str | None
    use_count: int
    max_uses: int | None
    expires_at: dt.datetime


@dataclass(frozen=True)
class InvitePreview:
    """What the consent screen shows before someone joins."""

    institution_id: uuid.UUID
    institution: str
    role: RoleView | None
    department: str | None


@dataclass(frozen=True)
class AdminContact:
    user_id: uuid.UUID
    telegram_user_id: int | None
    locale: str
    role_name: str  # the new member's role in the admin's language


@dataclass(frozen=True)
class JoinResult:
    institution_id: uuid.UUID
    institution: str
    member_id: uuid.UUID
    member_name: str
    role: RoleView | None
    department: str | None
    admins: tuple[AdminContact, ...]  # to tell "X joined as COACH" (the joiner left out)


# --------------------------------------------------------------------------------------------
# Issuing, listing, revoking: admins only
# --------------------------------------------------------------------------------------------


async def _issue(
    session: AsyncSession,
    *,
    institution_id: uuid.UUID,
    role_id: uuid.UUID | None,
    department_id: uuid.UUID | None,
    expires_at: dt.datetime,
    max_uses: int | None,
    invited_by: uuid.UUID | None,
    now: dt.datetime,
) -> IssuedInvite:
    issued = link_tokens.issue()
    invite = InstitutionInvite(
        id=uuid.uuid4(),
        institution_id=institution_id,
        invited_by=invited_by,
        role_id=role_id,
        department_id=department_id,
        token=issued.stored,
        max_uses=max_uses,
        sent_at=now,
        expires_at=expires_at,
    )
    session.add(invite)
    await session.flush()
    await record_system_event(
        session,
        "INVITE_SENT",
        user_id=invited_by,
        resource_type="INSTITUTION_INVITE",
        resource_id=invite.id,
        payload={
            "link": LinkKind.INVITE.value,
            "institution_id": str(institution_id),
            "role_id": None if role_id is None else str(role_id),
            "max_uses": max_uses,
            "expires_at": expires_at.isoformat(),
        },
    )
    return IssuedInvite(invite.id, issued.token, expires_at)


async def create_invite(
    session: AsyncSession,
    actor_id: uuid.UUID,
    institution_id: uuid.UUID,
    *,
    role_id: uuid.UUID,
    department_id: uuid.UUID | None,
    days: int,
    max_uses: int | None,
    now: dt.datetime,
) -> IssuedInvite:
    """An admin's new invite link; InvalidInput for a role, department, expiry or use count
    the institution does not offer."""
    await require_admin(session, actor_id, institution_id)
    await assignable_role(session, institution_id, role_id)
    if department_id is not None:
        await department_of(session, institution_id, department_id)
    if days not in EXPIRY_DAYS:
        raise InvalidInput(f"expiry must be one of {EXPIRY_DAYS} days", field="days")
    if max_uses not in MAX_USES_CHOICES:
        raise InvalidInput("max uses must be 1, 10 or unlimited", field="max_uses")
    async with audit_context(session, actor_id=actor_id, reason="invite created"):
        return await _issue(
            session,
            institution_id=institution_id,
            role_id=role_id,
            department_id=department_id,
            expires_at=now + dt.timedelta(days=days),
            max_uses=max_uses,
            invited_by=actor_id,
            now=now,
        )


async def create_operator_admin_invite(
    session: AsyncSession, institution_id: uuid.UUID, now: dt.datetime
) -> IssuedInvite:
    """The command line's invite for an institution's first admin: single use, ADMIN role,
    ``OPERATOR_INVITE_DAYS`` days. No chat user acts (the operator at the console does)."""
    role = await session.scalar(
        select(Role.id).where(Role.code == ADMIN_ROLE, Role.institution_id.is_(None))
    )
    if role is None:
        raise NotFound("role ADMIN is not seeded")
    async with audit_context(session, reason="admin invite from the command line"):
        return await _issue(
            session,
            institution_id=institution_id,
            role_id=role,
            department_id=None,
            expires_at=now + dt.timedelta(days=OPERATOR_INVITE_DAYS),
            max_uses=1,
            invited_by=None,
            now=now,
        )


def _usable(now: dt.datetime) -> list[ColumnElement[bool]]:
    invite = InstitutionInvite
    return [
        invite.is_active.is_(True),
        ~invite.is_revoked,
        invite.expires_at > now,
        or_(invite.max_uses.is_(None), invite.use_count < invite.max_uses),
    ]


async def list_invites(
    session: AsyncSession,
    actor_id: uuid.UUID,
    institution_id: uuid.UUID,
    *,
    now: dt.datetime,
    locale: str,
) -> list[InviteView]:
    """The institution's invites that can still be used, newest first (admins only)."""
    await require_admin(session, actor_id, institution_id)
    rows = await session.execute(
        select(InstitutionInvite, Role, InstitutionDepartment.name)
        .outerjoin(Role, Role.id == InstitutionInvite.role_id)
        .outerjoin(
            InstitutionDepartment, InstitutionDepartment.id == InstitutionInvite.department_id
        )
        .where(InstitutionInvite.institution_id == institution_id, *_usable(now))
        .order_by(InstitutionInvite.sent_at.desc(), InstitutionInvite.id)
        .limit(20)
    )
    return [
        InviteView(
            id=invite.id,
            role=None if role is None else role_view(role, locale),
            department=department,
            use_count=invite.use_count,
            max_uses=invite.max_uses,
            expires_at=invite.expires_at,
        )
        for invite, role, department in rows
    ]


async def revoke_invite(
    session: AsyncSession, actor_id: uuid.UUID, invite_id: uuid.UUID
) -> uuid.UUID:
    """Revoke an invite (checked against the invite's own institution); returns the
    institution's id. Revoking twice is harmless."""
    invite = await session.get(InstitutionInvite, invite_id)
    if invite is None:
        raise NotFound(f"invite {invite_id} not found", id=str(invite_id))
    await require_admin(session, actor_id, invite.institution_id)
    if not invite.is_revoked:
        async with audit_context(session, actor_id=actor_id, reason="invite revoked"):
            invite.is_revoked = True
        await record_system_event(
            session,
            "INVITE_REVOKED",
            user_id=actor_id,
            resource_type="INSTITUTION_INVITE",
            resource_id=invite.id,
            payload={"institution_id": str(invite.institution_id)},
        )
    return invite.institution_id


# --------------------------------------------------------------------------------------------
# Opening and redeeming a link
# --------------------------------------------------------------------------------------------


async def _refuse(
    session: AsyncSession,
    user_id: uuid.UUID,
    problem: LinkProblem,
    invite_id: uuid.UUID | None = None,
) -> LinkRefused:
    return await link_tokens.refuse(
        session,
        user_id,
        LinkKind.INVITE,
        problem,
        resource_type="INSTITUTION_INVITE" if invite_id else None,
        resource_id=invite_id,
    )


def _problem(invite: InstitutionInvite, now: dt.datetime) -> LinkProblem | None:
    if invite.is_revoked or not invite.is_active:
        return LinkProblem.REVOKED
    if invite.expires_at <= now:
        return LinkProblem.EXPIRED
    if invite.max_uses is not None and invite.use_count >= invite.max_uses:
        return LinkProblem.USED_UP
    return None


async def _checked(
    session: AsyncSession, user_id: uuid.UUID, token: str, now: dt.datetime
) -> tuple[InstitutionInvite, Institution]:
    """The invite behind ``token`` if it can be redeemed by ``user_id`` now; otherwise the
    failure is recorded and LinkRefused raised (nothing else changed)."""
    await link_tokens.check_rate(session, user_id, now)
    invite = None
    if link_tokens.well_formed(token):
        invite = await session.scalar(
            select(InstitutionInvite).where(InstitutionInvite.token == link_tokens.digest(token))
        )
    if invite is None or not link_tokens.matches(invite.token, token):
        raise await _refuse(session, user_id, LinkProblem.UNKNOWN)
    institution = await session.get(Institution, invite.institution_id)
    if institution is None or not institution.is_active:
        raise await _refuse(session, user_id, LinkProblem.REVOKED, invite.id)
    # Before the link's own state: the member who spent a single-use link and opens it again
    # is told they are in, not that it is used up.
    already = await session.scalar(
        select(InstitutionMember.id).where(
            InstitutionMember.institution_id == invite.institution_id,
            InstitutionMember.user_id == user_id,
            InstitutionMember.is_active,
        )
    )
    if already is not None:
        raise LinkRefused(LinkProblem.ALREADY_DONE)
    problem = _problem(invite, now)
    if problem is not None:
        raise await _refuse(session, user_id, problem, invite.id)
    return invite, institution


async def _offer(
    session: AsyncSession, invite: InstitutionInvite, locale: str
) -> tuple[Role | None, str | None]:
    role = await session.get(Role, invite.role_id) if invite.role_id else None
    department = (
        await session.get(InstitutionDepartment, invite.department_id)
        if invite.department_id
        else None
    )
    return role, department.name if department else None


async def preview_invite(
    session: AsyncSession, user_id: uuid.UUID, token: str, *, now: dt.datetime, locale: str
) -> InvitePreview:
    """What the link offers (institution, role, department), for the consent screen."""
    invite, institution = await _checked(session, user_id, token, now)
    role, department = await _offer(session, invite, locale)
    return InvitePreview(
        institution_id=institution.id,
        institution=institution.name,
        role=None if role is None else role_view(role, locale),
        department=department,
    )


async def redeem_invite(
    session: AsyncSession, user_id: uuid.UUID, token: str, *, now: dt.datetime, locale: str
) -> JoinResult:
    """Join the institution through the link: membership with the invite's role and
    department, one use counted atomically, INVITE_ACCEPTED recorded. LinkRefused when the
    link cannot be used (see the module docstring)."""
    invite, institution = await _checked(session, user_id, token, now)
    spent = await session.execute(
        update(InstitutionInvite)
        .where(
            and_(
                InstitutionInvite.id == invite.id,
                InstitutionInvite.is_active,
                ~InstitutionInvite.is_revoked,
                InstitutionInvite.expires_at > now,
                or_(
                    InstitutionInvite.max_uses.is_(None),
                    InstitutionInvite.use_count < InstitutionInvite.max_uses,
                ),
            )
        )
        .values(
            use_count=InstitutionInvite.use_count + 1,
            # First acceptance wins, also between concurrent redeemers of a shared link.
            accepted_at=func.coalesce(InstitutionInvite.accepted_at, now),
            accepted_by=func.coalesce(InstitutionInvite.accepted_by, user_id),
        )
        .returning(InstitutionInvite.use_count)
        .execution_options(synchronize_session=False)
    )
    if spent.scalar_one_or_none() is None:
        # Someone else took the last use (or revoked it) between the check and now.
        await session.refresh(invite)
        raise await _refuse(
            session, user_id, _problem(invite, now) or LinkProblem.USED_UP, invite.id
        )
    role, department = await _offer(session, invite, locale)
    async with audit_context(session, actor_id=user_id, reason="joined through an invite"):
        member = await add_member(
            session,
            institution.id,
            user_id,
            role,
            invite.department_id,
            by=invite.invited_by,
            now=now,
        )
    await record_system_event(
        session,
        "INVITE_ACCEPTED",
        user_id=user_id,
        resource_type="INSTITUTION_INVITE",
        resource_id=invite.id,
        payload={
            "institution_id": str(institution.id),
            "role": None if role is None else role.code,
            "member_id": str(member.id),
        },
    )
    joiner = await session.get(User, user_id)
    assert joiner is not None
    admins = tuple(
        AdminContact(
            user_id=admin_id,
            telegram_user_id=telegram_id,
            locale=admin_locale,
            role_name="" if role is None else localized(role.name_i18n, admin_locale, role.name),
        )
        for admin_id, telegram_id, admin_locale in await admins_of(session, institution.id)
        if admin_id != user_id
    )
    return JoinResult(
        institution_id=institution.id,
        institution=institution.name,
        member_id=member.id,
        member_name=person_name(joiner.first_name, joiner.last_name),
        role=None if role is None else role_view(role, locale),
        department=department,
        admins=admins,
    )


async def create_institution_with_admin(
    session: AsyncSession, name: str, admin_telegram_id: int, now: dt.datetime
) -> OperatorSetup:
    """The command line's ``admin create-institution NAME --admin TELEGRAM_ID``.

    When that Telegram user already has an account they become the institution's ADMIN at
    once (the operator vouches for them; nothing to accept). Otherwise the institution gets a
    single-use ADMIN invite valid ``OPERATOR_INVITE_DAYS`` days, for the operator to hand over:
    an invite carries no recipient, so whoever opens it first becomes the admin."""
    if admin_telegram_id <= 0:
        raise InvalidInput("a Telegram user id is a positive number", field="admin")
    admin = await session.scalar(select(User).where(User.telegram_user_id == admin_telegram_id))
    institution = await create_institution_as_operator(
        session, name, None if admin is None else admin.id
    )
    if admin is not None:
        return OperatorSetup(
            institution.id,
            institution.name,
            institution.slug,
            person_name(admin.first_name, admin.last_name),
            None,
        )
    issued = await create_operator_admin_invite(session, institution.id, now)
    return OperatorSetup(institution.id, institution.name, institution.slug, None, issued)
