"""People arriving from Telegram: resolve (or create) the user behind an update, onboarding
choices, and what the bot needs to know about them on every update.

``resolve_telegram_user`` runs on every update, so it costs one statement for a known user who
was seen in the last minute. Login bookkeeping (``last_login``, username and language as
Telegram reports them) is a Core UPDATE: it is not an actor's change to audit, and at most one
per minute per user. The LOGIN system event is written at most once per UTC day.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Exists

from domain.config import SUPPORTED_LOCALES
from domain.errors import InvalidInput
from domain.models.access import Role
from domain.models.institution import InstitutionMember, InstitutionMemberRole
from domain.models.lookup import Category
from domain.models.setting import Setting, UserSettingValue
from domain.models.user import User, UserCategory, UserRole
from domain.services.audit import record_system_event

# last_login is refreshed when older than this: a write per update would be pure WAL churn.
LOGIN_REFRESH = dt.timedelta(minutes=1)
# Every new person is a MEMBER: they log their own training (docs/access.md).
DEFAULT_ROLE = "MEMBER"
# CATEGORY rows (type USER) recording what brought someone here.
PURPOSE_CATEGORY_TYPE = "USER"


class Purpose(enum.StrEnum):
    """The onboarding answer: "I train / I coach / I run a gym or club"."""

    TRAIN = "ATHLETE"
    COACH = "COACH"
    RUN_CLUB = "CLUB_MANAGER"


# Self-service platform roles per purpose. A club manager coaches too; institution admin rights
# come with the institution they create (never a platform ADMIN by self-declaration).
PURPOSE_ROLES: dict[Purpose, tuple[str, ...]] = {
    Purpose.TRAIN: (),
    Purpose.COACH: ("COACH",),
    Purpose.RUN_CLUB: ("COACH",),
}


@dataclass(frozen=True, slots=True)
class TelegramIdentity:
    """Who sent an update, as Telegram describes them."""

    telegram_user_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None


@dataclass(frozen=True, slots=True)
class UserContext:
    """What every handler may read about the person behind the update."""

    user_id: uuid.UUID
    telegram_user_id: int
    first_name: str
    locale: str
    timezone: str
    onboarded: bool
    is_new: bool
    is_unreachable: bool


def supported_locale(language_code: str | None) -> str | None:
    """``fr-CA`` → ``fr``; None when we do not speak it."""
    if not language_code:
        return None
    primary = language_code.split("-", 1)[0].lower()
    return primary if primary in SUPPORTED_LOCALES else None


def _locale_chosen(user_id: Any) -> Exists:
    return exists().where(
        UserSettingValue.user_id == user_id,
        UserSettingValue.setting_id == Setting.id,
        Setting.setting_key == "locale",
    )


def _onboarded(user_id: Any) -> Exists:
    return exists().where(
        UserCategory.user_id == user_id,
        UserCategory.category_id == Category.id,
        Category.type == PURPOSE_CATEGORY_TYPE,
    )


async def resolve_telegram_user(
    session: AsyncSession,
    identity: TelegramIdentity,
    *,
    default_locale: str,
    now: dt.datetime | None = None,
) -> UserContext:
    """The user behind ``identity``, created on first contact (MEMBER role, LOGIN event).

    Locale: the user's own ``locale`` setting when they chose one, else Telegram's language
    when we speak it, else ``default_locale``.
    """
    now = now or dt.datetime.now(dt.UTC)
    telegram_locale = supported_locale(identity.language_code)
    row = (
        await session.execute(
            select(
                User.id,
                User.first_name,
                User.last_name,
                User.telegram_username,
                User.language_code,
                User.locale,
                User.timezone,
                User.last_login,
                User.is_unreachable,
                _locale_chosen(User.id).label("locale_chosen"),
                _onboarded(User.id).label("onboarded"),
            ).where(User.telegram_user_id == identity.telegram_user_id)
        )
    ).one_or_none()
    if row is None:
        return await _create(session, identity, telegram_locale or default_locale, now)

    locale = row.locale if row.locale_chosen else (telegram_locale or default_locale)
    changed = (
        row.telegram_username != identity.username
        or row.language_code != identity.language_code
        or row.first_name != identity.first_name
        or row.last_name != identity.last_name
    )
    stale = row.last_login is None or now - row.last_login >= LOGIN_REFRESH
    if changed or stale or (locale != row.locale):
        await session.execute(
            update(User)
            .where(User.id == row.id)
            .values(
                telegram_username=identity.username,
                language_code=identity.language_code,
                first_name=identity.first_name,
                last_name=identity.last_name,
                # Follows Telegram's language until the user picks one (then it is theirs).
                locale=locale,
                last_login=now if stale else row.last_login,
                # A message from them proves they can be reached again (they unblocked us).
                is_unreachable=False,
            )
        )
    if row.last_login is None or row.last_login.astimezone(dt.UTC).date() < now.date():
        await record_system_event(session, "LOGIN", user_id=row.id)
    return UserContext(
        user_id=row.id,
        telegram_user_id=identity.telegram_user_id,
        first_name=identity.first_name,
        locale=locale,
        timezone=row.timezone,
        onboarded=bool(row.onboarded),
        is_new=False,
        is_unreachable=False,
    )


async def _create(
    session: AsyncSession, identity: TelegramIdentity, locale: str, now: dt.datetime
) -> UserContext:
    user = User(
        telegram_user_id=identity.telegram_user_id,
        telegram_username=identity.username,
        language_code=identity.language_code,
        first_name=identity.first_name,
        last_name=identity.last_name,
        locale=locale,
        timezone="UTC",
        last_login=now,
    )
    session.add(user)
    await session.flush()
    await _grant_roles(session, user.id, (DEFAULT_ROLE,))
    await record_system_event(session, "LOGIN", user_id=user.id, payload={"first_contact": True})
    return UserContext(
        user_id=user.id,
        telegram_user_id=identity.telegram_user_id,
        first_name=identity.first_name,
        locale=locale,
        timezone="UTC",
        onboarded=False,
        is_new=True,
        is_unreachable=False,
    )


async def _grant_roles(session: AsyncSession, user_id: uuid.UUID, codes: tuple[str, ...]) -> None:
    if not codes:
        return
    roles = (
        await session.scalars(
            select(Role.id).where(Role.code.in_(codes), Role.institution_id.is_(None))
        )
    ).all()
    if len(roles) != len(codes):
        raise InvalidInput(f"unknown platform role among {codes}", roles=",".join(codes))
    held = set(
        (
            await session.scalars(
                select(UserRole.role_id).where(
                    UserRole.user_id == user_id, UserRole.role_id.in_(roles)
                )
            )
        ).all()
    )
    for role_id in roles:
        if role_id not in held:
            # ORM rows: role grants are audited (AUDITED_TABLES).
            session.add(UserRole(user_id=user_id, role_id=role_id, updated_by=user_id))
    await session.flush()


async def choose_purpose(session: AsyncSession, user_id: uuid.UUID, purpose: Purpose) -> None:
    """Record the onboarding answer (replacing an earlier one) and the roles it brings.

    Roles are only ever added here: a coach who later says "I train" keeps their clients.
    """
    category_id = (
        await session.scalars(
            select(Category.id).where(
                Category.type == PURPOSE_CATEGORY_TYPE, Category.code == purpose.value
            )
        )
    ).one_or_none()
    if category_id is None:
        raise InvalidInput(f"purpose category {purpose.value} is not seeded", purpose=purpose)
    await session.execute(
        delete(UserCategory).where(
            UserCategory.user_id == user_id,
            UserCategory.category_id.in_(
                select(Category.id).where(Category.type == PURPOSE_CATEGORY_TYPE)
            ),
        )
    )
    await session.execute(
        insert(UserCategory)
        .values(user_id=user_id, category_id=category_id)
        .on_conflict_do_nothing()
    )
    await _grant_roles(session, user_id, PURPOSE_ROLES[purpose])


async def purpose_of(session: AsyncSession, user_id: uuid.UUID) -> Purpose | None:
    code = (
        await session.scalars(
            select(Category.code)
            .join(UserCategory, UserCategory.category_id == Category.id)
            .where(UserCategory.user_id == user_id, Category.type == PURPOSE_CATEGORY_TYPE)
        )
    ).first()
    return Purpose(code) if code in {p.value for p in Purpose} else None


async def role_codes(session: AsyncSession, user_id: uuid.UUID) -> frozenset[str]:
    """Codes of the active roles a user holds on the platform or in an active membership."""
    platform = (
        select(Role.code)
        .join(UserRole, UserRole.role_id == Role.id)
        .where(UserRole.user_id == user_id, UserRole.is_active, Role.is_active)
    )
    institution = (
        select(Role.code)
        .join(InstitutionMemberRole, InstitutionMemberRole.role_id == Role.id)
        .join(
            InstitutionMember,
            and_(
                InstitutionMember.id == InstitutionMemberRole.institution_member_id,
                InstitutionMember.is_active,
            ),
        )
        .where(
            InstitutionMember.user_id == user_id, InstitutionMemberRole.is_active, Role.is_active
        )
    )
    rows = await session.scalars(platform.union(institution))
    return frozenset(rows.all())


async def set_reachable(session: AsyncSession, user_id: uuid.UUID, *, reachable: bool) -> None:
    """Telegram told us the person blocked (or unblocked) the bot."""
    await session.execute(
        update(User).where(User.id == user_id).values(is_unreachable=not reachable)
    )
