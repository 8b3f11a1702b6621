"""Billing: what a person's plan unlocks, and the idempotent intake of payment-provider events.

Kept small on purpose; subscribing, Telegram invoices and `successful_payment` recording
arrive with the payments issue.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput, NotFound
from domain.models.payment import (
    FREE_PLAN_CODE,
    BillingPlan,
    PaymentProvider,
    PaymentWebhook,
    Subscription,
    SubscriptionStatus,
)

# PAYMENT_WEBHOOK.external_event_id is VARCHAR(255).
MAX_EVENT_ID_LENGTH = 255


async def plan_features(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any]:
    """The features of the user's current plan: the plan of their live subscription while its
    status grants access and its paid (or trial) period runs, otherwise the FREE plan's."""
    current = (
        select(BillingPlan.features)
        .join(Subscription, Subscription.billing_plan_id == BillingPlan.id)
        .join(SubscriptionStatus, SubscriptionStatus.id == Subscription.subscription_status_id)
        .where(
            Subscription.user_id == user_id,
            Subscription.ended_at.is_(None),
            SubscriptionStatus.grants_access,
            Subscription.current_period_end > func.now(),
        )
    )
    features = (await session.execute(current)).scalar_one_or_none()
    if features is None:
        free = select(BillingPlan.features).where(BillingPlan.code == FREE_PLAN_CODE)
        features = (await session.execute(free)).scalar_one_or_none()
    if features is None:
        raise NotFound(
            f"billing plan {FREE_PLAN_CODE} is missing; load the reference data (motriforge seed)"
        )
    # A copy: callers may not mutate the plan's row through it.
    return dict(features)


async def record_webhook(
    session: AsyncSession,
    provider: PaymentProvider | str,
    event_id: str,
    payload: dict[str, Any],
    *,
    event_type: str | None = None,
) -> bool:
    """Store an incoming provider event for processing; False when this provider's event id
    was already recorded (providers retry, Telegram may redeliver an update) — nothing is
    written then. Safe under concurrency: the unique (provider, external_event_id) decides."""
    try:
        provider = PaymentProvider(provider)
    except ValueError:
        known = ", ".join(member.value for member in PaymentProvider)
        raise InvalidInput(
            f"unknown payment provider {provider!r}; expected one of {known}", provider=provider
        ) from None
    event_id = event_id.strip()
    if not event_id or len(event_id) > MAX_EVENT_ID_LENGTH:
        raise InvalidInput(
            f"event id must be 1 to {MAX_EVENT_ID_LENGTH} characters, got {len(event_id)}",
            event_id=event_id,
        )
    statement = (
        insert(PaymentWebhook)
        .values(
            provider=provider,
            external_event_id=event_id,
            event_type=event_type,
            raw_payload=payload,
        )
        .on_conflict_do_nothing(
            index_elements=[PaymentWebhook.provider, PaymentWebhook.external_event_id]
        )
        .returning(PaymentWebhook.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None
