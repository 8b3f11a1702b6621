"""Workouts: a named, ordered list of sets (WORKOUT_SET), each set a prescription (sets × reps
@ load/RPE, or time/distance) over one or more exercises (EXERCISE_INSTRUCTION) with their tempo
(TEMPO → TEMPO_TYPE). Sets may have harder/easier and accessible substitutes. A workout is
classified (status, categories, goals, constraints, tags), versioned (frozen snapshots), carries
media and a precomputed duration breakdown. Programs schedule workouts (program.py).

Rows with ``owner_id`` NULL are the system library; ``institution_id`` files a workout in an
institution's library.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.models.base import Base, CreatedAt, Timestamps, UUIDPk
from domain.models.lookup import LookupColumns, code_format_check

# --------------------------------------------------------------------------------------
# Layer 1: the workout and its classification
# --------------------------------------------------------------------------------------


class Workout(UUIDPk, Timestamps, Base):
    """A named training session template."""

    __tablename__ = "workout"
    __table_args__ = (
        # The seed's worldwide UNIQUE name would make two coaches collide: unique per owner,
        # the system library (owner NULL) counting as one owner.
        UniqueConstraint("owner_id", "name", postgresql_nulls_not_distinct=True),
        CheckConstraint(
            "estimated_duration_seconds >= 0", name="estimated_duration_seconds_non_negative"
        ),
        # Library pages list newest first and stop after one page of visible rows
        # (docs/benchmarks.md: the access predicate filters while this index is walked).
        Index("ix_workout_created_at", "created_at"),
    )

    # NULL = system library. RESTRICT: erasing a user must decide what happens to their
    # workouts (SET NULL would promote them into the system library).
    # First column of the unique constraint: no separate index.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="RESTRICT")
    )
    # Set when the workout belongs to an institution's shared library.
    institution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("institution.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(50), server_default=text("'UNNAMED'"))
    # INTEGER, not the seed's SMALLINT: SMALLINT stops at 9.1 h, the seed wants ~18 h.
    estimated_duration_seconds: Mapped[int] = mapped_column(
        Integer, default=0, server_default=text("0")
    )
    difficulty_level_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("difficulty_level.id", ondelete="RESTRICT"), index=True
    )
    notes: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    visibility_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("visibility.id", ondelete="RESTRICT"), index=True
    )
    # The seed's workout_status_id / workout_category_id are dropped: they pointed at join
    # tables that already reference the workout (WORKOUT_STATUS, WORKOUT_CATEGORY).

    sets: Mapped[list[WorkoutSet]] = relationship(
        "WorkoutSet",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="WorkoutSet.order_index",
    )


class WorkoutStatus(Base):
    """The workout's current publishing status (one row per workout)."""

    __tablename__ = "workout_status"

    # PK workout_id alone (seed: workout_id + status_id): a workout has ONE current status.
    workout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout.id", ondelete="CASCADE"), primary_key=True
    )
    status_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("status.id", ondelete="RESTRICT"), index=True
    )
    published_at: Mapped[dt.datetime | None] = mapped_column()


class WorkoutCategory(Base):
    """Workout ↔ CATEGORY (rows of type WORKOUT)."""

    __tablename__ = "workout_category"

    workout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class WorkoutGoal(Base):
    """Workout ↔ GOAL it serves."""

    __tablename__ = "workout_goal"

    workout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout.id", ondelete="CASCADE"), primary_key=True
    )
    # CASCADE: GOAL rows are a user's own goals (goal.py), not a vocabulary; the link must
    # not block deleting the goal or its user.
    goal_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("goal.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class WorkoutConstraint(Base):
    """Workout ↔ constraint it respects (CATEGORY rows of type CONSTRAINT: NO_JUMPING …)."""

    __tablename__ = "workout_constraint"

    workout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout.id", ondelete="CASCADE"), primary_key=True
    )
    # Category type CONSTRAINT is checked by the service (a CHECK cannot read another row).
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class WorkoutTag(Base):
    """Workout ↔ TAG (rows of type WORKOUT)."""

    __tablename__ = "workout_tag"

    workout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tag.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


# --------------------------------------------------------------------------------------
# Layer 2: sets → exercise instructions → tempo
# --------------------------------------------------------------------------------------


