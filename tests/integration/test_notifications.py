"""Notifications on a real PostgreSQL: templates rendered from the seeded rows, planned reminders
deduplicated per (user, type, local date), the due-and-unclaimed index, suppressions, delivery
attempts, preferences, and the daily analytics rollup (correct and idempotent)."""

from __future__ import annotations

import datetime as dt
import uuid
from functools import cache

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.config import SUPPORTED_LOCALES
from domain.errors import NotFound
from domain.models.notification import (
    Notification,
    NotificationAnalytics,
    NotificationDelivery,
    NotificationStatusCode,
    NotificationSuppression,
    NotificationTemplate,
    NotificationType,
    SuppressionReason,
    UserNotificationPreference,
    planned_dedupe_key,
)
from domain.models.user import User
from domain.reference import notifications as notifications_reference
from domain.reference.loader import (
    DATA_DIR,
    LoaderContext,
    ReferenceData,
    SeedReport,
    read_reference_data,
)
from domain.services.notification_templates import (
    MissingTemplateVariable,
    load_templates,
    render,
)
from domain.services.notifications import (
    is_suppressed,
    lift_suppression,
    plan_notification,
    rollup_notification_analytics,
    suppress,
)

UTC = dt.UTC
# A day no other test writes notifications for.
DAY = dt.date(2031, 5, 14)
NOON = dt.datetime.combine(DAY, dt.time(12), tzinfo=UTC)


@cache
def catalogue() -> ReferenceData:
    return read_reference_data()


async def load_notifications_reference(session: AsyncSession) -> SeedReport:
    report = SeedReport()
    context = LoaderContext(session, catalogue(), report)
    await notifications_reference.load(context, notifications_reference.read(DATA_DIR))
    return report


@pytest.fixture
async def db(session: AsyncSession) -> AsyncSession:
    """The test session with the notification vocabularies present (whether or not the seed run
    registered the section yet; loading them again is a no-op)."""
    await load_notifications_reference(session)
    return session


async def new_user(session: AsyncSession, first_name: str = "Ada") -> User:
    user = User(first_name=first_name, telegram_user_id=uuid.uuid4().int % 10**12)
    session.add(user)
    await session.flush()
    return user


async def add_in_savepoint(session: AsyncSession, row: object) -> None:
    """Flush one row in a savepoint, so a rejected row leaves the test's transaction usable."""
    async with session.begin_nested():
        session.add(row)
        await session.flush()


async def type_id(session: AsyncSession, code: str) -> uuid.UUID:
    query = select(NotificationType.id).where(NotificationType.code == code)
    return (await session.execute(query)).scalar_one()


# --------------------------------------------------------------------------------------------
# Reference data and templates
# --------------------------------------------------------------------------------------------


async def test_loading_the_reference_data_twice_changes_nothing(db: AsyncSession) -> None:
    again = await load_notifications_reference(db)
    assert again.total == 0, again.changes
    templates = (await db.execute(select(func.count()).select_from(NotificationTemplate))).scalar()
    types = notifications_reference.read(DATA_DIR).notification_types
    assert templates == len(types) * len(SUPPORTED_LOCALES)


async def test_every_type_renders_in_every_locale_from_the_database(db: AsyncSession) -> None:
    for item in notifications_reference.read(DATA_DIR).notification_types:
        values = {name: f"{name}-value" for name in item.variables}
        for locale in SUPPORTED_LOCALES:
            rendered = await render(db, item.code, locale, values)
            assert rendered.locale == locale
            assert rendered.body == item.templates[locale].body.format(**values)
            for value in values.values():
                assert value in rendered.html, (item.code, locale, value)


async def test_render_escapes_values_for_telegram_html(db: AsyncSession) -> None:
    rendered = await render(
        db, "WORKOUT_REMINDER", "en", {"first_name": "<b>", "workout_name": "Legs", "time": "7:00"}
    )
    assert rendered.body.startswith("Hi &lt;b&gt;, <b>Legs</b>")


