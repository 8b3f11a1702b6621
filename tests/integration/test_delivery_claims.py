"""Delivery bookkeeping on a real PostgreSQL (domain.services.delivery): claims with SKIP LOCKED,
what a sender learns about each claimed row, the rows that cannot be sent, attempts and
outcomes, dead senders' claims, and a 403's suppression.

Times are in July 1999 (an injected clock): no other test has notifications due that early, so
a claim here only ever sees this test's rows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.errors import InvalidInput
from domain.models.error import Error, ErrorOccurrence
from domain.models.notification import (
    DeliveryStatusCode,
    Notification,
    NotificationDelivery,
    NotificationStatusCode,
    NotificationSuppression,
    SuppressionReason,
    UserNotificationPreference,
)
from domain.models.user import User
from domain.services.delivery import (
    STALE_DESCRIPTION,
    TemplateCache,
    begin_attempt,
    block_user,
    claim_due,
    finish,
    prepare_batch,
    record_attempt,
    release,
    release_stale_claims,
    release_unattempted,
)
from domain.services.notifications import is_suppressed, notification_type_id, suppress

UTC = dt.UTC
NOW = dt.datetime(1999, 7, 13, 9, 0, tzinfo=UTC)
MINUTE = dt.timedelta(minutes=1)
REMINDER_VARIABLES = {"first_name": "Ada", "workout_name": "Legs <heavy>", "time": "18:00"}
PROGRAM_VARIABLES = {"coach_name": "Ivan", "program_title": "5x5", "start_date": "1999-07-14"}


async def new_user(
    session: AsyncSession, *, locale: str = "en", telegram: bool = True, name: str = "Ada"
) -> User:
    user = User(
        first_name=name,
        locale=locale,
        telegram_user_id=uuid.uuid4().int % 10**12 if telegram else None,
    )
    session.add(user)
    await session.flush()
    return user


async def add_notification(
    session: AsyncSession,
    user: User,
    *,
    type_code: str = "WORKOUT_REMINDER",
    due_at: dt.datetime = NOW - MINUTE,
    variables: dict[str, Any] | None = None,
    status: NotificationStatusCode = NotificationStatusCode.PENDING,
) -> uuid.UUID:
    if variables is None:
        variables = REMINDER_VARIABLES if type_code == "WORKOUT_REMINDER" else PROGRAM_VARIABLES
    row = Notification(
        user_id=user.id,
        notification_type_id=await notification_type_id(session, type_code),
        status=status.value,
        due_at=due_at,
        variables=variables,
    )
    session.add(row)
    await session.flush()
    return row.id


async def status_of(session: AsyncSession, notification_id: uuid.UUID) -> str:
    query = select(Notification.status).where(Notification.id == notification_id)
    return (await session.execute(query)).scalar_one()


async def attempts_of(session: AsyncSession, notification_id: uuid.UUID) -> list[Any]:
    query = (
        select(NotificationDelivery)
        .where(NotificationDelivery.notification_id == notification_id)
        .order_by(NotificationDelivery.attempt_number)
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(query)).scalars())


# --------------------------------------------------------------------------------------------
# Claims
# --------------------------------------------------------------------------------------------


async def test_a_claim_takes_due_pending_rows_once_with_what_the_sender_needs(
    session: AsyncSession,
) -> None:
    ada = await new_user(session, locale="fr")
    due = await add_notification(session, ada, due_at=NOW - MINUTE)
    later = await add_notification(session, ada, due_at=NOW + MINUTE)
    done = await add_notification(
        session, ada, due_at=NOW - 2 * MINUTE, status=NotificationStatusCode.DELIVERED
    )
    event = await add_notification(session, ada, type_code="PROGRAM_ASSIGNED", due_at=NOW)

    claimed = await claim_due(session, NOW, 10)

    assert [item.id for item in claimed] == [due, event]  # earliest due first
    first = claimed[0]
    assert first.user_id == ada.id
    assert first.type_code == "WORKOUT_REMINDER"
    assert first.telegram_chat_id == ada.telegram_user_id
    assert first.locale == "fr"
    assert first.variables == REMINDER_VARIABLES
    assert first.claimed_at == NOW
    assert (first.suppressed, first.unreachable, first.attempts) == (False, False, 0)
    assert first.unsubscribable is True
    assert claimed[1].unsubscribable is False  # PROGRAM_ASSIGNED cannot be switched off
    assert await status_of(session, due) == NotificationStatusCode.SENDING
    assert await status_of(session, later) == NotificationStatusCode.PENDING
    assert await status_of(session, done) == NotificationStatusCode.DELIVERED
    # Claimed rows are no longer due: a second claim finds nothing.
    assert await claim_due(session, NOW, 10) == []


async def test_a_claim_respects_its_limit_earliest_first(session: AsyncSession) -> None:
    ada = await new_user(session)
    ids = [await add_notification(session, ada, due_at=NOW - k * MINUTE) for k in range(4)]
    claimed = await claim_due(session, NOW, 2)
    assert [item.id for item in claimed] == [ids[3], ids[2]]
    with pytest.raises(InvalidInput):
        await claim_due(session, NOW, 0)


async def test_a_claim_says_which_rows_must_not_be_sent(session: AsyncSession) -> None:
    blocked = await new_user(session, name="Blocked")
    await suppress(session, blocked.id, SuppressionReason.BOT_BLOCKED)
    unsubscribed = await new_user(session, name="Unsubscribed")
    await suppress(
        session, unsubscribed.id, SuppressionReason.USER_UNSUBSCRIBED, "WORKOUT_REMINDER"
    )
    expired = await new_user(session, name="Expired")
    await suppress(
        session, expired.id, SuppressionReason.USER_UNSUBSCRIBED, expires_at=NOW - MINUTE
    )
    switched_off = await new_user(session, name="Off")
    reminder_type = await notification_type_id(session, "WORKOUT_REMINDER")
    session.add(
        UserNotificationPreference(
            user_id=switched_off.id, notification_type_id=reminder_type, is_enabled=False
        )
    )
    gone = await new_user(session, name="Gone")
    gone.is_active = False
    await session.flush()

    expected = {
        await add_notification(session, blocked): True,
        await add_notification(session, blocked, type_code="PROGRAM_ASSIGNED"): True,
        await add_notification(session, unsubscribed): True,
        # Unsubscribing from one type leaves the others.
        await add_notification(session, unsubscribed, type_code="PROGRAM_ASSIGNED"): False,
        await add_notification(session, expired): False,
        await add_notification(session, switched_off): True,
        await add_notification(session, gone): True,
    }
    claimed = await claim_due(session, NOW, 20)
    assert {item.id: item.suppressed for item in claimed} == expected


async def test_two_senders_claim_disjoint_rows_without_waiting(engine: AsyncEngine) -> None:
    factory = async_sessionmaker(engine, expire_on_commit=False)
    now = NOW + dt.timedelta(days=3)
    async with factory() as session, session.begin():
        user = await new_user(session, name="Shared")
        ids = {await add_notification(session, user, due_at=now - MINUTE) for _ in range(10)}
    try:
        async with factory() as first, factory() as second:
            await first.begin()
            taken_first = await claim_due(first, now, 4)
            # The first claim is not committed: its rows are locked, the second sender skips
            # them instead of waiting (the guard only turns a hang into a failure).
            await second.begin()
            taken_second = await asyncio.wait_for(claim_due(second, now, 10), timeout=30)
            await second.commit()
            await first.commit()
        first_ids = {item.id for item in taken_first}
        second_ids = {item.id for item in taken_second}
        assert len(first_ids) == 4
        assert len(second_ids) == 6
        assert first_ids | second_ids == ids
    finally:
        async with factory() as session, session.begin():
            await session.execute(delete(User).where(User.id == user.id))


# --------------------------------------------------------------------------------------------
# What cannot be sent
# --------------------------------------------------------------------------------------------


async def test_prepare_settles_what_cannot_be_sent_and_renders_the_rest(
    session: AsyncSession,
) -> None:
    fr = await new_user(session, locale="fr")
    good = await add_notification(session, fr)
    blocked = await new_user(session, name="Blocked")
    await suppress(session, blocked.id, SuppressionReason.BOT_BLOCKED)
    suppressed = await add_notification(session, blocked)
    offline = await new_user(session, telegram=False, name="Offline")
    no_chat = await add_notification(session, offline)
    broken = await add_notification(
        session, fr, variables={"first_name": "Ada", "workout_name": "Legs"}
    )

    claimed = await claim_due(session, NOW, 10)
    prepared = await prepare_batch(session, claimed, TemplateCache(), now=NOW)

    assert [outgoing.notification.id for outgoing in prepared.to_send] == [good]
    rendered = prepared.to_send[0].rendered
    assert rendered.locale == "fr"
    assert "Legs &lt;heavy&gt;" in rendered.body  # values are escaped for Telegram HTML
    assert (prepared.suppressed, prepared.failed) == (1, 2)
    assert await status_of(session, suppressed) == NotificationStatusCode.SUPPRESSED
    assert await status_of(session, no_chat) == NotificationStatusCode.FAILED
    assert await status_of(session, broken) == NotificationStatusCode.FAILED
    assert await status_of(session, good) == NotificationStatusCode.SENDING
    # The missing variable is an ERROR occurrence naming the notification; nothing was rendered.
    occurrence = (
        await session.execute(
            select(ErrorOccurrence, Error)
            .join(Error, Error.id == ErrorOccurrence.error_id)
            .where(ErrorOccurrence.occurrence_context["notification_id"].astext == str(broken))
        )
    ).one()
    assert occurrence.Error.error_code == "TEMPLATE_VARIABLE_MISSING"
    assert "time" in occurrence.ErrorOccurrence.message
    assert occurrence.ErrorOccurrence.user_id == fr.id
    row = await session.get(Notification, broken, populate_existing=True)
    assert row is not None
    assert (row.message, row.sent_at) == (None, None)
    assert await attempts_of(session, broken) == []


# --------------------------------------------------------------------------------------------
# Attempts and outcomes
# --------------------------------------------------------------------------------------------


async def test_an_attempt_is_queued_then_answered_in_one_row(session: AsyncSession) -> None:
    ada = await new_user(session)
    notification = await add_notification(session, ada)
    [claimed] = await claim_due(session, NOW, 1)
    [outgoing] = (await prepare_batch(session, [claimed], TemplateCache(), now=NOW)).to_send

    await record_attempt(
        session,
        notification,
        1,
        DeliveryStatusCode.QUEUED,
        now=NOW,
        telegram_chat_id=ada.telegram_user_id,
    )
    await record_attempt(
        session,
        notification,
        1,
        DeliveryStatusCode.DELIVERED,
        now=NOW + MINUTE,
        telegram_chat_id=ada.telegram_user_id,
        telegram_message_id=42,
    )
    assert await finish(
        session,
        notification,
        NotificationStatusCode.DELIVERED,
        now=NOW + MINUTE,
        rendered=outgoing.rendered,
    )

    [attempt] = await attempts_of(session, notification)
    assert attempt.status == DeliveryStatusCode.DELIVERED
    assert (attempt.telegram_chat_id, attempt.telegram_message_id) == (ada.telegram_user_id, 42)
    assert attempt.delivered_at == NOW + MINUTE
    assert attempt.failed_at is None
    row = await session.get(Notification, notification, populate_existing=True)
    assert row is not None
    assert row.status == NotificationStatusCode.DELIVERED
    assert row.sent_at == NOW + MINUTE
    assert row.locale == "en"
    assert row.title == outgoing.rendered.subject
    assert row.message == outgoing.rendered.body
    # Only a claimed row can be finished, once.
    assert not await finish(session, notification, NotificationStatusCode.FAILED, now=NOW)
    with pytest.raises(InvalidInput):
        await finish(session, notification, NotificationStatusCode.DELIVERED, now=NOW)
    with pytest.raises(InvalidInput):
        await finish(session, notification, NotificationStatusCode.PENDING, now=NOW)


async def test_a_refused_notification_is_handed_back_with_its_attempts(
    session: AsyncSession,
) -> None:
    ada = await new_user(session)
    notification = await add_notification(session, ada)
    await claim_due(session, NOW, 1)
    await record_attempt(
        session,
        notification,
        1,
        DeliveryStatusCode.DEFERRED,
        now=NOW,
        error_code=429,
        error_description="Too Many Requests: retry after 300",
        retry_after=300,
    )
    assert await release(session, notification, NOW + dt.timedelta(seconds=300))
    assert await claim_due(session, NOW + MINUTE, 5) == []  # not due before the wait is over
    [again] = await claim_due(session, NOW + dt.timedelta(seconds=300), 5)
    assert again.id == notification
    assert again.attempts == 1  # the next attempt is number 2


async def test_stopping_hands_back_only_what_was_never_tried(session: AsyncSession) -> None:
    ada = await new_user(session)
    untried = await add_notification(session, ada)
    tried = await add_notification(session, ada)
    await claim_due(session, NOW, 5)
    await record_attempt(session, tried, 1, DeliveryStatusCode.QUEUED, now=NOW)
    assert await release_unattempted(session, [untried, tried]) == 1
    assert await status_of(session, untried) == NotificationStatusCode.PENDING
    assert await status_of(session, tried) == NotificationStatusCode.SENDING


async def test_dead_senders_claims_are_requeued_unless_they_may_have_been_sent(
    session: AsyncSession,
) -> None:
    ada = await new_user(session)
    long_ago = NOW - dt.timedelta(minutes=20)
    never_tried = await add_notification(session, ada, due_at=long_ago - MINUTE)
    in_flight = await add_notification(session, ada, due_at=long_ago - MINUTE)
    refused = await add_notification(session, ada, due_at=long_ago - MINUTE)
    assert len(await claim_due(session, long_ago, 10)) == 3
    await record_attempt(session, in_flight, 1, DeliveryStatusCode.QUEUED, now=long_ago)
    await record_attempt(
        session, refused, 1, DeliveryStatusCode.DEFERRED, now=long_ago, error_code=429
    )
    fresh = await add_notification(session, ada, due_at=NOW - 2 * MINUTE)
    assert len(await claim_due(session, NOW - MINUTE, 10)) == 1  # a live sender's claim

    stale = await release_stale_claims(session, NOW)

    assert (stale.requeued, stale.failed) == (2, 1)
    assert await status_of(session, never_tried) == NotificationStatusCode.PENDING
    assert await status_of(session, refused) == NotificationStatusCode.PENDING
    assert await status_of(session, in_flight) == NotificationStatusCode.FAILED
    assert await status_of(session, fresh) == NotificationStatusCode.SENDING
    [attempt] = await attempts_of(session, in_flight)
    assert attempt.status == DeliveryStatusCode.FAILED
    assert attempt.error_description == STALE_DESCRIPTION
    # What was requeued is sent by the next claim; what may have been sent never is.
    again = {item.id: item.attempts for item in await claim_due(session, NOW, 10)}
    assert again == {never_tried: 0, refused: 1}
    assert await release_stale_claims(session, NOW) == type(stale)(requeued=0, failed=0)


# --------------------------------------------------------------------------------------------
# 403
# --------------------------------------------------------------------------------------------


async def test_a_block_suppresses_everything_pending_for_that_user(session: AsyncSession) -> None:
    ada = await new_user(session)
    other = await new_user(session, name="Other")
    in_hand = await add_notification(session, ada, due_at=NOW - 2 * MINUTE)
    await claim_due(session, NOW - MINUTE, 1)
    pending = [
        await add_notification(session, ada, due_at=NOW + dt.timedelta(hours=k)) for k in (1, 2)
    ]
    others = await add_notification(session, other, due_at=NOW + dt.timedelta(hours=1))

    assert await block_user(session, ada.id, details="Forbidden: bot was blocked by the user") == 2

    for notification in pending:
        assert await status_of(session, notification) == NotificationStatusCode.SUPPRESSED
    assert await status_of(session, in_hand) == NotificationStatusCode.SENDING  # sender's to finish
    assert await status_of(session, others) == NotificationStatusCode.PENDING
    await session.refresh(ada)
    assert ada.is_unreachable is True
    assert await is_suppressed(session, ada.id, "PROGRAM_ASSIGNED")
    suppression = (
        await session.execute(
            select(NotificationSuppression).where(NotificationSuppression.user_id == ada.id)
        )
    ).scalar_one()
    assert suppression.suppression_reason == SuppressionReason.BOT_BLOCKED
    assert suppression.notification_type_id is None
    # Planned later: claimed as suppressed, so never sent.
    later = await add_notification(session, ada, due_at=NOW)
    assert [(item.id, item.suppressed) for item in await claim_due(session, NOW, 5)] == [
        (later, True)
    ]


async def test_an_attempt_begins_only_on_the_senders_own_claim(session: AsyncSession) -> None:
    ada = await new_user(session)
    notification = await add_notification(session, ada)
    [mine] = await claim_due(session, NOW, 1)
    assert await begin_attempt(session, mine, 1, telegram_chat_id=ada.telegram_user_id)
    [attempt] = await attempts_of(session, notification)
    assert (attempt.status, attempt.telegram_chat_id) == (
        DeliveryStatusCode.QUEUED,
        ada.telegram_user_id,
    )
    assert not await begin_attempt(session, mine, 1)  # one row per attempt number

    # Swept while this sender stalled (before its first attempt), then claimed by another:
    other_row = await add_notification(session, ada)
    [stalled] = await claim_due(session, NOW, 1)
    assert await release(session, other_row, NOW)
    [other] = await claim_due(session, NOW + MINUTE, 1)
    assert other.id == stalled.id == other_row
    assert not await begin_attempt(session, stalled, 1)
    assert not await finish(
        session,
        other_row,
        NotificationStatusCode.SUPPRESSED,
        now=NOW,
        claimed_at=stalled.claimed_at,
    )
    assert await begin_attempt(session, other, 1)
    assert [a.attempt_number for a in await attempts_of(session, other_row)] == [1]
