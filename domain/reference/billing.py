"""Reference data of billing (data/billing.yaml): payment, subscription, invoice and refund
statuses, and the billing plans with the features they unlock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, StringConstraints, TypeAdapter, model_validator

from domain.models.payment import (
    FREE_PLAN_CODE,
    BillingCycle,
    BillingPlan,
    InvoiceStatus,
    PaymentStatus,
    RefundStatus,
    SubscriptionStatus,
)
from domain.reference.loader import LoaderContext, Section, lookup_row, parse_file
from domain.reference.schema import LookupItem, Strict, Text, UpperCode

FILE_NAME = "billing.yaml"

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
FeatureKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=50)]


class SubscriptionStatusItem(LookupItem):
    grants_access: bool


class PlanItem(Strict):
    code: UpperCode
    name: Text
    description: Text
    # Minor units of `currency` (999 = 9.99 EUR), as Telegram's invoices take them.
    price_minor: int = Field(ge=0)
    currency: Currency
    billing_cycle: BillingCycle
    trial_days: int = Field(default=0, ge=0)
    is_active: bool = True
    # Limits (counts) and switches; strict so `1` never passes for `true` or the reverse.
    features: dict[FeatureKey, StrictBool | StrictInt]

    @model_validator(mode="after")
    def _fits_the_columns(self) -> PlanItem:
        if len(self.name.en) > 100:
            raise ValueError(f"{self.code}: English name longer than 100 characters")
        return self


class BillingData(Strict):
    payment_statuses: list[LookupItem]
    subscription_statuses: list[SubscriptionStatusItem]
    invoice_statuses: list[LookupItem]
    refund_statuses: list[LookupItem]
    plans: list[PlanItem] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> BillingData:
        problems = [
            *_duplicates("payment status", (i.code for i in self.payment_statuses)),
            *_duplicates("subscription status", (i.code for i in self.subscription_statuses)),
            *_duplicates("invoice status", (i.code for i in self.invoice_statuses)),
            *_duplicates("refund status", (i.code for i in self.refund_statuses)),
            *_duplicates("plan", (plan.code for plan in self.plans)),
            *_duplicates("plan name", (plan.name.en for plan in self.plans)),
        ]
        plans = {plan.code: plan for plan in self.plans}
        free = plans.get(FREE_PLAN_CODE)
        if free is None:
            problems.append(f"missing plan {FREE_PLAN_CODE} (everyone without a subscription)")
        else:
            if free.price_minor != 0 or free.billing_cycle != BillingCycle.LIFETIME:
                problems.append(f"plan {FREE_PLAN_CODE} must cost 0 and be LIFETIME")
            # Every plan names every feature, so code reading a feature never meets a gap.
            problems.extend(
                f"plan {plan.code}: features differ from {FREE_PLAN_CODE}'s "
                f"(missing {sorted(free.features.keys() - plan.features.keys())}, "
                f"extra {sorted(plan.features.keys() - free.features.keys())})"
                for plan in self.plans
                if plan.features.keys() != free.features.keys()
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _duplicates(what: str, codes: Iterable[str]) -> list[str]:
    counts = Counter(codes)
    return [f"duplicate {what} {code}" for code, count in sorted(counts.items()) if count > 1]


def read(data_dir: Path) -> BillingData:
    data: BillingData = parse_file(TypeAdapter(BillingData), data_dir / FILE_NAME)
    return data


async def load(context: LoaderContext, data: BillingData) -> None:
    for name, model, items in [
        ("payment_status", PaymentStatus, data.payment_statuses),
        ("invoice_status", InvoiceStatus, data.invoice_statuses),
        ("refund_status", RefundStatus, data.refund_statuses),
    ]:
        await context.put(name, model, [lookup_row(item) for item in items], ["code"])
    await context.put(
        "subscription_status",
        SubscriptionStatus,
        [
            {**lookup_row(item), "grants_access": item.grants_access}
            for item in data.subscription_statuses
        ],
        ["code"],
    )
    await context.put(
        "billing_plan",
        BillingPlan,
        [
            {
                "code": plan.code,
                "name": plan.name.en,
                "name_i18n": plan.name.as_dict(),
                "description": plan.description.en,
                "description_i18n": plan.description.as_dict(),
                "price_minor": plan.price_minor,
                "currency": plan.currency,
                "billing_cycle": plan.billing_cycle,
                "trial_days": plan.trial_days,
                "is_active": plan.is_active,
                "features": dict(plan.features),
            }
            for plan in data.plans
        ],
        ["code"],
    )


SECTION = Section(label="billing", read=read, load=load)
