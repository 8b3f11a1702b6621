"""The training log: what an athlete actually did, set by set.

The seed has no table for a logged set. A TRAINING_SESSION groups the sets of one visit to the
gym (guided from a program workout, typed as free text like "squat 5x5 100", or imported); a
LOGGED_SET is one performed set with typed columns (reps, load, RPE …). The composite index
`ix_logged_set_user_exercise_performed` answers "my last N sessions of exercise X" in one
indexed query (query shape in docs/schema-decisions.d/training_log.md).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.models.base import Base, CreatedAt, Timestamps, UUIDPk, str_enum

# Pure arithmetic (no database, no services): the e1RM expression the best-e1RM index holds.
from domain.services.strength import estimated_1rm_sql


class TrainingSessionSource(enum.StrEnum):
    FREE_TEXT = "FREE_TEXT"  # typed in chat ("3x8 @ 60kg rpe 8")
    GUIDED = "GUIDED"  # stepped through a program/workout with buttons
    IMPORT = "IMPORT"  # imported from a file or another app


class TrainingSession(UUIDPk, Timestamps, Base):
    """One training session of one user: the parent of its logged sets."""

    __tablename__ = "training_session"
    __table_args__ = (
        CheckConstraint("soreness BETWEEN 0 AND 10", name="soreness_range"),
        CheckConstraint(
            "finished_at IS NULL OR finished_at >= started_at", name="finished_after_started"
        ),
        # /history: "my recent sessions"; also serves the user_id FK.
        Index("ix_training_session_user_started", "user_id", sa.desc("started_at")),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    # SET NULL: the log is the athlete's history and survives the plan it came from.
    workout_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workout.id", ondelete="SET NULL"), index=True
    )
    user_program_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_program.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[dt.datetime | None]  # NULL while the session is open
    soreness: Mapped[int | None] = mapped_column(SmallInteger)
    notes: Mapped[str | None] = mapped_column(Text)
    source: Mapped[TrainingSessionSource] = mapped_column(
        str_enum(TrainingSessionSource, "training_session_source")
    )

    sets: Mapped[list[LoggedSet]] = relationship(
        back_populates="session",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="LoggedSet.performed_at",
    )


class LoggedSet(UUIDPk, CreatedAt, Base):
    """One performed set. Typed columns so progress queries are plain indexed SQL."""

    __tablename__ = "logged_set"
    __table_args__ = (
        CheckConstraint("set_index >= 0", name="set_index_min"),
        CheckConstraint("reps >= 0", name="reps_min"),
        CheckConstraint("load_kg >= 0", name="load_kg_min"),
        CheckConstraint("duration_seconds >= 0", name="duration_seconds_min"),
        CheckConstraint("distance_m >= 0", name="distance_m_min"),
        CheckConstraint("rpe BETWEEN 1 AND 10", name="rpe_range"),
        CheckConstraint("rir BETWEEN 0 AND 10", name="rir_range"),
        # A set measures something: repetitions, time or distance.
        CheckConstraint(
            "num_nonnulls(reps, duration_seconds, distance_m) >= 1", name="has_measure"
        ),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("training_session.id", ondelete="CASCADE"), index=True
    )
    # Denormalized from the session so the progress index needs no join. No index=True:
    # ix_logged_set_user_exercise_performed starts with it.
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    # RESTRICT: an exercise with logged history is archived, never deleted.
    exercise_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exercise.id", ondelete="RESTRICT"), index=True
    )
    performed_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    set_index: Mapped[int] = mapped_column(SmallInteger)  # order within the session
    reps: Mapped[int | None] = mapped_column(SmallInteger)
    load_kg: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))  # external load
    # Bodyweight exercises: the extra load on top of bodyweight; negative = assistance (band,
    # machine), hence no >= 0 check.
    added_load_kg: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    is_bodyweight: Mapped[bool] = mapped_column(server_default=text("false"))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    distance_m: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    rpe: Mapped[Decimal | None] = mapped_column(Numeric(3, 1))
    rir: Mapped[int | None] = mapped_column(SmallInteger)
    is_warmup: Mapped[bool] = mapped_column(server_default=text("false"))
    # The prescribed set this one fulfils, when logged from a plan.
    workout_set_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workout_set.id", ondelete="SET NULL"), index=True
    )
    notes: Mapped[str | None] = mapped_column(Text)

    session: Mapped[TrainingSession] = relationship(back_populates="sets")


# "My last N sessions of exercise X" (and the chart of one exercise): equality on user and
# exercise, newest first. Declared after the class to use the DESC column expression.
Index(
    "ix_logged_set_user_exercise_performed",
    LoggedSet.user_id,
    LoggedSet.exercise_id,
    LoggedSet.performed_at.desc(),
)

# The best estimated 1RM of a user on an exercise, the baseline of every "new best" (the
# free-text reply, PRs): max() of this expression becomes a descent to the index's last entry
# instead of a walk through the whole history (4 ms for three years of squats, growing).
# The expression and the predicate must stay those of the queries (strength.estimated_1rm_sql
# on load_kg and reps; work sets with an external load): tests check the plan.
Index(
    "ix_logged_set_best_e1rm",
    LoggedSet.user_id,
    LoggedSet.exercise_id,
    text(estimated_1rm_sql("load_kg", "reps")),
    postgresql_where=text("NOT is_warmup AND NOT is_bodyweight"),
)
