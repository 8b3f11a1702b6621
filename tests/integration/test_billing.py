"""Billing on a real PostgreSQL: plan features with the FREE fallback, one live subscription
per user, idempotent provider events and payments."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from functools import cache

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.db import session_factory
from domain.errors import InvalidInput
from domain.models.payment import (
    BillingPlan,
    Payment,
    PaymentProvider,
    PaymentStatus,
    PaymentWebhook,
    Subscription,
    SubscriptionStatus,
)
from domain.models.user import User
from domain.reference import billing as billing_reference
from domain.reference.loader import (
    DATA_DIR,
    LoaderContext,
    ReferenceData,
    SeedReport,
    read_reference_data,
)
from domain.services.billing import plan_features, record_webhook

NOW = dt.datetime.now(dt.UTC)


@cache
def catalogue() -> ReferenceData:
    return read_reference_data()


async def load_billing_reference(session: AsyncSession) -> SeedReport:
    report = SeedReport()
    context = LoaderContext(session, catalogue(), report)
    await billing_reference.load(context, billing_reference.read(DATA_DIR))
    return report


@pytest.fixture
async def db(session: AsyncSession) -> AsyncSession:
    """The test session with plans and statuses present (loading them again is a no-op)."""
    await load_billing_reference(session)
    return session


async def new_user(session: AsyncSession, name: str = "Coach") -> uuid.UUID:
    user = User(first_name=name)
    session.add(user)
    await session.flush()
    return user.id


async def id_of(session: AsyncSession, model: type, code: str) -> uuid.UUID:
    query = select(model.id).where(model.code == code)  # type: ignore[attr-defined]
    return (await session.execute(query)).scalar_one()


async def subscribe(
    session: AsyncSession,
    user_id: uuid.UUID,
    plan: str = "COACH_PRO",
    status: str = "ACTIVE",
    *,
    period_end: dt.datetime | None = None,
    ended_at: dt.datetime | None = None,
) -> Subscription:
    subscription = Subscription(
        user_id=user_id,
        billing_plan_id=await id_of(session, BillingPlan, plan),
        subscription_status_id=await id_of(session, SubscriptionStatus, status),
        started_at=NOW - dt.timedelta(days=40),
        current_period_start=NOW - dt.timedelta(days=10),
        current_period_end=period_end or NOW + dt.timedelta(days=20),
        ended_at=ended_at,
    )
    session.add(subscription)
    await session.flush()
    return subscription


async def test_loading_plans_again_changes_nothing(db: AsyncSession) -> None:
    again = await load_billing_reference(db)
    assert again.total == 0, again.changes
    price = (
        await db.execute(
            select(BillingPlan.price_minor, BillingPlan.currency).where(
                BillingPlan.code == "COACH_PRO"
            )
        )
    ).one()
    assert tuple(price) == (999, "EUR")


# --------------------------------------------------------------------------------------------
# Plan features
# --------------------------------------------------------------------------------------------


async def test_without_a_subscription_the_free_plan_applies(db: AsyncSession) -> None:
    features = await plan_features(db, await new_user(db))
    assert features["max_clients"] == 3
    assert features["client_charts"] is False


async def test_a_live_subscription_unlocks_its_plan(db: AsyncSession) -> None:
    coach = await new_user(db)
    await subscribe(db, coach, "COACH_PRO", "ACTIVE")
    features = await plan_features(db, coach)
    assert (features["max_clients"], features["client_charts"]) == (30, True)

    gym = await new_user(db, "Gym owner")
    await subscribe(db, gym, "GYM", "TRIALING")
    assert (await plan_features(db, gym))["max_members"] == 500


@pytest.mark.parametrize(
    ("status", "period_end_days", "ended"),
    [
        ("UNPAID", 20, False),  # the status grants nothing
        ("ACTIVE", -1, False),  # the paid period is over
        ("CANCELLED", 20, True),  # ended
    ],
)
async def test_a_subscription_that_grants_nothing_falls_back_to_free(
    db: AsyncSession, status: str, period_end_days: int, ended: bool
) -> None:
    coach = await new_user(db)
    await subscribe(
        db,
        coach,
        "COACH_PRO",
        status,
        period_end=NOW + dt.timedelta(days=period_end_days),
        ended_at=NOW - dt.timedelta(days=1) if ended else None,
    )
    assert (await plan_features(db, coach))["max_clients"] == 3


async def test_a_cancelled_subscription_keeps_its_plan_until_the_period_ends(
    db: AsyncSession,
) -> None:
    coach = await new_user(db)
    await subscribe(db, coach, "COACH_PRO", "CANCELLED")
    assert (await plan_features(db, coach))["program_import"] is True


async def test_the_features_returned_are_a_copy(db: AsyncSession) -> None:
    user = await new_user(db)
    (await plan_features(db, user))["max_clients"] = 1000
    assert (await plan_features(db, user))["max_clients"] == 3


async def test_one_live_subscription_per_user(db: AsyncSession) -> None:
    coach = await new_user(db)
    await subscribe(db, coach, "COACH_PRO", "ACTIVE", ended_at=NOW - dt.timedelta(days=1))
    await subscribe(db, coach, "COACH_PRO", "ACTIVE")  # the ended one does not count
    savepoint = await db.begin_nested()
    db.add(
        Subscription(
            user_id=coach,
            billing_plan_id=await id_of(db, BillingPlan, "GYM"),
            subscription_status_id=await id_of(db, SubscriptionStatus, "TRIALING"),
            current_period_start=NOW,
            current_period_end=NOW + dt.timedelta(days=14),
        )
    )
    with pytest.raises(IntegrityError, match="uq_subscription_live_user"):
        await db.flush()
    await savepoint.rollback()


# --------------------------------------------------------------------------------------------
# Provider events and payments
# --------------------------------------------------------------------------------------------


async def test_an_event_is_recorded_once(db: AsyncSession) -> None:
    payload = {"update_id": 1, "message": {"successful_payment": {"total_amount": 999}}}
    assert await record_webhook(db, PaymentProvider.TELEGRAM, "upd-1", payload) is True
    assert await record_webhook(db, "TELEGRAM", "upd-1", {"something": "else"}) is False
    assert await record_webhook(db, PaymentProvider.STRIPE, "upd-1", payload) is True

    rows = (
        await db.execute(select(PaymentWebhook).where(PaymentWebhook.external_event_id == "upd-1"))
    ).scalars()
    stored = {row.provider: row for row in rows}
    assert set(stored) == {PaymentProvider.TELEGRAM, PaymentProvider.STRIPE}
    assert stored[PaymentProvider.TELEGRAM].raw_payload == payload  # the first one is kept
    assert stored[PaymentProvider.TELEGRAM].processed is False


async def test_bad_events_are_refused(db: AsyncSession) -> None:
    with pytest.raises(InvalidInput, match="unknown payment provider"):
        await record_webhook(db, "BITCOIN", "e-1", {})
    with pytest.raises(InvalidInput, match="event id"):
        await record_webhook(db, PaymentProvider.TELEGRAM, "  ", {})
    assert (await db.execute(select(func.count()).select_from(PaymentWebhook))).scalar_one() == 0


async def test_concurrent_deliveries_of_one_event_record_it_once(engine: AsyncEngine) -> None:
    event_id = f"race-{uuid.uuid4()}"
    start = asyncio.Event()

    async def deliver() -> bool:
        async with session_factory(engine)() as session, session.begin():
            await start.wait()
            return await record_webhook(session, PaymentProvider.TELEGRAM, event_id, {"n": 1})

    tasks = [asyncio.create_task(deliver()) for _ in range(4)]
    await asyncio.sleep(0)
    start.set()
    try:
        results = await asyncio.gather(*tasks)
        assert sorted(results) == [False, False, False, True]
    finally:
        async with session_factory(engine)() as session, session.begin():
            await session.execute(
                delete(PaymentWebhook).where(PaymentWebhook.external_event_id == event_id)
            )


async def test_a_telegram_charge_is_recorded_once(db: AsyncSession) -> None:
    """The UNIQUE charge ids are what makes recording successful_payment idempotent."""
    payer = await new_user(db)
    succeeded = await id_of(db, PaymentStatus, "SUCCEEDED")

    def payment(telegram_id: str, provider_id: str) -> Payment:
        return Payment(
            user_id=payer,
            provider=PaymentProvider.TELEGRAM,
            telegram_payment_charge_id=telegram_id,
            provider_payment_charge_id=provider_id,
            amount_minor=999,
            currency="EUR",
            payment_status_id=succeeded,
        )

    db.add(payment("tg-charge-1", "stripe-ch-1"))
    await db.flush()
    for again, constraint in [
        (payment("tg-charge-1", "stripe-ch-2"), "uq_payment_telegram_payment_charge_id"),
        (payment("tg-charge-2", "stripe-ch-1"), "uq_payment_provider_payment_charge_id"),
    ]:
        savepoint = await db.begin_nested()
        db.add(again)
        with pytest.raises(IntegrityError, match=constraint):
            await db.flush()
        await savepoint.rollback()


async def test_money_columns_refuse_nonsense(db: AsyncSession) -> None:
    payer = await new_user(db)
    pending = await id_of(db, PaymentStatus, "PENDING")
    for amount, currency, constraint in [
        (0, "EUR", "amount_minor_positive"),
        (999, "eur", "currency_format"),
    ]:
        savepoint = await db.begin_nested()
        db.add(
            Payment(
                user_id=payer,
                provider=PaymentProvider.TELEGRAM,
                amount_minor=amount,
                currency=currency,
                payment_status_id=pending,
            )
        )
        with pytest.raises(IntegrityError, match=constraint):
            await db.flush()
        await savepoint.rollback()