async def test_render_raises_naming_the_missing_variable(db: AsyncSession) -> None:
    with pytest.raises(MissingTemplateVariable) as caught:
        await render(db, "PROGRAM_ASSIGNED", "ru", {"coach_name": "Ivan", "program_title": "5x5"})
    assert caught.value.variable == "start_date"
    assert caught.value.template == "PROGRAM_ASSIGNED[ru]"


async def test_a_locale_without_template_falls_back_to_english(db: AsyncSession) -> None:
    values = {"first_name": "Ada", "streak_days": 4}
    german = await render(db, "STREAK_AT_RISK", "de", values)
    assert german.locale == "en"
    assert "4-day streak" in german.body

    await db.execute(
        delete(NotificationTemplate).where(
            NotificationTemplate.notification_type_id == await type_id(db, "STREAK_AT_RISK"),
            NotificationTemplate.locale == "fr",
        )
    )
    french = await render(db, "STREAK_AT_RISK", "fr", values)
    assert french.locale == "en"
    assert french.body == german.body


async def test_preloaded_templates_render_without_a_session(db: AsyncSession) -> None:
    templates = await load_templates(db, "CLIENT_INACTIVE")
    assert set(templates) == set(SUPPORTED_LOCALES)
    rendered = await render(templates, "CLIENT_INACTIVE", "fr", {"client_name": "Zoé", "days": 5})
    assert rendered.body.startswith("Zoé n'a enregistré aucune séance depuis 5 jours.")


async def test_an_unknown_type_has_no_template(db: AsyncSession) -> None:
    with pytest.raises(NotFound, match="NO_SUCH_TYPE"):
        await render(db, "NO_SUCH_TYPE", "en", {})


# --------------------------------------------------------------------------------------------
# Planned reminders: dedupe key and the claim index
# --------------------------------------------------------------------------------------------


async def test_a_second_plan_for_the_same_user_type_and_local_date_is_a_no_op(
    db: AsyncSession,
) -> None:
    user = await new_user(db)
    local_date = dt.date(2031, 5, 14)
    first = await plan_notification(db, user.id, "WORKOUT_REMINDER", local_date, NOON)
    again = await plan_notification(
        db, user.id, "WORKOUT_REMINDER", local_date, NOON + dt.timedelta(hours=1)
    )
    other_type = await plan_notification(db, user.id, "STREAK_AT_RISK", local_date, NOON)
    next_day = await plan_notification(
        db, user.id, "WORKOUT_REMINDER", local_date + dt.timedelta(days=1), NOON
    )
    assert first is not None
    assert again is None
    assert other_type is not None
    assert next_day is not None

    rows = (
        (await db.execute(select(Notification).where(Notification.user_id == user.id)))
        .scalars()
        .all()
    )
    assert len(rows) == 3
    planned = next(row for row in rows if row.id == first)
    assert planned.dedupe_key == f"WORKOUT_REMINDER:{user.id}:2031-05-14"
    assert planned.status == NotificationStatusCode.PENDING
    assert planned.due_at == NOON  # the second plan did not move it


async def test_set_based_insert_with_on_conflict_do_nothing_skips_planned_rows(
    db: AsyncSession,
) -> None:
    user = await new_user(db)
    reminder = await type_id(db, "WORKOUT_REMINDER")
    key = planned_dedupe_key("WORKOUT_REMINDER", user.id, DAY)

    statement = (
        insert(Notification)
        .values(user_id=user.id, notification_type_id=reminder, dedupe_key=key, due_at=NOON)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Notification.id)
    )
    inserted = (await db.execute(statement)).scalars().all()
    skipped = (await db.execute(statement)).scalars().all()
    assert len(inserted) == 1
    assert skipped == []
    # Without ON CONFLICT the key is enforced, not merely conventional.
    with pytest.raises(IntegrityError, match="uq_notification_dedupe_key"):
        await add_in_savepoint(
            db,
            Notification(
                user_id=user.id, notification_type_id=reminder, dedupe_key=key, due_at=NOON
            ),
        )