class WorkoutSet(UUIDPk, Timestamps, Base):
    """One block of a workout: ``sets_count`` × the prescription over its exercises, then rest.

    A straight set has one EXERCISE_INSTRUCTION; a superset/circuit has several.
    """

    __tablename__ = "workout_set"
    __table_args__ = (
        # Sets need an order; this also serves workout_id lookups.
        UniqueConstraint("workout_id", "order_index"),
        CheckConstraint("order_index >= 0", name="order_index_non_negative"),
        CheckConstraint("rest_after_seconds >= 0", name="rest_after_seconds_non_negative"),
        CheckConstraint("sets_count >= 1", name="sets_count_positive"),
        CheckConstraint("target_reps >= 1", name="target_reps_positive"),
        # A range (8-12 reps) needs its lower bound and must not be inverted.
        CheckConstraint(
            "target_reps_max IS NULL"
            " OR (target_reps IS NOT NULL AND target_reps_max >= target_reps)",
            name="target_reps_range",
        ),
        CheckConstraint("target_rpe BETWEEN 1 AND 10", name="target_rpe_range"),
        CheckConstraint(
            "target_duration_seconds >= 0", name="target_duration_seconds_non_negative"
        ),
        CheckConstraint("target_distance_m >= 0", name="target_distance_m_non_negative"),
        # No check on target_load_kg: a negative load is assistance (assisted pull-up).
    )

    workout_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workout.id", ondelete="CASCADE"))
    order_index: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(String(50))
    rest_after_seconds: Mapped[int] = mapped_column(SmallInteger)
    # NULLABLE (seed: NOT NULL): a conditioning circuit has no single target muscle.
    target_muscle_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("muscle.id", ondelete="RESTRICT"), index=True
    )
    # The seed's SET_CATEGORY is never defined: CATEGORY rows of type SET (STRAIGHT, SUPERSET,
    # CIRCUIT, DROP_SET …). The seed's workout_set_accessibility_id and
    # workout_set_difficulty_variant_id are dropped: those tables already reference the set.
    set_category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), index=True
    )
    # The prescription (absent from the seed): how many sets of what.
    sets_count: Mapped[int] = mapped_column(SmallInteger, default=1, server_default=text("1"))
    target_reps: Mapped[int | None] = mapped_column(SmallInteger)
    # Upper bound of a rep range (8-12); NULL = exactly target_reps.
    target_reps_max: Mapped[int | None] = mapped_column(SmallInteger)
    target_load_kg: Mapped[decimal.Decimal | None] = mapped_column(Numeric(7, 2))
    target_rpe: Mapped[decimal.Decimal | None] = mapped_column(Numeric(3, 1))
    target_duration_seconds: Mapped[int | None] = mapped_column(Integer)
    target_distance_m: Mapped[decimal.Decimal | None] = mapped_column(Numeric)

    instructions: Mapped[list[ExerciseInstruction]] = relationship(
        "ExerciseInstruction",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ExerciseInstruction.order_index",
    )


class ExerciseInstruction(UUIDPk, Base):
    """One exercise inside a set, in order, with the rest that follows it."""

    __tablename__ = "exercise_instruction"
    __table_args__ = (
        # Replaces the seed's PK (workout_set_id, exercise_id): TEMPO needs an id to point at,
        # and a complex may repeat an exercise within one set.
        UniqueConstraint("workout_set_id", "order_index"),
        CheckConstraint("order_index >= 0", name="order_index_non_negative"),
        CheckConstraint("rest_between_seconds >= 0", name="rest_between_seconds_non_negative"),
    )

    workout_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout_set.id", ondelete="CASCADE")
    )
    # RESTRICT: an exercise used in a workout cannot vanish from under it.
    exercise_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exercise.id", ondelete="RESTRICT"), index=True
    )
    rest_between_seconds: Mapped[int] = mapped_column(SmallInteger)
    order_index: Mapped[int] = mapped_column(SmallInteger)

    tempo: Mapped[list[Tempo]] = relationship(
        "Tempo", cascade="all, delete-orphan", passive_deletes=True, order_by="Tempo.order_index"
    )


class Tempo(Base):
    """One phase of an instruction's tempo (3-1-3-1 = four rows, order_index 0..3)."""

    __tablename__ = "tempo"
    __table_args__ = (
        CheckConstraint("order_index BETWEEN 0 AND 3", name="order_index_range"),
        CheckConstraint("seconds BETWEEN 0 AND 60", name="seconds_range"),
    )

    # PK (instruction, position), not the seed's (instruction, tempo_type): the same phase type
    # can occur twice in one tempo.
    exercise_instruction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exercise_instruction.id", ondelete="CASCADE"), primary_key=True
    )
    order_index: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    tempo_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tempo_type.id", ondelete="RESTRICT"), index=True
    )
    # Not in the seed: the phase's own seconds (4-0-1-0); NULL = the type's default
    # (domain/services/tempo.py reads and writes tempos).
    seconds: Mapped[int | None] = mapped_column(SmallInteger)


class TempoType(UUIDPk, LookupColumns, Base):
    """A tempo phase (ECCENTRIC, PAUSE_BOTTOM, CONCENTRIC, PAUSE_TOP …) and its default time.

    Seed TEMPO_TYPES; its ``type`` column is the lookup ``code``.
    """

    __tablename__ = "tempo_type"
    __table_args__ = (
        UniqueConstraint("code"),
        code_format_check(),
        CheckConstraint(
            "time_under_tension_seconds >= 0", name="time_under_tension_seconds_non_negative"
        ),
    )

    time_under_tension_seconds: Mapped[int | None] = mapped_column(SmallInteger)


