"""Billing: plans and what they unlock, subscriptions, payments (Telegram Payments first),
incoming provider events, saved payment methods, plan changes, invoices and refunds.

Money is an INTEGER amount in the currency's minor units plus an ISO 4217 code (CHAR(3)):
Telegram's `sendInvoice` / `successful_payment` speak exactly that (`total_amount`, "the
smallest units of the currency", `currency` 3 letters, "XTR" for Telegram Stars), integers add
and compare exactly, and no DECIMAL scale has to fit currencies with 0 (JPY, XTR) or 3 (KWD)
decimals. Financial rows are history: they are never deleted, so their FKs RESTRICT.

Seed sections: "Core Payment & Subscription Management", "Payment Events & External
Integration", "Payment Analytics & History". Every deviation from the seed is a row in
docs/schema-decisions.md (Payment).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    CHAR,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, CreatedAt, Timestamps, UUIDPk, str_enum
from domain.models.lookup import LookupColumns, code_format_check, i18n_column

# The plan everyone has without a subscription (reference data billing.yaml).
FREE_PLAN_CODE = "FREE"


class BillingCycle(enum.StrEnum):
    LIFETIME = "LIFETIME"  # paid once (or free): never renews
    MONTHLY = "MONTHLY"
    YEARLY = "YEARLY"


class PaymentProvider(enum.StrEnum):
    """Who reports the money movement. TELEGRAM covers Telegram Payments with any provider
    token (the charge ids say which) and Telegram Stars (currency XTR)."""

    PAYPAL = "PAYPAL"
    STRIPE = "STRIPE"
    TELEGRAM = "TELEGRAM"


class PaymentMethodType(enum.StrEnum):
    BANK_ACCOUNT = "BANK_ACCOUNT"
    CARD = "CARD"
    PAYPAL_ACCOUNT = "PAYPAL_ACCOUNT"


class SubscriptionChangeType(enum.StrEnum):
    DOWNGRADE = "DOWNGRADE"
    PLAN_CHANGE = "PLAN_CHANGE"  # neither up nor down (e.g. monthly -> yearly of one tier)
    UPGRADE = "UPGRADE"


def _currency_check(column: str = "currency") -> CheckConstraint:
    """ISO 4217 alphabetic code (EUR, USD) or Telegram Stars' XTR: three capital letters."""
    return CheckConstraint(f"{column} ~ '^[A-Z]{{3}}$'", name=f"{column}_format")


def _currency() -> Mapped[str]:
    return mapped_column(CHAR(3))


def _history_fk(target: str) -> Mapped[uuid.UUID]:
    """NOT NULL link from a financial record; RESTRICT: that history is never deleted."""
    return mapped_column(ForeignKey(target, ondelete="RESTRICT"), index=True)


class _Lookup(UUIDPk, LookupColumns):
    """A status vocabulary of this module: one row per worldwide-unique upper-snake-case code."""

    code: Mapped[str] = mapped_column(String(50), unique=True)


# --------------------------------------------------------------------------------------------
# Plans and subscriptions
# --------------------------------------------------------------------------------------------


class BillingPlan(UUIDPk, Timestamps, Base):
    """What a person can buy (FREE, COACH_PRO, GYM) and what it unlocks (``features``)."""

    __tablename__ = "billing_plan"
    __table_args__ = (
        code_format_check(),
        _currency_check(),
        CheckConstraint("price_minor >= 0", name="price_minor_min"),
        CheckConstraint("trial_days >= 0", name="trial_days_min"),
    )

    # Added: stable key for code and reference data; `name` is the English label.
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    name_i18n: Mapped[dict[str, str]] = i18n_column()
    description: Mapped[str | None] = mapped_column(Text)
    # Shown on /subscribe.
    description_i18n: Mapped[dict[str, str]] = i18n_column()
    # Seed `DECIMAL price`: minor units (999 = 9.99 EUR), see the module docstring.
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = _currency()
    billing_cycle: Mapped[BillingCycle] = mapped_column(str_enum(BillingCycle, "billing_cycle"))
    trial_days: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    # Limits and switches the plan grants, read by domain.services.billing.plan_features, e.g.
    # {"max_clients": 30, "client_charts": true, "program_import": true}.
    features: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )


class SubscriptionStatus(_Lookup, Base):
    """TRIALING, ACTIVE, PAST_DUE, CANCELLED, UNPAID."""

    __tablename__ = "subscription_status"
    __table_args__ = (code_format_check(),)

    # Added: whether a subscription in this state unlocks its plan (until its period ends).
    # Data, not a list of codes in the code: CANCELLED still grants access until the paid period
    # is over, PAST_DUE during the provider's retry grace period, UNPAID does not.
    grants_access: Mapped[bool] = mapped_column(default=False, server_default=text("false"))


