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

from sqlalchemy import and_, bindparam, delete, exists, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Exists

from domain.config import SUPPORTED_LOCALES
from domain.db import DriverStatement
from domain.errors import InvalidInput
from domain.models.access import Role
from domain.models.institution import InstitutionMember, InstitutionMemberRole
from domain.models.lookup import Category
from domain.models.notification import SuppressionReason
from domain.models.setting import Setting, UserSettingValue
from domain.models.telegram import ProcessedUpdate
from domain.models.user import User, UserCategory, UserRole
from domain.services.audit import record_system_event
from domain.services.notifications import lift_suppression, suppress
from domain.services.settings import effective_value_text

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
    # The ``weight_unit`` setting (kg | lb) as resolved when the update arrived.
    weight_unit: str = "kg"


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


# What every update needs to know about its sender, by Telegram id; built once (the statement
# runs on every update: building it per call costs more than executing it).
_USER_COLUMNS = (
    User.id,
    User.first_name,
    User.last_name,
    User.telegram_username,
    User.language_code,
    User.locale,
    User.timezone,
    User.last_login,
    _locale_chosen(User.id).label("locale_chosen"),
    _onboarded(User.id).label("onboarded"),
    effective_value_text("weight_unit", User.id).label("weight_unit"),
)
_SENDER = select(*_USER_COLUMNS).where(User.telegram_user_id == bindparam("telegram_user_id"))
# The same in the statement that claims the update (domain.services.updates): a sender row
# of NULLs when the person is new.
_CLAIM = (
    insert(ProcessedUpdate)
    .values(bot_id=bindparam("bot_id"), update_id=bindparam("update_id"))
    .on_conflict_do_nothing()
    .returning(ProcessedUpdate.update_id)
    .cte("claim")
)
_CLAIM_ONLY = (
    insert(ProcessedUpdate)
    .values(bot_id=bindparam("bot_id"), update_id=bindparam("update_id"))
    .on_conflict_do_nothing()
    .returning(ProcessedUpdate.update_id)
)
_ONE = select(literal(1).label("one")).subquery("one")
_CLAIM_AND_SENDER = (
    select(exists(select(_CLAIM.c.update_id)).label("claimed"), *_USER_COLUMNS)
    .select_from(_ONE)
    .outerjoin(User, User.telegram_user_id == bindparam("telegram_user_id"))
)


_CLAIM_ONLY_SQL = DriverStatement(_CLAIM_ONLY)
_CLAIM_AND_SENDER_SQL = DriverStatement(_CLAIM_AND_SENDER)


@dataclass(frozen=True, slots=True)
class SenderRow:
    """The sender's row as read with the claim; ``id`` is None for a newcomer."""

    id: uuid.UUID | None
    first_name: str | None
    last_name: str | None
    telegram_username: str | None
    language_code: str | None
    locale: str | None
    timezone: str | None
    last_login: dt.datetime | None
    locale_chosen: bool
    onboarded: bool
    weight_unit: str | None


async def claim_and_find_sender(
    claims: Any,
    *,
    bot_id: int,
    update_id: int,
    telegram_user_id: int | None,
) -> tuple[bool, SenderRow | None]:
    """Claim the update (at most once per bot and update id) and read its sender's row, in
    one round trip. ``claims`` is an asyncpg pool or connection outside any transaction: the
    claim is committed before the update is handled (at-most-once, docs/decisions.md).
    Returns (claimed, the sender's row or None when there is no sender)."""
    driver = claims
    values = {"bot_id": bot_id, "update_id": update_id, "telegram_user_id": telegram_user_id}
    if telegram_user_id is None:
        claimed = await driver.fetchval(_CLAIM_ONLY_SQL.sql, *_CLAIM_ONLY_SQL.arguments(values))
        return claimed is not None, None
    record = await driver.fetchrow(
        _CLAIM_AND_SENDER_SQL.sql, *_CLAIM_AND_SENDER_SQL.arguments(values)
    )
    assert record is not None  # one row, from the one-row subquery
    fields = {name: record[name] for name in SenderRow.__slots__}
    return bool(record["claimed"]), SenderRow(**fields)


async def resolve_sender(
    session: AsyncSession,
    identity: TelegramIdentity,
    row: Any,
    *,
    default_locale: str,
    now: dt.datetime | None = None,
) -> UserContext:
    """The UserContext for a sender row read by ``claim_and_find_sender``; a newcomer is
    created in the session's transaction."""
    return await _known_or_new(session, identity, row, default_locale, now)


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
    row = (
        await session.execute(_SENDER, {"telegram_user_id": identity.telegram_user_id})
    ).one_or_none()
    return await _known_or_new(session, identity, row, default_locale, now)


async def _known_or_new(
    session: AsyncSession,
    identity: TelegramIdentity,
    row: Any,  # a Row of _USER_COLUMNS (its id NULL for a newcomer) or None
    default_locale: str,
    now: dt.datetime | None,
) -> UserContext:
    now = now or dt.datetime.now(dt.UTC)
    telegram_locale = supported_locale(identity.language_code)
    if row is None or row.id is None:
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
        weight_unit=row.weight_unit or "kg",
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
    """Telegram told us the person blocked (or unblocked) the bot: the BOT_BLOCKED
    suppression (what senders check) and ``app_user.is_unreachable`` move together."""
    await session.execute(
        update(User).where(User.id == user_id).values(is_unreachable=not reachable)
    )
    if reachable:
        await lift_suppression(session, user_id)
    else:
        await suppress(session, user_id, SuppressionReason.BOT_BLOCKED)
