"""Reference data of the Activity area: the activity types (data/activity.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from pydantic import TypeAdapter, model_validator

from domain.models.activity import ActivityType
from domain.reference.loader import LoaderContext, Section, parse_file
from domain.reference.schema import LookupItem, Strict, Text

FILE_NAME = "activity.yaml"


class ActivityTypeItem(LookupItem):
    # Shown in the feed: required in every locale (LookupItem leaves it optional).
    description: Text
    is_trackable: bool = True
    requires_resource: bool = False


class ActivityReference(Strict):
    activity_types: list[ActivityTypeItem]

    @model_validator(mode="after")
    def _codes_are_unique(self) -> ActivityReference:
        codes = [item.code for item in self.activity_types]
        repeated = sorted({code for code in codes if codes.count(code) > 1})
        if repeated:
            raise ValueError(f"duplicate activity type code(s): {', '.join(repeated)}")
        return self


def read(data_dir: Path) -> ActivityReference:
    return cast(ActivityReference, parse_file(TypeAdapter(ActivityReference), data_dir / FILE_NAME))


async def load(context: LoaderContext, data: ActivityReference) -> None:
    await context.put(
        "activity_type",
        ActivityType,
        [
            {
                "code": item.code,
                "name": item.name.en,
                "name_i18n": item.name.as_dict(),
                "description": item.description.en,
                "description_i18n": item.description.as_dict(),
                "is_trackable": item.is_trackable,
                "requires_resource": item.requires_resource,
            }
            for item in data.activity_types
        ],
        ["code"],
    )


SECTION = Section(label="activity", read=read, load=load)
