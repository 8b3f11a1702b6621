"""The audit trail written by the flush hook (domain/services/audit.py), on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.errors import InvalidInput
from domain.models.access import Role, Visibility
from domain.models.audit import AuditAction, AuditLog
from domain.models.institution import Institution, InstitutionInvite
from domain.models.lookup import Tag
from domain.models.user import User, UserRole
from domain.services.audit import (
    AUDITED_TABLES,
    REDACTED,
    audit_context,
    audit_installed,
    install_audit,
    record_access,
    set_audit_context,
    to_json_safe,
    uninstall_audit,
)


@pytest.fixture
def audited() -> Iterator[None]:
    """The hook installed for the test (left as found: the app may install it for good)."""
    was_installed = audit_installed()
    install_audit()
    yield
    if not was_installed:
        uninstall_audit()


async def trail(session: AsyncSession, entity_id: uuid.UUID | None = None) -> list[AuditLog]:
    query = select(AuditLog).order_by(AuditLog.occurred_at, AuditLog.id)
    if entity_id is not None:
        query = query.where(AuditLog.entity_id == entity_id)
    return list((await session.scalars(query)).all())


async def new_user(session: AsyncSession, name: str = "Ann") -> User:
    user = User(first_name=name, telegram_user_id=int(uuid.uuid4().int % 10**12))
    session.add(user)
    await session.flush()
    return user


class Colour(enum.Enum):
    RED = "red"


def test_json_safe_values_are_plain_json() -> None:
    value = {
        "id": uuid.UUID(int=1),
        "at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "day": dt.date(2026, 1, 2),
        "price": decimal.Decimal("19.90"),
        "colour": Colour.RED,
        "wait": dt.timedelta(minutes=2),
        "raw": b"\x00\x01",
        "nested": [(1, 2), {"nan": float("nan")}],
    }
    assert to_json_safe(value) == {
        "id": "00000000-0000-0000-0000-000000000001",
        "at": "2026-01-02T03:04:05+00:00",
        "day": "2026-01-02",
        "price": "19.90",
        "colour": "red",
        "wait": 120.0,
        "raw": "AAE=",
        "nested": [[1, 2], {"nan": "nan"}],
    }


async def test_create_update_delete_are_recorded_with_actor_and_reason(
    session: AsyncSession, audited: None
) -> None:
    admin = await new_user(session, "Admin")
    context = set_audit_context(session, actor_id=admin.id, reason="support ticket 42")

    user = await new_user(session)
    user.first_name = "Anna"
    user.date_of_birth = dt.date(1990, 5, 17)
    await session.flush()
    await session.delete(user)
    await session.flush()

    rows = await trail(session, user.id)
    assert [row.action for row in rows] == [
        AuditAction.CREATE,
        AuditAction.UPDATE,
        AuditAction.DELETE,
    ]
    created, updated, deleted = rows
    assert {row.entity_type for row in rows} == {"app_user"}
    assert {row.user_id for row in rows} == {admin.id}
    assert {row.reason for row in rows} == {"support ticket 42"}
    assert {row.session_id for row in rows} == {context.unit_of_work_id}

    assert created.old_values is None
    assert created.new_values is not None
    assert created.new_values["first_name"] == "Ann"
    assert created.new_values["id"] == str(user.id)
    assert created.changed_fields is None

    assert updated.changed_fields == ["date_of_birth", "first_name"]
    # date_of_birth was never loaded (the INSERT left it to the database), so its old value is
    # unknown and left out rather than guessed.
    assert updated.old_values == {"first_name": "Ann"}
    assert updated.new_values == {"first_name": "Anna", "date_of_birth": "1990-05-17"}

    assert deleted.new_values is None
    assert deleted.old_values is not None
    assert deleted.old_values["first_name"] == "Anna"
    assert deleted.old_values["date_of_birth"] == "1990-05-17"


async def test_unchanged_update_writes_nothing(session: AsyncSession, audited: None) -> None:
    user = await new_user(session)
    before = len(await trail(session, user.id))

    user.first_name = "Ann"  # the same value
    await session.flush()
    user.first_name = "Bob"
    user.first_name = "Ann"  # changed and changed back before the flush
    await session.flush()

    assert len(await trail(session, user.id)) == before == 1


async def test_rows_of_tables_not_audited_and_audit_rows_themselves_are_not_recorded(
    session: AsyncSession, audited: None
) -> None:
    assert "tag" not in AUDITED_TABLES
    assert "audit_log" not in AUDITED_TABLES
    tag = Tag(type="EXERCISE", code="AUDIT_TEST", name="audit test")
    viewed_id = uuid.uuid4()
    session.add(tag)
    session.add(AuditLog(entity_type="app_user", entity_id=viewed_id, action=AuditAction.VIEW))
    await session.flush()
    user = await new_user(session)

    # Other tests may have committed audit rows: look only at what this test could cause.
    types = (
        await session.scalars(
            select(AuditLog.entity_type).where(
                (AuditLog.entity_id.in_([tag.id, viewed_id, user.id]))
                | AuditLog.entity_type.in_(["tag", "audit_log"])
            )
        )
    ).all()
    assert "tag" not in types
    assert "audit_log" not in types
    # Exactly the hand-written VIEW row and the user's CREATE: nothing recorded about them.
    assert sorted(types) == ["app_user", "app_user"]
    assert [row.action for row in await trail(session, user.id)] == [AuditAction.CREATE]


async def test_composite_keys_are_recorded_whole(session: AsyncSession, audited: None) -> None:
    user = await new_user(session)
    role = await session.scalar(select(Role).where(Role.institution_id.is_(None)).limit(1))
    assert role is not None
    session.add(UserRole(user_id=user.id, role_id=role.id))
    await session.flush()

    row = await session.scalar(
        select(AuditLog).where(
            AuditLog.entity_type == "user_role",
            AuditLog.entity_key["user_id"].astext == str(user.id),
        )
    )
    assert row is not None
    assert row.action is AuditAction.CREATE
    assert row.entity_id is None
    assert row.entity_key == {"user_id": str(user.id), "role_id": str(role.id)}


async def test_access_tokens_are_redacted(session: AsyncSession, audited: None) -> None:
    visibility = await session.scalar(
        select(Visibility.id).where(Visibility.resource_type == "INSTITUTION").limit(1)
    )
    assert visibility is not None
    institution = Institution(name="Iron Gym", visibility_id=visibility)
    session.add(institution)
    await session.flush()
    invite = InstitutionInvite(institution_id=institution.id)
    session.add(invite)
    await session.flush()
    invite.token = "replaced_token"
    await session.flush()

    created, updated = await trail(session, invite.id)
    assert created.new_values is not None
    assert created.new_values["token"] == REDACTED
    assert invite.token not in str(created.new_values)
    assert updated.changed_fields == ["token"]
    assert updated.new_values == {"token": REDACTED}
    # The institution itself is audited too.
    assert [row.action for row in await trail(session, institution.id)] == [AuditAction.CREATE]


async def test_audit_context_block_attributes_its_changes_and_inherits_the_actor(
    session: AsyncSession, audited: None
) -> None:
    coach = await new_user(session, "Coach")
    outer = set_audit_context(session, actor_id=coach.id)
    user = await new_user(session)

    async with audit_context(session, reason="client asked to rename") as inner:
        assert inner.actor_id == coach.id
        assert inner.unit_of_work_id == outer.unit_of_work_id
        user.first_name = "Renamed"
        # No explicit flush: leaving the block flushes under the block's context.
    user.last_name = "Later"
    await session.flush()

    created, renamed, later = await trail(session, user.id)
    assert (created.reason, renamed.reason, later.reason) == (
        None,
        "client asked to rename",
        None,
    )
    assert {created.user_id, renamed.user_id, later.user_id} == {coach.id}
    assert renamed.changed_fields == ["first_name"]
    assert later.changed_fields == ["last_name"]


async def test_audit_rows_commit_and_roll_back_with_the_change(
    engine: AsyncEngine, audited: None
) -> None:
    telegram_id = int(uuid.uuid4().int % 10**12)
    async with AsyncSession(engine) as session:
        user = User(first_name="Ghost", telegram_user_id=telegram_id)
        session.add(user)
        await session.flush()
        user_id = user.id
        # Visible inside the transaction that made the change …
        inside = await session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.entity_id == user_id)
        )
        assert inside == 1
        await session.rollback()

    # … and gone with it.
    async with AsyncSession(engine) as session:
        count = await session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.entity_id == user_id)
        )
        assert count == 0
        assert await session.get(User, user_id) is None


async def test_nothing_is_recorded_once_uninstalled(session: AsyncSession) -> None:
    was_installed = audit_installed()
    uninstall_audit()
    try:
        user = await new_user(session)
        assert await trail(session, user.id) == []
    finally:
        if was_installed:
            install_audit()


async def test_views_and_exports_are_recorded_explicitly(session: AsyncSession) -> None:
    coach, client = await new_user(session, "Coach"), await new_user(session, "Client")
    set_audit_context(session, actor_id=coach.id, reason="weekly review")

    await record_access(session, AuditAction.VIEW, "app_user", client.id)

    (row,) = await session.scalars(
        select(AuditLog).where(AuditLog.action == AuditAction.VIEW, AuditLog.entity_id == client.id)
    )
    assert (row.user_id, row.entity_type, row.entity_id, row.reason) == (
        coach.id,
        "app_user",
        client.id,
        "weekly review",
    )
    with pytest.raises(InvalidInput, match="changes are audited on flush"):
        await record_access(session, AuditAction.UPDATE, "app_user", client.id)
    with pytest.raises(InvalidInput, match="table name"):
        await record_access(session, AuditAction.EXPORT, "App User", client.id)