class WorkoutSetCategory(Base):
    """Workout set ↔ further CATEGORY rows (the set's kind itself is ``set_category_id``)."""

    __tablename__ = "workout_set_category"

    workout_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout_set.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class WorkoutSetDifficultyVariant(UUIDPk, Base):
    """A harder/easier set that can replace ``workout_set_id`` (``difficulty_delta`` > 0 =
    harder)."""

    __tablename__ = "workout_set_difficulty_variant"
    __table_args__ = (
        UniqueConstraint("workout_set_id", "variant_workout_set_id"),
        CheckConstraint("workout_set_id <> variant_workout_set_id", name="not_self"),
    )

    # Denormalised from workout_set.workout_id (seed): lists a workout's variants in one scan.
    workout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout.id", ondelete="CASCADE"), index=True
    )
    workout_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout_set.id", ondelete="CASCADE")
    )
    # Not in the seed: without it the row does not say WHICH set is the variant.
    variant_workout_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout_set.id", ondelete="CASCADE"), index=True
    )
    difficulty_delta: Mapped[int] = mapped_column(SmallInteger)
    order_index: Mapped[int] = mapped_column(SmallInteger)


class WorkoutSetAccessibility(UUIDPk, Base):
    """An accessible substitute set for ``workout_set_id`` (injury, no equipment …)."""

    __tablename__ = "workout_set_accessibility"
    __table_args__ = (
        UniqueConstraint("workout_set_id", "alternative_workout_set_id"),
        CheckConstraint("workout_set_id <> alternative_workout_set_id", name="not_self"),
    )

    workout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout.id", ondelete="CASCADE"), index=True
    )
    workout_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout_set.id", ondelete="CASCADE")
    )
    # Not in the seed: without it the row does not say WHICH set is the substitute.
    alternative_workout_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout_set.id", ondelete="CASCADE"), index=True
    )
    order_index: Mapped[int] = mapped_column(SmallInteger)


# --------------------------------------------------------------------------------------
# Layer 3: versions, media, duration
# --------------------------------------------------------------------------------------


class WorkoutVersion(UUIDPk, CreatedAt, Base):
    """A frozen copy of a workout (sets, instructions, tempo) at one version."""

    __tablename__ = "workout_version"
    __table_args__ = (
        UniqueConstraint("workout_id", "version_number"),
        CheckConstraint("version_number >= 0", name="version_number_non_negative"),
    )

    workout_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workout.id", ondelete="CASCADE"))
    version_number: Mapped[int] = mapped_column(SmallInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    # Not in the seed: a version row without the versioned content records nothing.
    snapshot_data: Mapped[dict[str, Any]] = mapped_column()
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class WorkoutMedia(UUIDPk, Base):
    """A picture or video attached to a workout."""

    __tablename__ = "workout_media"
    __table_args__ = (UniqueConstraint("workout_id", "media_id"),)

    workout_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workout.id", ondelete="CASCADE"))
    # CASCADE: the attachment row means nothing once its media is gone.
    media_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), index=True
    )
    added_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class EstimatedWorkoutDuration(Base):
    """Precomputed duration breakdown of a workout (one row per workout, recomputed on edit)."""

    __tablename__ = "estimated_workout_duration"
    __table_args__ = (
        CheckConstraint("total_seconds >= 0", name="total_seconds_non_negative"),
        CheckConstraint("tempo_seconds >= 0", name="tempo_seconds_non_negative"),
        # Short names: the convention's ck_<table>_<column>_non_negative passes 63 characters.
        CheckConstraint("rest_between_sets_seconds >= 0", name="rest_sets_non_negative"),
        CheckConstraint("rest_between_exercises_seconds >= 0", name="rest_exercises_non_negative"),
        CheckConstraint("warmup_seconds >= 0", name="warmup_seconds_non_negative"),
        CheckConstraint("transitions_seconds >= 0", name="transitions_seconds_non_negative"),
    )

    workout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout.id", ondelete="CASCADE"), primary_key=True
    )
    # INTEGER, not the seed's SMALLINT: these are sums and can pass SMALLINT's 9.1 h.
    total_seconds: Mapped[int] = mapped_column(Integer)
    tempo_seconds: Mapped[int] = mapped_column(Integer)
    rest_between_sets_seconds: Mapped[int] = mapped_column(Integer)
    rest_between_exercises_seconds: Mapped[int] = mapped_column(Integer)
    warmup_seconds: Mapped[int] = mapped_column(Integer)
    transitions_seconds: Mapped[int] = mapped_column(Integer)
    calculated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