async def test_the_due_and_unclaimed_query_uses_the_partial_index(db: AsyncSession) -> None:
    user = await new_user(db)
    for day in range(30):
        await plan_notification(db, user.id, "WORKOUT_REMINDER", DAY + dt.timedelta(days=day), NOON)
    await db.execute(text("ANALYZE notification"))
    await db.execute(text("SET LOCAL enable_seqscan = off"))
    plan = (
        await db.execute(
            text(
                "EXPLAIN SELECT id FROM notification WHERE status = 'PENDING' AND due_at <= now()"
                " ORDER BY due_at LIMIT 100 FOR UPDATE SKIP LOCKED"
            )
        )
    ).scalars()
    assert "ix_notification_due_pending" in "\n".join(plan)


async def test_status_must_be_a_known_code(db: AsyncSession) -> None:
    user = await new_user(db)
    missed = await type_id(db, "MISSED_WORKOUT")
    with pytest.raises(IntegrityError, match="fk_notification_status_notification_status"):
        await add_in_savepoint(
            db,
            Notification(
                user_id=user.id,
                notification_type_id=missed,
                status="LOST_IN_SPACE",
            ),
        )


async def test_a_sent_notification_keeps_its_text(db: AsyncSession) -> None:
    user = await new_user(db)
    missed = await type_id(db, "MISSED_WORKOUT")
    with pytest.raises(IntegrityError, match="sent_has_message"):
        await add_in_savepoint(
            db,
            Notification(
                user_id=user.id,
                notification_type_id=missed,
                status=NotificationStatusCode.DELIVERED,
                sent_at=NOON,
            ),
        )


async def test_one_delivery_row_per_attempt(db: AsyncSession) -> None:
    user = await new_user(db)
    notification_id = await plan_notification(db, user.id, "WORKOUT_REMINDER", DAY, NOON)
    assert notification_id is not None
    db.add_all(
        [
            NotificationDelivery(
                notification_id=notification_id,
                attempt_number=1,
                status="DEFERRED",
                error_code=429,
                error_description="Too Many Requests: retry after 7",
                retry_after=7,
            ),
            NotificationDelivery(
                notification_id=notification_id,
                attempt_number=2,
                status="DELIVERED",
                telegram_chat_id=user.telegram_user_id,
                telegram_message_id=4242,
                sent_at=NOON,
                delivered_at=NOON,
            ),
        ]
    )
    await db.flush()
    query = (
        select(NotificationDelivery.attempt_number, NotificationDelivery.status)
        .where(NotificationDelivery.notification_id == notification_id)
        .order_by(NotificationDelivery.attempt_number)
    )
    assert (await db.execute(query)).all() == [(1, "DEFERRED"), (2, "DELIVERED")]
    with pytest.raises(IntegrityError, match="uq_notification_delivery_notification_id_attempt"):
        await add_in_savepoint(
            db, NotificationDelivery(notification_id=notification_id, attempt_number=2)
        )


async def test_preferences_are_one_per_user_and_type_plus_one_user_wide(db: AsyncSession) -> None:
    user = await new_user(db)
    db.add_all(
        [
            UserNotificationPreference(
                user_id=user.id,
                quiet_hours_start=dt.time(22),
                quiet_hours_end=dt.time(7),
            ),
            UserNotificationPreference(
                user_id=user.id,
                notification_type_id=await type_id(db, "WORKOUT_REMINDER"),
                local_time=dt.time(6, 30),
                days_of_week=[1, 3, 5],
            ),
        ]
    )
    await db.flush()
    streak = await type_id(db, "STREAK_AT_RISK")
    for rejected, constraint in (
        # A second user-wide row (NULL type: NULLS NOT DISTINCT makes it a duplicate).
        (UserNotificationPreference(user_id=user.id, is_enabled=False), "uq_user_notification"),
        (
            UserNotificationPreference(
                user_id=user.id, notification_type_id=streak, days_of_week=[0, 8]
            ),
            "days_of_week_iso_weekdays",
        ),
        (
            UserNotificationPreference(
                user_id=user.id, notification_type_id=streak, quiet_hours_start=dt.time(22)
            ),
            "quiet_hours_complete",
        ),
    ):
        with pytest.raises(IntegrityError, match=constraint):
            await add_in_savepoint(db, rejected)