class Subscription(UUIDPk, Timestamps, Base):
    """One person on one plan over time; renewals move the current period forward."""

    __tablename__ = "subscription"
    __table_args__ = (
        CheckConstraint("current_period_end > current_period_start", name="period_end_after_start"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ended_after_started"),
        # One live (not yet ended) subscription per user: changing plan updates it (and writes a
        # SUBSCRIPTION_CHANGE), it never adds a second one. Partial, so user_id keeps its index.
        Index(
            "uq_subscription_live_user",
            "user_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    # RESTRICT: billing history is kept (accounting); erasing a paying user anonymizes the
    # app_user row instead of deleting it.
    user_id: Mapped[uuid.UUID] = _history_fk("app_user.id")
    billing_plan_id: Mapped[uuid.UUID] = _history_fk("billing_plan.id")
    subscription_status_id: Mapped[uuid.UUID] = _history_fk("subscription_status.id")
    # Seed DATE: instants (timestamptz). Telegram reports subscription_expiration_date as a Unix
    # time; a date would end access at midnight of an unknown timezone.
    started_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    current_period_start: Mapped[dt.datetime]
    current_period_end: Mapped[dt.datetime]
    trial_end: Mapped[dt.datetime | None]
    # Will not renew (access continues until current_period_end) …
    cancelled_at: Mapped[dt.datetime | None]
    # … and is over: frees the user's live-subscription slot.
    ended_at: Mapped[dt.datetime | None]
    cancellation_reason: Mapped[str | None] = mapped_column(Text)


class PaymentStatus(_Lookup, Base):
    """PENDING, SUCCEEDED, FAILED, REFUNDED."""

    __tablename__ = "payment_status"
    __table_args__ = (code_format_check(),)


class Payment(UUIDPk, Timestamps, Base):
    """One charge: a subscription period or a one-off purchase (see USER_OWNERSHIP.payment_id).

    With Telegram Payments the row is created PENDING when the invoice is sent (its id is the
    invoice payload) and completed from `successful_payment`; the UNIQUE charge ids make
    recording the same `successful_payment` twice impossible.
    """

    __tablename__ = "payment"
    __table_args__ = (
        _currency_check(),
        CheckConstraint("amount_minor > 0", name="amount_minor_positive"),
    )

    # Added: the payer. The seed reaches the user through the subscription, which one-off
    # purchases do not have.
    user_id: Mapped[uuid.UUID] = _history_fk("app_user.id")
    # Seed NOT NULL; NULL for one-off purchases (a program bought once).
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subscription.id", ondelete="RESTRICT"), index=True
    )
    provider: Mapped[PaymentProvider] = mapped_column(str_enum(PaymentProvider, "payment_provider"))
    # SuccessfulPayment.telegram_payment_charge_id: Telegram's id (refunds, Stars subscriptions).
    telegram_payment_charge_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # SuccessfulPayment.provider_payment_charge_id, or the processor's id for direct providers
    # (seed `external_payment_id`). NULL while pending, and for Telegram Stars (no provider).
    provider_payment_charge_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = _currency()
    payment_status_id: Mapped[uuid.UUID] = _history_fk("payment_status.id")
    processed_at: Mapped[dt.datetime | None]
    failed_at: Mapped[dt.datetime | None]
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # The provider's message as received (e.g. the whole successful_payment object).
    provider_data: Mapped[dict[str, Any] | None]


# --------------------------------------------------------------------------------------------
# Provider events and integration
# --------------------------------------------------------------------------------------------


class PaymentWebhook(UUIDPk, Base):
    """An event received from a payment provider, stored before it is processed.

    The unique (provider, external_event_id) makes receiving an event twice (providers retry)
    a no-op; unprocessed rows are the processor's queue.
    """

    __tablename__ = "payment_webhook"
    __table_args__ = (
        # Seed: external_event_id UNIQUE worldwide; ids are only unique within one provider.
        UniqueConstraint("provider", "external_event_id"),
        CheckConstraint("processed = (processed_at IS NOT NULL)", name="processed_has_time"),
        # The processor's queue: oldest unprocessed first (picked with SKIP LOCKED).
        Index(
            "ix_payment_webhook_unprocessed",
            "received_at",
            postgresql_where=text("NOT processed"),
        ),
    )

    # Filled when the event is matched to a payment; SET NULL keeps the event if not.
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payment.id", ondelete="SET NULL"), index=True
    )
    provider: Mapped[PaymentProvider] = mapped_column(str_enum(PaymentProvider, "payment_provider"))
    external_event_id: Mapped[str] = mapped_column(String(255))
    # Seed: NOT NULL ENUM. The provider's own event name (successful_payment,
    # payment_intent.succeeded …), free text; NULL until known (stored before parsing).
    event_type: Mapped[str | None] = mapped_column(String(100))
    raw_payload: Mapped[dict[str, Any]]
    processed: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    processed_at: Mapped[dt.datetime | None]
    processing_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class PaymentMethod(UUIDPk, Timestamps, Base):
    """A payment method saved at a direct provider (Telegram Payments never exposes one)."""

    __tablename__ = "payment_method"
    __table_args__ = (
        CheckConstraint("last_four ~ '^[0-9]{4}$'", name="last_four_format"),
        # Seed has no uniqueness; the same provider token twice is one method.
        UniqueConstraint("provider", "external_method_id"),
        # At most one default among a user's active methods.
        Index(
            "uq_payment_method_default_user",
            "user_id",
            unique=True,
            postgresql_where=text("is_default AND is_active"),
        ),
    )

    # CASCADE: a saved method is the user's data, not accounting history.
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    external_method_id: Mapped[str] = mapped_column(String(255))
    provider: Mapped[PaymentProvider] = mapped_column(str_enum(PaymentProvider, "payment_provider"))
    method_type: Mapped[PaymentMethodType] = mapped_column(
        str_enum(PaymentMethodType, "payment_method_type")
    )
    last_four: Mapped[str | None] = mapped_column(CHAR(4))
    brand: Mapped[str | None] = mapped_column(String(30))
    expires_at: Mapped[dt.date | None] = mapped_column(Date)
    is_default: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))


