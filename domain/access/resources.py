"""Where each resource type lives: its table and the columns the rules read
(docs/access.md, the table under "Actions and resources")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table

from domain.access.types import ResourceKind
from domain.models.equipment import Equipment
from domain.models.exercise import Exercise
from domain.models.goal import Goal
from domain.models.institution import Institution
from domain.models.media import Media
from domain.models.program import Program
from domain.models.training_log import TrainingSession
from domain.models.user import UserProgramOwnership, UserWorkoutOwnership
from domain.models.workout import Workout


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


@dataclass(frozen=True)
class ResourceSpec:
    """One resource type as the engine sees it."""

    kind: ResourceKind
    table: Table
    owner_column: str | None
    institution_column: str | None  # "id" for INSTITUTION: an institution is its own
    visibility_column: str | None  # None: always private (TRAINING_LOG)
    # PROGRAM / WORKOUT: the user_ownership subtype table and its column naming the row.
    ownership_table: Table | None = None
    ownership_column: str | None = None
    # PROGRAM / WORKOUT: the user_share_invite column naming the row.
    share_column: str | None = None
    # The consent_scope key a client relation must allow (RESOURCE_ID from a role).
    consent_key: str | None = None
    # Rows without owner are the public catalogue for PUBLIC-scoped permissions.
    catalogue: bool = False
    # permission.resource values that cover this type.
    permission_resources: tuple[str, ...] = ()

    def column(self, name: str) -> ColumnElement[Any]:
        return self.table.c[name]

    @property
    def id(self) -> ColumnElement[Any]:
        return self.table.c.id

    @property
    def owner(self) -> ColumnElement[Any] | None:
        return None if self.owner_column is None else self.table.c[self.owner_column]

    @property
    def institution(self) -> ColumnElement[Any] | None:
        return None if self.institution_column is None else self.table.c[self.institution_column]

    @property
    def visibility(self) -> ColumnElement[Any] | None:
        return None if self.visibility_column is None else self.table.c[self.visibility_column]


SPECS: dict[str, ResourceSpec] = {
    spec.kind.value: spec
    for spec in (
        ResourceSpec(
            ResourceKind.WORKOUT,
            _table(Workout),
            owner_column="owner_id",
            institution_column="institution_id",
            visibility_column="visibility_id",
            ownership_table=_table(UserWorkoutOwnership),
            ownership_column="workout_id",
            share_column="workout_id",
            consent_key="programs",
            permission_resources=("WORKOUT",),
        ),
        ResourceSpec(
            ResourceKind.PROGRAM,
            _table(Program),
            owner_column="owner_id",
            institution_column="institution_id",
            visibility_column="visibility_id",
            ownership_table=_table(UserProgramOwnership),
            ownership_column="program_id",
            share_column="program_id",
            consent_key="programs",
            permission_resources=("PROGRAM",),
        ),
        ResourceSpec(
            ResourceKind.EXERCISE,
            _table(Exercise),
            owner_column="owner_id",
            institution_column=None,
            visibility_column="visibility_id",
            catalogue=True,
            permission_resources=("EXERCISE",),
        ),
        ResourceSpec(
            ResourceKind.MEDIA,
            _table(Media),
            owner_column="owner_id",
            institution_column=None,
            visibility_column="visibility_id",
            catalogue=True,
            permission_resources=("MEDIA",),
        ),
        ResourceSpec(
            ResourceKind.EQUIPMENT,
            _table(Equipment),
            owner_column="owner_id",
            institution_column=None,
            visibility_column="visibility_id",
            catalogue=True,
            permission_resources=("EQUIPMENT",),
        ),
        ResourceSpec(
            ResourceKind.GOAL,
            _table(Goal),
            owner_column="user_id",
            institution_column=None,
            visibility_column="visibility_id",
            consent_key="goals",
            permission_resources=("GOAL",),
        ),
        ResourceSpec(
            ResourceKind.TRAINING_LOG,
            _table(TrainingSession),
            owner_column="user_id",
            institution_column=None,
            visibility_column=None,
            consent_key="logs",
            # "CLIENT_LOG permissions cover TRAINING_LOG rows".
            permission_resources=("TRAINING_LOG", "CLIENT_LOG"),
        ),
        ResourceSpec(
            ResourceKind.INSTITUTION,
            _table(Institution),
            owner_column=None,
            institution_column="id",
            visibility_column="visibility_id",
            permission_resources=("INSTITUTION",),
        ),
    )
}


def spec_for(resource_type: str) -> ResourceSpec:
    """The spec of a resource type; ValueError for an unknown one."""
    try:
        return SPECS[str(resource_type).upper()]
    except KeyError:
        raise ValueError(
            f"unknown resource type {resource_type!r} (one of {', '.join(SPECS)})"
        ) from None


def permission_covers_type(resource: str, resource_type: str) -> bool:
    """Does a permission on ``resource`` (its RESOURCE part) speak about this type?"""
    return resource in spec_for(resource_type).permission_resources