# --------------------------------------------------------------------------------------------
# Suppression
# --------------------------------------------------------------------------------------------


async def suppression_rows(session: AsyncSession, user_id: uuid.UUID) -> int:
    query = select(func.count()).where(NotificationSuppression.user_id == user_id)
    return (await session.execute(query)).scalar_one()


async def test_suppressing_every_type_is_idempotent(db: AsyncSession) -> None:
    user = await new_user(db)
    assert not await is_suppressed(db, user.id, "WORKOUT_REMINDER")

    assert await suppress(db, user.id, SuppressionReason.BOT_BLOCKED, details="403") is True
    assert await suppress(db, user.id, SuppressionReason.BOT_BLOCKED, details="403") is False
    assert await suppression_rows(db, user.id) == 1
    assert await is_suppressed(db, user.id)
    assert await is_suppressed(db, user.id, "WORKOUT_REMINDER")
    assert await is_suppressed(db, user.id, "WEEKLY_DIGEST")

    # A different reason updates the one row.
    assert await suppress(db, user.id, SuppressionReason.USER_DEACTIVATED) is True
    assert await suppression_rows(db, user.id) == 1
    reason = await db.scalar(
        select(NotificationSuppression.suppression_reason).where(
            NotificationSuppression.user_id == user.id
        )
    )
    assert reason == SuppressionReason.USER_DEACTIVATED

    assert await lift_suppression(db, user.id) is True
    assert await lift_suppression(db, user.id) is False
    assert not await is_suppressed(db, user.id, "WORKOUT_REMINDER")


async def test_suppressing_one_type_leaves_the_others(db: AsyncSession) -> None:
    user, other = await new_user(db), await new_user(db, "Bob")
    reason = SuppressionReason.USER_UNSUBSCRIBED
    assert await suppress(db, user.id, reason, "WEEKLY_DIGEST") is True
    assert await suppress(db, user.id, reason, "WEEKLY_DIGEST") is False
    assert await suppression_rows(db, user.id) == 1
    assert await is_suppressed(db, user.id, "WEEKLY_DIGEST")
    assert not await is_suppressed(db, user.id, "WORKOUT_REMINDER")
    assert not await is_suppressed(db, user.id)  # not suppressed for everything
    assert not await is_suppressed(db, other.id, "WEEKLY_DIGEST")
    # Lifting "everything" does not lift the per-type row.
    assert await lift_suppression(db, user.id) is False
    assert await is_suppressed(db, user.id, "WEEKLY_DIGEST")


async def test_an_expired_suppression_no_longer_counts_and_can_be_renewed(
    db: AsyncSession,
) -> None:
    user = await new_user(db)
    past = dt.datetime(2020, 1, 1, tzinfo=UTC)
    await suppress(db, user.id, SuppressionReason.SPAM_COMPLAINT, expires_at=past)
    assert not await is_suppressed(db, user.id, "MISSED_WORKOUT")
    assert await is_suppressed(db, user.id, "MISSED_WORKOUT", at=past - dt.timedelta(days=1))

    await db.execute(
        update(NotificationSuppression)
        .where(NotificationSuppression.user_id == user.id)
        .values(suppressed_at=past - dt.timedelta(days=30))
    )
    # Same values, but the old one had expired: renewed, and it counts from now.
    assert await suppress(db, user.id, SuppressionReason.SPAM_COMPLAINT, expires_at=None) is True
    assert await is_suppressed(db, user.id, "MISSED_WORKOUT")
    renewed_at = await db.scalar(
        select(NotificationSuppression.suppressed_at).where(
            NotificationSuppression.user_id == user.id
        )
    )
    assert renewed_at is not None
    assert renewed_at > past