class SubscriptionChange(UUIDPk, CreatedAt, Base):
    """A plan change of a subscription (history)."""

    __tablename__ = "subscription_change"
    __table_args__ = (
        CheckConstraint(
            "(proration_amount_minor IS NULL) = (currency IS NULL)",
            name="proration_has_currency",
        ),
        _currency_check(),
        CheckConstraint("from_plan_id IS NULL OR from_plan_id <> to_plan_id", name="plan_changes"),
    )

    subscription_id: Mapped[uuid.UUID] = _history_fk("subscription.id")
    from_plan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing_plan.id", ondelete="RESTRICT"), index=True
    )
    to_plan_id: Mapped[uuid.UUID] = _history_fk("billing_plan.id")
    change_type: Mapped[SubscriptionChangeType] = mapped_column(
        str_enum(SubscriptionChangeType, "subscription_change_type")
    )
    effective_date: Mapped[dt.date] = mapped_column(Date)
    # Seed `DECIMAL proration_amount`: minor units; negative = credit to the customer.
    proration_amount_minor: Mapped[int | None] = mapped_column(Integer)
    # Added: an amount needs its currency (plans may differ in currency).
    currency: Mapped[str | None] = mapped_column(CHAR(3))
    reason: Mapped[str | None] = mapped_column(Text)


# --------------------------------------------------------------------------------------------
# Invoices and refunds
# --------------------------------------------------------------------------------------------


class InvoiceStatus(_Lookup, Base):
    """DRAFT, OPEN, PAID, VOID, UNCOLLECTIBLE."""

    __tablename__ = "invoice_status"
    __table_args__ = (code_format_check(),)


class Invoice(UUIDPk, CreatedAt, Base):
    """A bill for one subscription period (numbered, kept for accounting)."""

    __tablename__ = "invoice"
    __table_args__ = (
        _currency_check(),
        CheckConstraint("subtotal_minor >= 0", name="subtotal_minor_min"),
        CheckConstraint("tax_minor >= 0", name="tax_minor_min"),
        CheckConstraint("total_minor = subtotal_minor + tax_minor", name="total_is_sum"),
    )

    subscription_id: Mapped[uuid.UUID] = _history_fk("subscription.id")
    invoice_number: Mapped[str] = mapped_column(String(32), unique=True)
    external_invoice_id: Mapped[str | None] = mapped_column(String(255))
    # Seed DECIMAL subtotal / tax_amount / total: minor units.
    subtotal_minor: Mapped[int] = mapped_column(Integer)
    tax_minor: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    total_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = _currency()
    due_date: Mapped[dt.date] = mapped_column(Date)
    paid_date: Mapped[dt.date | None] = mapped_column(Date)
    invoice_status_id: Mapped[uuid.UUID] = _history_fk("invoice_status.id")
    # [{"description": …, "quantity": 1, "unit_amount_minor": 999}, …]
    line_items: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )


class RefundStatus(_Lookup, Base):
    """PENDING, SUCCEEDED, FAILED, CANCELLED."""

    __tablename__ = "refund_status"
    __table_args__ = (code_format_check(),)


class PaymentRefund(UUIDPk, CreatedAt, Base):
    """Money given back for (part of) a payment."""

    __tablename__ = "payment_refund"
    __table_args__ = (
        _currency_check(),
        CheckConstraint("amount_minor > 0", name="amount_minor_positive"),
    )

    payment_id: Mapped[uuid.UUID] = _history_fk("payment.id")
    # Seed NOT NULL; Telegram Stars refunds (refundStarPayment) return no refund id.
    external_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = _currency()
    reason: Mapped[str | None] = mapped_column(Text)
    refund_status_id: Mapped[uuid.UUID] = _history_fk("refund_status.id")
    processed_at: Mapped[dt.datetime | None]
