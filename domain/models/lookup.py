"""Shared vocabularies: tags, categories, statuses and metrics (with their unit,
progression and difficulty subtypes).

These tables hold reference ROWS, each addressed by a stable upper-snake-case ``code`` that
code and reference data use; ``name`` / ``name_i18n`` are what a person reads. The generic
tables (TAG, CATEGORY, STATUS, METRIC) carry a ``type`` column saying which kind of thing a
row applies to, so the same code may exist for two kinds. VISIBILITY lives in ``access.py``.
"""

from __future__ import annotations

import decimal
import enum
import uuid

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, UUIDPk, str_enum

# Upper snake case, e.g. PRIVATE, BODY_WEIGHT, KG.
CODE_PATTERN = "^[A-Z][A-Z0-9_]*$"


# Catalogue items (muscles, equipment, exercises) use lower snake case: back_squat, barbell.
CATALOGUE_CODE_PATTERN = "^[a-z][a-z0-9_]*$"


def code_format_check(column: str = "code") -> CheckConstraint:
    """CHECK that a code column is upper snake case (a new object per table)."""
    return CheckConstraint(f"{column} ~ '{CODE_PATTERN}'", name=f"{column}_format")


def catalogue_code_check(column: str = "code") -> CheckConstraint:
    """CHECK that a catalogue item's code is lower snake case (a new object per table)."""
    return CheckConstraint(f"{column} ~ '{CATALOGUE_CODE_PATTERN}'", name=f"{column}_format")


def i18n_column() -> Mapped[dict[str, str]]:
    """JSONB ``{"en": …, "fr": …, "ru": …}``, NOT NULL, empty by default."""
    return mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))


class LookupColumns:
    """Columns every vocabulary table shares. Uniqueness of ``code`` is declared per table:
    worldwide for single-kind lookups, per ``type`` for the generic ones."""

    code: Mapped[str] = mapped_column(String(50))
    # English, canonical label; a label, not a key (the key is ``code``).
    name: Mapped[str] = mapped_column(String(100))
    name_i18n: Mapped[dict[str, str]] = i18n_column()
    description: Mapped[str | None] = mapped_column(Text)


class UnitDimension(enum.StrEnum):
    """What a measurement unit measures; conversion is only allowed within one dimension."""

    COUNT = "COUNT"
    DISTANCE = "DISTANCE"
    EFFORT = "EFFORT"
    MASS = "MASS"
    SCORE = "SCORE"
    TIME = "TIME"


# --------------------------------------------------------------------------------------
# Generic, typed vocabularies
# --------------------------------------------------------------------------------------


class Tag(UUIDPk, LookupColumns, Base):
    """A free label (EXPRESS, SKILL, DYNAMIC, HARD …) for one kind of thing (``type``)."""

    __tablename__ = "tag"
    __table_args__ = (
        # The seed's ``name UNIQUE`` would forbid the same word for two kinds.
        UniqueConstraint("type", "code"),
        code_format_check(),
        code_format_check("type"),
    )

    # VARCHAR, not an enum: EXERCISE, WORKOUT, PROGRAM, EQUIPMENT, INSTITUTION, USER, MEDIA,
    # SET, CONSTRAINT, SHARE, INVITE … new kinds arrive as data, without a migration.
    type: Mapped[str] = mapped_column(String(30))


class Category(UUIDPk, LookupColumns, Base):
    """A classification (e.g. STRENGTH, MOBILITY) for one kind of thing (``type``)."""

    __tablename__ = "category"
    __table_args__ = (
        UniqueConstraint("type", "code"),
        code_format_check(),
        code_format_check("type"),
    )

    # Same open set of kinds as Tag.type (EXERCISE, WORKOUT, PROGRAM, EQUIPMENT, SET, CONSTRAINT …).
    type: Mapped[str] = mapped_column(String(30))


