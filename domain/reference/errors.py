"""Reference data of error monitoring (`data/errors.yaml`): error types, their categories
(CATEGORY rows of type ERROR), severity levels, statuses, resolution types and the default
alerts. Every code the services rely on (``domain.models.error`` *Code enums) must be in the
file; that is checked when the file is read, before anything is written.

Only vocabularies and the shipped alerts are loaded; errors themselves are never seeded.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import Field, TypeAdapter, model_validator

from domain.models.error import (
    AlertScope,
    ErrorAlert,
    ErrorStatus,
    ErrorStatusCode,
    ErrorType,
    ErrorTypeCode,
    ResolutionType,
    SeverityCode,
    SeverityLevel,
)
from domain.models.lookup import Category
from domain.reference.loader import (
    LoaderContext,
    ReferenceDataError,
    Section,
    lookup_row,
    parse_file,
)
from domain.reference.schema import LookupItem, Strict, Text, UpperCode

FILE_NAME = "errors.yaml"
CATEGORY_TYPE = "ERROR"


class ErrorTypeItem(LookupItem):
    requires_immediate_attention: bool = False
    is_user_facing: bool = False
    default_retention_days: int = Field(default=90, gt=0)
    category: UpperCode | None = None


class SeverityItem(LookupItem):
    rank: int = Field(ge=0, le=32767)
    color_code: str = Field(pattern=r"^#[0-9A-Fa-f]{6}$")
    requires_notification: bool = False
    requires_escalation: bool = False


class ResolutionTypeItem(LookupItem):
    requires_testing: bool = False


class AlertRecipients(Strict):
    user_ids: list[uuid.UUID] = Field(default_factory=list)
    role_codes: list[UpperCode] = Field(default_factory=list)

    @model_validator(mode="after")
    def _someone(self) -> AlertRecipients:
        if not self.user_ids and not self.role_codes:
            raise ValueError("an alert needs at least one recipient")
        return self


class AlertItem(Strict):
    code: UpperCode
    name: Text
    description: Text | None = None
    error_type: UpperCode | None = None
    severity: UpperCode | None = None
    scope: AlertScope = AlertScope.PER_ERROR
    threshold_count: int = Field(ge=1)
    threshold_time_minutes: int = Field(ge=1)
    cooldown_minutes: int = Field(default=60, ge=0)
    recipients: AlertRecipients
    is_active: bool = True


def _duplicates(values: Iterable[Any]) -> list[Any]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


class ErrorReferenceData(Strict):
    categories: list[LookupItem]
    error_types: list[ErrorTypeItem]
    severity_levels: list[SeverityItem]
    statuses: list[LookupItem]
    resolution_types: list[ResolutionTypeItem]
    alerts: list[AlertItem] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> ErrorReferenceData:
        problems: list[str] = []
        keyed: list[tuple[str, Iterable[Any]]] = [
            ("category", (item.code for item in self.categories)),
            ("error type", (item.code for item in self.error_types)),
            ("severity", (item.code for item in self.severity_levels)),
            ("severity rank", (item.rank for item in self.severity_levels)),
            ("status", (item.code for item in self.statuses)),
            ("resolution type", (item.code for item in self.resolution_types)),
            ("alert", (item.code for item in self.alerts)),
        ]
        for what, keys in keyed:
            problems.extend(f"duplicate {what} {key}" for key in _duplicates(keys))
        categories = {item.code for item in self.categories}
        types = {item.code for item in self.error_types}
        severities = {item.code for item in self.severity_levels}
        statuses = {item.code for item in self.statuses}
        # Codes the services use by name must exist.
        required: list[tuple[str, type[Any], set[str]]] = [
            ("error type", ErrorTypeCode, types),
            ("severity", SeverityCode, severities),
            ("status", ErrorStatusCode, statuses),
        ]
        for what, codes, present in required:
            problems.extend(f"missing {what} {code.value}" for code in codes if code not in present)
        problems.extend(
            f"error type {item.code}: unknown category {item.category}"
            for item in self.error_types
            if item.category is not None and item.category not in categories
        )
        for alert in self.alerts:
            if alert.error_type is not None and alert.error_type not in types:
                problems.append(f"alert {alert.code}: unknown error type {alert.error_type}")
            if alert.severity is not None and alert.severity not in severities:
                problems.append(f"alert {alert.code}: unknown severity {alert.severity}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def read(data_dir: Path) -> ErrorReferenceData:
    parsed: ErrorReferenceData = parse_file(TypeAdapter(ErrorReferenceData), data_dir / FILE_NAME)
    return parsed


async def load(context: LoaderContext, data: ErrorReferenceData) -> None:
    # Names under their own keys: "category" in context.ids holds every category of the
    # catalogue and later sections may still need it.
    await context.put(
        "error_category_lookup",
        Category,
        [{**lookup_row(item), "type": CATEGORY_TYPE} for item in data.categories],
        ["type", "code"],
    )
    await context.put(
        "error_type",
        ErrorType,
        [
            {
                **lookup_row(item),
                "requires_immediate_attention": item.requires_immediate_attention,
                "is_user_facing": item.is_user_facing,
                "default_retention_days": item.default_retention_days,
                "default_category_id": context.id(
                    "error_category_lookup", CATEGORY_TYPE, item.category
                )
                if item.category
                else None,
            }
            for item in data.error_types
        ],
        ["code"],
    )
    await context.put(
        "severity_level",
        SeverityLevel,
        [
            {
                **lookup_row(item),
                "rank": item.rank,
                "color_code": item.color_code,
                "requires_notification": item.requires_notification,
                "requires_escalation": item.requires_escalation,
            }
            for item in data.severity_levels
        ],
        ["code"],
    )
    await context.put(
        "error_status", ErrorStatus, [lookup_row(item) for item in data.statuses], ["code"]
    )
    await context.put(
        "resolution_type",
        ResolutionType,
        [
            {**lookup_row(item), "requires_testing": item.requires_testing}
            for item in data.resolution_types
        ],
        ["code"],
    )
    known_roles = {role.code for role in context.data.roles}
    for alert in data.alerts:
        unknown = sorted(set(alert.recipients.role_codes) - known_roles)
        if unknown:
            raise ReferenceDataError(f"{FILE_NAME}: alert {alert.code}: unknown roles {unknown}")
    await context.put(
        "error_alert",
        ErrorAlert,
        [
            {
                "code": alert.code,
                "alert_name": alert.name.en,
                "alert_name_i18n": alert.name.as_dict(),
                "alert_description": alert.description.en if alert.description else None,
                "error_type_id": context.id("error_type", alert.error_type)
                if alert.error_type
                else None,
                "severity_level_id": context.id("severity_level", alert.severity)
                if alert.severity
                else None,
                "scope": alert.scope,
                "threshold_count": alert.threshold_count,
                "threshold_time_minutes": alert.threshold_time_minutes,
                "cooldown_minutes": alert.cooldown_minutes,
                "alert_recipients": alert.recipients.model_dump(mode="json"),
                "is_active": alert.is_active,
            }
            for alert in data.alerts
        ],
        ["code"],
    )


SECTION = Section(label="errors", read=read, load=load)