async def test_suppressing_an_unknown_type_is_not_found(db: AsyncSession) -> None:
    user = await new_user(db)
    with pytest.raises(NotFound, match="NOPE"):
        await suppress(db, user.id, SuppressionReason.USER_UNSUBSCRIBED, "NOPE")


# --------------------------------------------------------------------------------------------
# Analytics
# --------------------------------------------------------------------------------------------


async def analytics(session: AsyncSession, day: dt.date) -> dict[str, tuple[object, ...]]:
    a = NotificationAnalytics
    query = (
        select(
            NotificationType.code,
            a.sent_count,
            a.delivered_count,
            a.opened_count,
            a.clicked_count,
            a.failed_count,
            a.suppressed_count,
            a.delivery_rate,
            a.open_rate,
            a.click_rate,
            a.calculated_at,
        )
        .join(NotificationType, NotificationType.id == a.notification_type_id)
        .where(a.analytics_date == day)
    )
    return {row[0]: tuple(row[1:]) for row in await session.execute(query)}


async def test_rollup_counts_per_type_and_day_and_is_idempotent(db: AsyncSession) -> None:
    users = [await new_user(db, f"U{i}") for i in range(6)]
    reminder = await type_id(db, "WORKOUT_REMINDER")
    digest = await type_id(db, "WEEKLY_DIGEST")

    def notification(
        user: User, status: str, type_: uuid.UUID = reminder, due: dt.datetime = NOON, **kw: object
    ) -> Notification:
        sent = status in {"SENT", "DELIVERED", "READ", "CLICKED"}
        return Notification(
            user_id=user.id,
            notification_type_id=type_,
            status=status,
            due_at=due,
            sent_at=due if sent else None,
            message="text" if sent else None,
            **kw,
        )

    db.add_all(
        [
            notification(users[0], "DELIVERED"),
            notification(users[1], "DELIVERED"),
            notification(users[2], "READ", read_at=NOON),
            notification(users[3], "CLICKED", read_at=NOON, clicked_at=NOON),
            notification(users[4], "FAILED"),
            notification(users[5], "SUPPRESSED"),
            notification(users[0], "PENDING"),
            notification(users[0], "SENT", type_=digest),
            # Other days are not counted.
            notification(users[1], "DELIVERED", due=NOON - dt.timedelta(days=1)),
            notification(users[1], "DELIVERED", due=NOON + dt.timedelta(days=1)),
        ]
    )
    await db.flush()

    first_written = await rollup_notification_analytics(db, DAY)
    first = await analytics(db, DAY)
    type_count = (await db.execute(select(func.count()).select_from(NotificationType))).scalar()
    assert first_written == type_count == len(first)

    sent, delivered, opened, clicked, failed, suppressed, delivery, open_, click, _ = first[
        "WORKOUT_REMINDER"
    ]
    assert (sent, delivered, opened, clicked, failed, suppressed) == (4, 4, 2, 1, 1, 1)
    assert (delivery, open_, click) == (1.0, 0.5, 0.25)
    assert first["WEEKLY_DIGEST"][:7] == (1, 0, 0, 0, 0, 0, 0.0)
    assert first["MISSED_WORKOUT"][:9] == (0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0)

    # Twice: nothing written (not even calculated_at), the same rows.
    assert await rollup_notification_analytics(db, DAY) == 0
    assert await analytics(db, DAY) == first

    # A late change to that day's notifications corrects only that type's row.
    await db.execute(
        update(Notification)
        .where(Notification.user_id == users[0].id, Notification.status == "PENDING")
        .values(status="FAILED")
    )
    assert await rollup_notification_analytics(db, DAY) == 1
    assert (await analytics(db, DAY))["WORKOUT_REMINDER"][4] == 2
