"""Closed technical sets shared by several modules, stored as VARCHAR + CHECK (`str_enum`).

Keep the classes sorted by name.
"""

from __future__ import annotations

import enum


class ExerciseMeasurement(enum.StrEnum):
    """What a logged set of an exercise records (decides the log grammar and the charts)."""

    DISTANCE_TIME = "DISTANCE_TIME"
    DURATION = "DURATION"
    REPS = "REPS"
    REPS_LOAD = "REPS_LOAD"


class ExportFormat(enum.StrEnum):
    """File format of an export (audit, errors, favorites)."""

    CSV = "CSV"
    JSON = "JSON"
    PDF = "PDF"


class MuscleRole(enum.StrEnum):
    """How an exercise works a muscle: prime mover or synergist/stabiliser."""

    PRIMARY = "PRIMARY"
    SECONDARY = "SECONDARY"


class ResourceType(enum.StrEnum):
    """A kind of resource that carries a visibility level (``visibility.resource_type``)."""

    ACTIVITY = "ACTIVITY"
    EQUIPMENT = "EQUIPMENT"
    EXERCISE = "EXERCISE"
    GOAL = "GOAL"
    INSTITUTION = "INSTITUTION"
    MEDIA = "MEDIA"
    PROGRAM = "PROGRAM"
    USER = "USER"
    WORKOUT = "WORKOUT"


class RoleType(enum.StrEnum):
    """The kind of a role (``role.type``); an institution's own role keeps its parent's type."""

    ADMIN = "ADMIN"
    COACH = "COACH"
    CUSTOMER = "CUSTOMER"
    GUEST = "GUEST"
    MEMBER = "MEMBER"
    PHYSIOTHERAPIST = "PHYSIOTHERAPIST"
    TRAINER = "TRAINER"


class VisibilityCode(enum.StrEnum):
    """Codes of the VISIBILITY reference rows (a lookup table, not a column enum: this class
    only names the rows code relies on; the column is VARCHAR so new levels are data)."""

    CUSTOMER_SHARED = "CUSTOMER_SHARED"
    GROUP_BASED = "GROUP_BASED"
    INSTITUTION = "INSTITUTION"
    INSTITUTION_CUSTOMER = "INSTITUTION_CUSTOMER"
    INSTITUTION_DEPARTMENT = "INSTITUTION_DEPARTMENT"
    INSTITUTION_MEMBER = "INSTITUTION_MEMBER"
    INTERNAL = "INTERNAL"
    PRIVATE = "PRIVATE"
    PUBLIC = "PUBLIC"
    ROLE_BASED = "ROLE_BASED"
    SHARED = "SHARED"
    SYSTEM = "SYSTEM"
