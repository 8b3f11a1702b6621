"""Role and permission changes made through the admin service leave a SYSTEM_EVENT."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models.audit import EventType, SystemEvent
from domain.models.user import User
from domain.services.access_admin import grant_permission, grant_role, revoke_role


async def event_codes(session: AsyncSession, user: User) -> list[str]:
    query = (
        select(EventType.code)
        .join(SystemEvent, SystemEvent.event_type_id == EventType.id)
        .where(SystemEvent.user_id == user.id)
    )
    return list((await session.scalars(query)).all())


async def test_role_grant_revoke_and_permission_grant_are_system_events(
    session: AsyncSession,
) -> None:
    user = User(first_name="Rita", telegram_user_id=99_000_001)
    session.add(user)
    await session.flush()

    await grant_role(session, str(user.id), "COACH")
    await revoke_role(session, str(user.id), "COACH")
    await grant_permission(session, str(user.id), "USER.WORKOUT.CREATE", expires="30d")

    # One transaction: occurred_at is the same instant for all three, so compare as a set.
    assert sorted(await event_codes(session, user)) == [
        "PERMISSION_GRANTED",
        "ROLE_GRANTED",
        "ROLE_REVOKED",
    ]
