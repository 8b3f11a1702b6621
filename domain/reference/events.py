"""Reference data of audit and events (`data/events.yaml`): the EVENT_TYPE catalogue and the
default AUDIT_RETENTION_POLICY rows.

Checked when read, before anything is written: every code that code records by name
(``EventTypeCode``) is in the catalogue, and every retention policy names an audited table
(``AUDITED_TABLES``) or the default ``*``. The file is the truth for the rows it ships: a
second seed run restores them (an administrator's own policies for other tables stay).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StringConstraints, TypeAdapter, model_validator

from domain.models.audit import (
    AuditAction,
    AuditRetentionPolicy,
    EventCategory,
    EventSeverity,
    EventType,
    EventTypeCode,
)
from domain.reference.loader import LoaderContext, Section, parse_file
from domain.reference.schema import Strict, Text, UpperCode
from domain.services.audit import AUDITED_TABLES

FILE_NAME = "events.yaml"
DEFAULT_ENTITY = "*"

EntityType = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z][a-z0-9_]*)$", max_length=100)]


class EventTypeItem(Strict):
    code: UpperCode
    name: Text
    description: Text
    category: EventCategory
    severity: EventSeverity = EventSeverity.INFO
    retention_days: int = Field(gt=0)
    requires_retention: bool = True
    is_sensitive: bool = False


class RetentionPolicyItem(Strict):
    entity_type: EntityType
    action: AuditAction
    retention_days: int = Field(gt=0)
    compression_after_days: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _compress_before_deleting(self) -> RetentionPolicyItem:
        if (
            self.compression_after_days is not None
            and self.compression_after_days >= self.retention_days
        ):
            raise ValueError(
                f"{self.entity_type}/{self.action}: compression_after_days must be below "
                "retention_days"
            )
        return self


def _duplicates(values: Iterable[Any]) -> list[Any]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


class EventReferenceData(Strict):
    event_types: list[EventTypeItem]
    retention_policies: list[RetentionPolicyItem]

    @model_validator(mode="after")
    def _consistent(self) -> EventReferenceData:
        problems = [f"duplicate event type {code}" for code in _duplicates(self.codes)]
        problems.extend(
            f"duplicate retention policy {entity}/{action}"
            for entity, action in _duplicates(
                (item.entity_type, item.action.value) for item in self.retention_policies
            )
        )
        problems.extend(
            f"missing event type {code.value}" for code in EventTypeCode if code not in self.codes
        )
        problems.extend(
            f"retention policy for {item.entity_type}: not an audited table"
            for item in self.retention_policies
            if item.entity_type != DEFAULT_ENTITY and item.entity_type not in AUDITED_TABLES
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def codes(self) -> list[str]:
        return [item.code for item in self.event_types]


def read(data_dir: Path) -> EventReferenceData:
    parsed: EventReferenceData = parse_file(TypeAdapter(EventReferenceData), data_dir / FILE_NAME)
    return parsed


async def load(context: LoaderContext, data: EventReferenceData) -> None:
    await context.put(
        "event_type",
        EventType,
        [
            {
                "code": item.code,
                "name": item.name.en,
                "name_i18n": item.name.as_dict(),
                "description": item.description.en,
                "description_i18n": item.description.as_dict(),
                "category": item.category,
                "severity": item.severity,
                "retention_days": item.retention_days,
                "requires_retention": item.requires_retention,
                "is_sensitive": item.is_sensitive,
            }
            for item in data.event_types
        ],
        ["code"],
    )
    await context.put(
        "audit_retention_policy",
        AuditRetentionPolicy,
        [
            {
                "entity_type": item.entity_type,
                "action": item.action,
                "retention_days": item.retention_days,
                "compression_after_days": item.compression_after_days,
                "is_active": True,
            }
            for item in data.retention_policies
        ],
        ["entity_type", "action"],
    )


SECTION = Section(label="events", read=read, load=load)