class Status(UUIDPk, LookupColumns, Base):
    """A state from one status family: PUBLISHING, SEVERITY, LOG_LEVEL or COMPLETION.

    COMPLETION rows stand in for the seed's never-defined COMPLETION_STATUS.
    """

    __tablename__ = "status"
    __table_args__ = (
        UniqueConstraint("type", "code"),
        code_format_check(),
        code_format_check("type"),
    )

    type: Mapped[str] = mapped_column(String(30))


class Metric(UUIDPk, LookupColumns, Base):
    """Something that can be measured or ranked: a UNIT, a PROGRESSION or a DIFFICULTY.

    Each row is refined by exactly one subtype row (MeasurementUnit, ProgressionMetric,
    DifficultyLevel) matching its ``type``.
    """

    __tablename__ = "metric"
    __table_args__ = (
        UniqueConstraint("type", "code"),
        code_format_check(),
        code_format_check("type"),
    )

    type: Mapped[str] = mapped_column(String(30))
    # Display symbol ("kg", "reps", "RPE") so lists need not join the subtype.
    unit_symbol: Mapped[str | None] = mapped_column(String(16))


# --------------------------------------------------------------------------------------
# STATUS pairing and METRIC subtypes
# --------------------------------------------------------------------------------------


class LogLevelStatus(UUIDPk, Base):
    """Maps a LOG_LEVEL status to the SEVERITY status it implies."""

    __tablename__ = "log_level_status"
    __table_args__ = (UniqueConstraint("log_level_id", "severity_id"),)

    # First column of the unique constraint: no separate index.
    log_level_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("status.id", ondelete="RESTRICT"))
    severity_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("status.id", ondelete="RESTRICT"), index=True
    )


class MeasurementUnit(UUIDPk, Base):
    """A unit (KG, LB, REP, SECOND, METER, RPE …): the METRIC row of type UNIT it refines,
    its symbol, dimension and factor to the dimension's base unit (kg, s, m …)."""

    __tablename__ = "measurement_unit"
    __table_args__ = (
        code_format_check(),
        CheckConstraint("to_base_factor > 0", name="to_base_factor_positive"),
    )

    # One subtype row per metric (1:1); it is part of the metric row, so it goes with it.
    metric_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("metric.id", ondelete="CASCADE"), unique=True
    )
    code: Mapped[str] = mapped_column(String(50), unique=True)
    symbol: Mapped[str] = mapped_column(String(16))
    dimension: Mapped[UnitDimension] = mapped_column(
        str_enum(UnitDimension, "unit_dimension", length=20)
    )
    # value_in_base = value * to_base_factor (LB -> 0.453592370 kg). NUMERIC, not float:
    # conversions must round-trip exactly.
    to_base_factor: Mapped[decimal.Decimal] = mapped_column(
        Numeric(18, 9), default=decimal.Decimal(1), server_default=text("1")
    )


class ProgressionMetric(UUIDPk, Base):
    """A quantity progression rules act on (LOAD, REPS, VOLUME, DURATION …)."""

    __tablename__ = "progression_metric"
    __table_args__ = (code_format_check(),)

    metric_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("metric.id", ondelete="CASCADE"), unique=True
    )
    code: Mapped[str] = mapped_column(String(50), unique=True)


class DifficultyLevel(UUIDPk, Base):
    """An ordered difficulty: BEGINNER < INTERMEDIATE < ADVANCED < EXPERT (by ``rank``)."""

    __tablename__ = "difficulty_level"
    __table_args__ = (
        code_format_check(),
        CheckConstraint("rank >= 0", name="rank_non_negative"),
    )

    metric_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("metric.id", ondelete="CASCADE"), unique=True
    )
    code: Mapped[str] = mapped_column(String(50), unique=True)
    # Lets queries say "at most INTERMEDIATE" (rank <= 2) without hard-coding codes.
    rank: Mapped[int] = mapped_column(SmallInteger, unique=True)
