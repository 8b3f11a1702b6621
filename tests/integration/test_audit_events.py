"""System and security events, retention and the daily analytics rollup (real PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput, NotFound
from domain.models.audit import (
    AuditAction,
    AuditLog,
    AuditRetentionPolicy,
    EventAnalytics,
    EventCategory,
    EventQueue,
    EventSeverity,
    EventType,
    QueueStatus,
    SecurityEvent,
    SystemEvent,
)
from domain.models.user import User
from domain.reference import events
from domain.reference.loader import DATA_DIR, LoaderContext, SeedReport
from domain.services.audit import (
    PurgeReport,
    count_security_events,
    purge_expired,
    record_security_event,
    record_system_event,
    rollup_event_analytics,
)


async def load_catalogue(session: AsyncSession) -> SeedReport:
    report = SeedReport()
    # The events section reads nothing of the catalogue's other sections.
    context = LoaderContext(session, None, report)  # type: ignore[arg-type]
    await events.load(context, events.read(DATA_DIR))
    return report


@pytest.fixture
async def catalogue(session: AsyncSession) -> None:
    await load_catalogue(session)


async def new_user(session: AsyncSession) -> User:
    user = User(first_name="Eve", telegram_user_id=int(uuid.uuid4().int % 10**12))
    session.add(user)
    await session.flush()
    return user


async def new_type(
    session: AsyncSession,
    category: EventCategory,
    *,
    retention_days: int = 90,
    requires_retention: bool = True,
    severity: EventSeverity = EventSeverity.INFO,
) -> EventType:
    code = f"TEST_{uuid.uuid4().hex[:12].upper()}"
    event_type = EventType(
        code=code,
        name=code,
        description="test event type",
        category=category,
        severity=severity,
        retention_days=retention_days,
        requires_retention=requires_retention,
    )
    session.add(event_type)
    await session.flush()
    return event_type


async def db_now(session: AsyncSession) -> dt.datetime:
    now = await session.scalar(select(func.now()))
    assert now is not None
    return now


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------


async def test_system_event_takes_the_type_severity_and_a_json_safe_payload(
    session: AsyncSession, catalogue: None
) -> None:
    user = await new_user(session)
    payment_id = uuid.uuid4()
    recorded = await record_system_event(
        session,
        "PAYMENT_FAILED",
        user_id=user.id,
        payload={"payment_id": payment_id, "amount": 1990, "at": dt.date(2026, 1, 2)},
        resource_type="PAYMENT",
        resource_id=payment_id,
    )

    stored = await session.get(SystemEvent, recorded.id)
    assert stored is not None
    assert stored.severity is EventSeverity.WARNING  # PAYMENT_FAILED's default
    assert stored.event_data == {"payment_id": str(payment_id), "amount": 1990, "at": "2026-01-02"}
    assert (stored.resource_type, stored.resource_id, stored.user_id) == (
        "PAYMENT",
        payment_id,
        user.id,
    )
    explicit = await record_system_event(session, "LOGIN", severity=EventSeverity.CRITICAL)
    assert explicit.severity is EventSeverity.CRITICAL
    assert explicit.event_data == {}


async def test_recording_rejects_unknown_types_and_half_named_resources(
    session: AsyncSession, catalogue: None
) -> None:
    with pytest.raises(NotFound, match="NO_SUCH_EVENT"):
        await record_system_event(session, "NO_SUCH_EVENT")
    with pytest.raises(InvalidInput, match="both resource_type and resource_id"):
        await record_system_event(session, "LOGIN", resource_type="PROGRAM")
    with pytest.raises(InvalidInput, match="upper snake case"):
        await record_security_event(
            session,
            "PERMISSION_DENIED",
            user_id=None,
            resource_type="program",
            resource_id=uuid.uuid4(),
        )


async def test_permission_denied_rate_limit_count(session: AsyncSession, catalogue: None) -> None:
    user, other = await new_user(session), await new_user(session)
    program_id = uuid.uuid4()
    for _ in range(3):
        await record_security_event(
            session,
            "PERMISSION_DENIED",
            user_id=user.id,
            resource_type="PROGRAM",
            resource_id=program_id,
            action="UPDATE",
            details={"permission": "USER.PROGRAM.UPDATE"},
        )
    old = await record_security_event(session, "PERMISSION_DENIED", user_id=user.id)
    old.occurred_at = await db_now(session) - dt.timedelta(minutes=2)
    await record_security_event(session, "PERMISSION_DENIED", user_id=other.id)
    await record_security_event(session, "FAILED_LOGIN", user_id=user.id)
    guest = await record_security_event(session, "PERMISSION_DENIED", user_id=None)
    await session.flush()

    since = await db_now(session) - dt.timedelta(minutes=1)
    assert (
        await count_security_events(
            session, user_id=user.id, event_type_code="PERMISSION_DENIED", since=since
        )
        == 3
    )
    stored = await session.get(SecurityEvent, guest.id)
    assert stored is not None
    assert stored.user_id is None
    assert stored.severity is EventSeverity.WARNING


# --------------------------------------------------------------------------------------------
# Retention
# --------------------------------------------------------------------------------------------


async def test_purge_expired_applies_policies_and_event_type_retention(
    session: AsyncSession,
) -> None:
    now = await db_now(session)

    def days_ago(days: float) -> dt.datetime:
        return now - dt.timedelta(days=days)

    # Policies of this test only (the transaction is rolled back afterwards).
    await session.execute(delete(AuditRetentionPolicy))
    for entity, retention, active in [
        ("*", 30, True),
        ("app_user", 10, True),
        ("role", 5, False),  # inactive: role falls back to the default
    ]:
        session.add(
            AuditRetentionPolicy(
                entity_type=entity,
                action=AuditAction.UPDATE,
                retention_days=retention,
                is_active=active,
            )
        )
    audit_rows = {
        "user_expired": ("app_user", AuditAction.UPDATE, 11),
        "user_kept": ("app_user", AuditAction.UPDATE, 9),
        "institution_kept": ("institution", AuditAction.UPDATE, 11),
        "institution_expired": ("institution", AuditAction.UPDATE, 31),
        "role_kept": ("role", AuditAction.UPDATE, 6),
        "role_expired": ("role", AuditAction.UPDATE, 31),
        "view_without_policy": ("app_user", AuditAction.VIEW, 1000),
    }
    audit_ids: dict[str, uuid.UUID] = {}
    for label, (entity, action, age) in audit_rows.items():
        row = AuditLog(
            entity_type=entity, entity_id=uuid.uuid4(), action=action, occurred_at=days_ago(age)
        )
        session.add(row)
        await session.flush()
        audit_ids[label] = row.id

    short = await new_type(session, EventCategory.SYSTEM, retention_days=7)
    exempt = await new_type(
        session, EventCategory.SECURITY, retention_days=7, requires_retention=False
    )
    security = await new_type(session, EventCategory.SECURITY, retention_days=7)
    system_rows = {
        "expired": SystemEvent(
            event_type_id=short.id, severity=EventSeverity.INFO, occurred_at=days_ago(8)
        ),
        "recent": SystemEvent(
            event_type_id=short.id, severity=EventSeverity.INFO, occurred_at=days_ago(6)
        ),
        "exempt": SystemEvent(
            event_type_id=exempt.id, severity=EventSeverity.INFO, occurred_at=days_ago(100)
        ),
    }
    security_rows = {
        "expired": SecurityEvent(
            event_type_id=security.id, severity=EventSeverity.INFO, occurred_at=days_ago(8)
        ),
        "awaiting_review": SecurityEvent(
            event_type_id=security.id,
            severity=EventSeverity.ERROR,
            requires_review=True,
            occurred_at=days_ago(8),
        ),
        "reviewed": SecurityEvent(
            event_type_id=security.id,
            severity=EventSeverity.ERROR,
            requires_review=True,
            reviewed_at=days_ago(7.5),
            occurred_at=days_ago(8),
        ),
    }
    session.add_all([*system_rows.values(), *security_rows.values()])
    await session.flush()

    report = await purge_expired(session, now)

    assert report == PurgeReport(audit_log=3, system_event=1, security_event=2)
    assert report.total == 6
    left = set((await session.scalars(select(AuditLog.id))).all())
    assert {label for label, row_id in audit_ids.items() if row_id in left} == {
        "user_kept",
        "institution_kept",
        "role_kept",
        "view_without_policy",
    }
    system_left = set((await session.scalars(select(SystemEvent.id))).all())
    assert {label for label, row in system_rows.items() if row.id in system_left} == {
        "recent",
        "exempt",
    }
    security_left = set((await session.scalars(select(SecurityEvent.id))).all())
    assert {label for label, row in security_rows.items() if row.id in security_left} == {
        "awaiting_review"
    }
    # Nothing left to do at the same instant.
    assert (await purge_expired(session, now)).total == 0


async def test_purge_needs_an_aware_time(session: AsyncSession) -> None:
    with pytest.raises(InvalidInput, match="aware"):
        await purge_expired(session, dt.datetime(2030, 1, 1))  # noqa: DTZ001


# --------------------------------------------------------------------------------------------
# Analytics rollup
# --------------------------------------------------------------------------------------------


async def analytics_rows(session: AsyncSession, day: dt.date) -> dict[str, dict[str, Any]]:
    rows = (
        await session.scalars(select(EventAnalytics).where(EventAnalytics.analytics_date == day))
    ).all()
    return {
        row.event_category.value: {
            "total_events": row.total_events,
            "unique_users": row.unique_users,
            "error_events": row.error_events,
            "security_events": row.security_events,
            "average_processing_time": row.average_processing_time,
            "calculated_at": row.calculated_at,
        }
        for row in rows
    }


async def test_rollup_is_idempotent_and_recomputes_rather_than_adds(
    session: AsyncSession,
) -> None:
    day = dt.date(2020, 3, 15)
    start = dt.datetime(2020, 3, 15, tzinfo=dt.UTC)

    def at(hours: float) -> dt.datetime:
        return start + dt.timedelta(hours=hours)

    ann, bob = await new_user(session), await new_user(session)
    business = await new_type(session, EventCategory.BUSINESS)
    system = await new_type(session, EventCategory.SYSTEM)
    security = await new_type(session, EventCategory.SECURITY)

    def system_event(
        event_type: EventType,
        hours: float,
        user: User | None = None,
        severity: EventSeverity = EventSeverity.INFO,
    ) -> SystemEvent:
        row = SystemEvent(
            event_type_id=event_type.id,
            user_id=user.id if user else None,
            severity=severity,
            occurred_at=at(hours),
        )
        session.add(row)
        return row

    paid = system_event(business, 10, ann)
    renewed = system_event(business, 11, ann)
    system_event(business, 12, bob)
    system_event(business, 13)
    system_event(system, 1, severity=EventSeverity.ERROR)
    system_event(system, 2, severity=EventSeverity.CRITICAL)
    system_event(system, 3)
    system_event(business, -0.001, ann)  # the day before
    system_event(business, 24, ann)  # the day after
    for hours in (4, 5):
        session.add(
            SecurityEvent(
                event_type_id=security.id,
                user_id=ann.id,
                severity=EventSeverity.WARNING,
                occurred_at=at(hours),
            )
        )
    await session.flush()
    for event, seconds in ((paid, 30), (renewed, 90)):
        session.add(
            EventQueue(
                event_id=event.id,
                topic="test.rollup",
                payload={},
                status=QueueStatus.COMPLETED,
                processed_at=event.occurred_at + dt.timedelta(seconds=seconds),
            )
        )
    # Not delivered yet: no processing time.
    session.add(
        EventQueue(
            event_id=paid.id,
            topic="test.rollup",
            payload={},
            status=QueueStatus.PENDING,
            next_retry_at=at(20),
        )
    )
    await session.flush()

    assert await rollup_event_analytics(session, day) == len(EventCategory)
    first = await analytics_rows(session, day)
    expected = {
        "BUSINESS": (4, 2, 0, 0, 60.0),
        "SYSTEM": (3, 0, 2, 0, 0.0),
        "SECURITY": (2, 1, 0, 2, 0.0),
        "INTEGRATION": (0, 0, 0, 0, 0.0),
    }
    assert {
        category: (
            row["total_events"],
            row["unique_users"],
            row["error_events"],
            row["security_events"],
            row["average_processing_time"],
        )
        for category, row in first.items()
    } == expected

    # Twice for the same day: nothing written, the same rows.
    assert await rollup_event_analytics(session, day) == 0
    assert await analytics_rows(session, day) == first

    # A late event: the day is recomputed (5, not 4 + 5).
    system_event(business, 14, bob)
    await session.flush()
    assert await rollup_event_analytics(session, day) == 1
    again = await analytics_rows(session, day)
    assert again["BUSINESS"]["total_events"] == 5
    assert {k: v for k, v in again.items() if k != "BUSINESS"} == {
        k: v for k, v in first.items() if k != "BUSINESS"
    }


# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------


async def test_reference_data_loads_and_a_second_run_changes_nothing(
    session: AsyncSession,
) -> None:
    await load_catalogue(session)
    assert (await load_catalogue(session)).total == 0

    data = events.read(DATA_DIR)
    denied = await session.scalar(select(EventType).where(EventType.code == "PERMISSION_DENIED"))
    assert denied is not None
    assert denied.category is EventCategory.SECURITY
    assert set(denied.name_i18n) == {"en", "fr", "ru"}
    codes = set((await session.scalars(select(EventType.code))).all())
    assert {item.code for item in data.event_types} <= codes
    policies = {
        (row.entity_type, row.action.value): row.retention_days
        for row in (await session.scalars(select(AuditRetentionPolicy))).all()
    }
    assert policies[("*", "UPDATE")] > 0
    assert {(item.entity_type, item.action.value) for item in data.retention_policies} <= set(
        policies
    )
