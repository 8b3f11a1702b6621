"""Reference data of ratings (data/ratings.yaml): moderation statuses, criteria, report reasons
and report statuses. Every code the rating service relies on must be present."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import Field, TypeAdapter, model_validator

from domain.models.rating import (
    CriteriaType,
    RatedResourceType,
    RatingStatus,
    RatingStatusCode,
    ReportReason,
    ReportStatus,
    ReportStatusCode,
)
from domain.reference.loader import LoaderContext, Section, lookup_row, parse_file
from domain.reference.schema import LookupItem, Strict, Text

FILE_NAME = "ratings.yaml"


class DescribedItem(LookupItem):
    """A lookup row people read the description of (criteria, report reasons)."""

    description: Text


class CriteriaTypeItem(DescribedItem):
    applicable_to: list[RatedResourceType] = Field(min_length=1)


class RatingsData(Strict):
    rating_statuses: list[LookupItem]
    criteria_types: list[CriteriaTypeItem]
    report_reasons: list[DescribedItem]
    report_statuses: list[LookupItem]

    @model_validator(mode="after")
    def _codes_are_unique_and_complete(self) -> RatingsData:
        problems = [
            *_duplicates("rating status", self.rating_statuses),
            *_duplicates("criteria type", self.criteria_types),
            *_duplicates("report reason", self.report_reasons),
            *_duplicates("report status", self.report_statuses),
            *_missing("rating status", self.rating_statuses, RatingStatusCode),
            *_missing("report status", self.report_statuses, ReportStatusCode),
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _duplicates(what: str, items: Iterable[LookupItem]) -> list[str]:
    counts = Counter(item.code for item in items)
    return [f"duplicate {what} {code}" for code, count in sorted(counts.items()) if count > 1]


def _missing(what: str, items: Iterable[LookupItem], needed: Iterable[str]) -> list[str]:
    present = {item.code for item in items}
    return [
        f"missing {what} {code} (the code relies on it)" for code in needed if code not in present
    ]


def described_row(item: DescribedItem) -> dict[str, Any]:
    return {**lookup_row(item), "description_i18n": item.description.as_dict()}


def read(data_dir: Path) -> RatingsData:
    data: RatingsData = parse_file(TypeAdapter(RatingsData), data_dir / FILE_NAME)
    return data


async def load(context: LoaderContext, data: RatingsData) -> None:
    await context.put(
        "rating_status", RatingStatus, [lookup_row(i) for i in data.rating_statuses], ["code"]
    )
    await context.put(
        "criteria_type",
        CriteriaType,
        [
            {
                **described_row(item),
                # Stored in declaration order of the enum so a reordered YAML list changes nothing.
                "applicable_to": [k.value for k in RatedResourceType if k in item.applicable_to],
            }
            for item in data.criteria_types
        ],
        ["code"],
    )
    await context.put(
        "report_reason", ReportReason, [described_row(i) for i in data.report_reasons], ["code"]
    )
    await context.put(
        "report_status", ReportStatus, [lookup_row(i) for i in data.report_statuses], ["code"]
    )


SECTION = Section(label="ratings", read=read, load=load)
