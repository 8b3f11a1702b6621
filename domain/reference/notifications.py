"""Reference data of notifications (data/notifications.yaml): notification and delivery statuses,
and the notification types with their defaults and their templates in every shipped locale.

Checked before anything is written: each status code the senders rely on is present; each type
has a template in every locale; each template's placeholders are valid and are exactly the
variables its type declares (a translation that drops or invents a variable is an error).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StringConstraints, TypeAdapter, field_validator, model_validator

from domain.config import SUPPORTED_LOCALES
from domain.errors import DomainError
from domain.models.notification import (
    EVERY_DAY,
    DeliveryStatus,
    DeliveryStatusCode,
    NotificationCategory,
    NotificationChannel,
    NotificationPriority,
    NotificationStatus,
    NotificationStatusCode,
    NotificationTemplate,
    NotificationType,
)
from domain.reference.loader import LoaderContext, Section, lookup_row, parse_file, sync_links
from domain.reference.schema import LookupItem, Strict
from domain.services.notification_templates import placeholders

FILE_NAME = "notifications.yaml"

VariableName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=50)]


class TemplateItem(Strict):
    """The texts of one type in one locale (Telegram HTML; ``{name}`` placeholders)."""

    subject: str | None = Field(default=None, min_length=1, max_length=255)
    body: str = Field(min_length=1)
    button: str | None = Field(default=None, min_length=1, max_length=100)

    def texts(self) -> list[str]:
        return [text for text in (self.subject, self.body, self.button) if text is not None]


class NotificationTypeItem(LookupItem):
    category: NotificationCategory
    priority: NotificationPriority
    channel: NotificationChannel = NotificationChannel.TELEGRAM
    user_configurable: bool
    enabled_by_default: bool = True
    requires_action: bool = False
    default_local_time: dt.time | None = None
    default_days_of_week: list[int] = Field(default_factory=lambda: list(EVERY_DAY))
    variables: list[VariableName]
    templates: dict[str, TemplateItem]

    @field_validator("default_local_time", mode="before")
    @classmethod
    def _time_is_quoted(cls, value: Any) -> Any:
        # Unquoted YAML 18:00 is the sexagesimal integer 1080, which would parse as 00:18.
        if value is not None and not isinstance(value, str):
            raise ValueError('write the time as a quoted "HH:MM" string')
        return value

    @field_validator("default_days_of_week")
    @classmethod
    def _iso_weekdays(cls, days: list[int]) -> list[int]:
        if not days or len(set(days)) != len(days) or not set(days) <= set(EVERY_DAY):
            raise ValueError("expected distinct ISO weekdays 1 (Monday) to 7 (Sunday)")
        return sorted(days)

    @model_validator(mode="after")
    def _templates_match_variables(self) -> NotificationTypeItem:
        problems: list[str] = []
        if set(self.templates) != set(SUPPORTED_LOCALES):
            problems.append(
                f"templates in {sorted(self.templates)}, expected {sorted(SUPPORTED_LOCALES)}"
            )
        declared = set(self.variables)
        if len(declared) != len(self.variables):
            problems.append("a variable is declared twice")
        for locale, template in sorted(self.templates.items()):
            try:
                used = {name for text in template.texts() for name in placeholders(text)}
            except DomainError as error:
                problems.append(f"{locale}: {error}")
                continue
            if used != declared:
                missing = sorted(declared - used)
                unknown = sorted(used - declared)
                problems.append(f"{locale}: does not use {missing}, uses undeclared {unknown}")
        if problems:
            raise ValueError(f"{self.code}: " + "; ".join(problems))
        return self


class NotificationsData(Strict):
    notification_statuses: list[LookupItem]
    delivery_statuses: list[LookupItem]
    notification_types: list[NotificationTypeItem]

    @model_validator(mode="after")
    def _codes_are_unique_and_complete(self) -> NotificationsData:
        problems = [
            *_duplicates("notification status", self.notification_statuses),
            *_duplicates("delivery status", self.delivery_statuses),
            *_duplicates("notification type", self.notification_types),
            *_missing("notification status", self.notification_statuses, NotificationStatusCode),
            *_missing("delivery status", self.delivery_statuses, DeliveryStatusCode),
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _duplicates(what: str, items: Iterable[LookupItem]) -> list[str]:
    counts = Counter(item.code for item in items)
    return [f"duplicate {what} {code}" for code, count in sorted(counts.items()) if count > 1]


def _missing(what: str, items: Iterable[LookupItem], needed: Iterable[str]) -> list[str]:
    present = {item.code for item in items}
    return [f"missing {what} {code} (code relies on it)" for code in needed if code not in present]


def read(data_dir: Path) -> NotificationsData:
    data: NotificationsData = parse_file(TypeAdapter(NotificationsData), data_dir / FILE_NAME)
    return data


def _type_row(item: NotificationTypeItem) -> dict[str, Any]:
    return {
        **lookup_row(item),
        "category": item.category,
        "priority": item.priority,
        "default_channel": item.channel,
        "is_user_configurable": item.user_configurable,
        "is_enabled_by_default": item.enabled_by_default,
        "requires_action": item.requires_action,
        "default_local_time": item.default_local_time,
        "default_days_of_week": item.default_days_of_week,
    }


async def load(context: LoaderContext, data: NotificationsData) -> None:
    for name, model, items in [
        ("notification_status", NotificationStatus, data.notification_statuses),
        ("delivery_status", DeliveryStatus, data.delivery_statuses),
    ]:
        await context.put(name, model, [lookup_row(item) for item in items], ["code"])
    types = data.notification_types
    await context.put(
        "notification_type", NotificationType, [_type_row(item) for item in types], ["code"]
    )
    templates = [
        {
            "notification_type_id": context.id("notification_type", item.code),
            "channel": item.channel,
            "locale": locale,
            "subject_template": template.subject,
            "body_template": template.body,
            "action_button_text": template.button,
            "template_variables": list(item.variables),
        }
        for item in types
        for locale, template in sorted(item.templates.items())
    ]
    # A locale or channel dropped from the file disappears from the database too.
    await sync_links(
        context.session,
        NotificationTemplate,
        "notification_type_id",
        [context.id("notification_type", item.code) for item in types],
        templates,
        ["notification_type_id", "channel", "locale"],
        context.report,
    )


SECTION = Section(label="notifications", read=read, load=load)
