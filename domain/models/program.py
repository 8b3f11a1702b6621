"""Programs: a multi-week plan that schedules workouts on days (PROGRAM_SCHEDULE →
SCHEDULE_WORKOUT), classified (status, categories, goals, constraints, tags), versioned (frozen
snapshots) and illustrated (media). Coaches push programs to clients; athletes follow them.

Rows with ``owner_id`` NULL are the system library; ``institution_id`` files a program in an
institution's library. ``SCHEDULE_DAY_TRIGGERS_UP`` / ``_DOWN`` hold the PL/pgSQL that keeps
scheduled days inside their schedule's length (run by the migration).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.models.base import Base, CreatedAt, Timestamps, UUIDPk

# --------------------------------------------------------------------------------------
# Layer 1: the program and its classification
# --------------------------------------------------------------------------------------


class Program(UUIDPk, Timestamps, Base):
    """A training plan over days/weeks."""

    __tablename__ = "program"
    __table_args__ = (
        # Newest-first library pages (see workout.py).
        Index("ix_program_created_at", "created_at"),
        # /programs title search (ILIKE '%…%'): a rare or absent title would otherwise walk
        # the whole table newest first (docs/benchmarks.md, "Coaching screens").
        Index(
            "ix_program_title_trgm",
            "title",
            postgresql_using="gin",
            postgresql_ops={"title": "gin_trgm_ops"},
        ),
        # The seed's worldwide UNIQUE title would make two coaches collide: unique per owner,
        # the system library (owner NULL) counting as one owner.
        UniqueConstraint("owner_id", "title", postgresql_nulls_not_distinct=True),
        CheckConstraint("duration_weeks BETWEEN 1 AND 104", name="duration_weeks_range"),
    )

    # NULL = system library. RESTRICT: erasing a user must decide what happens to their
    # programs (SET NULL would promote them into the system library).
    # First column of the unique constraint: no separate index.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="RESTRICT")
    )
    # Set when the program belongs to an institution's shared library.
    institution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("institution.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text)
    difficulty_level_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("difficulty_level.id", ondelete="RESTRICT"), index=True
    )
    # Advertised length for catalogue lists (up to two years); the schedules hold the days.
    duration_weeks: Mapped[int | None] = mapped_column(SmallInteger)
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    visibility_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("visibility.id", ondelete="RESTRICT"), index=True
    )
    # The seed's program_category_id is dropped: it pointed at the PROGRAM_CATEGORY join table,
    # which already references the program.

    schedules: Mapped[list[ProgramSchedule]] = relationship(
        "ProgramSchedule", cascade="all, delete-orphan", passive_deletes=True
    )


class ProgramStatus(Base):
    """The program's current publishing status (one row per program)."""

    __tablename__ = "program_status"

    # PK program_id alone (seed: program_id + status_id): a program has ONE current status.
    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("program.id", ondelete="CASCADE"), primary_key=True
    )
    status_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("status.id", ondelete="RESTRICT"), index=True
    )


class ProgramCategory(UUIDPk, Base):
    """Program ↔ CATEGORY (rows of type PROGRAM)."""

    __tablename__ = "program_category"
    __table_args__ = (UniqueConstraint("program_id", "category_id"),)

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("program.id", ondelete="CASCADE"))
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), index=True
    )


class ProgramGoal(UUIDPk, Base):
    """Program ↔ GOAL it serves."""

    __tablename__ = "program_goal"
    __table_args__ = (UniqueConstraint("program_id", "goal_id"),)

    # CASCADE: GOAL rows are a user's own goals (goal.py), not a vocabulary; the link must
    # not block deleting the goal or its user.
    goal_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("goal.id", ondelete="CASCADE"), index=True
    )
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("program.id", ondelete="CASCADE"))


class ProgramConstraint(UUIDPk, Base):
    """A constraint the program respects, with its value (EQUIPMENT: "dumbbells only" …)."""

    __tablename__ = "program_constraint"

    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("program.id", ondelete="CASCADE"), index=True
    )
    # Seed constraint_id → CONSTRAINT_CATEGORY, never defined: CATEGORY rows of type
    # CONSTRAINT (the type is checked by the service; a CHECK cannot read another row).
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), index=True
    )
    value: Mapped[str] = mapped_column(Text)


class ProgramTag(Base):
    """Program ↔ TAG (rows of type PROGRAM)."""

    __tablename__ = "program_tag"

    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("program.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tag.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


# --------------------------------------------------------------------------------------
# Layer 2: schedule
# --------------------------------------------------------------------------------------


class ProgramSchedule(UUIDPk, Base):
    """A day-numbered calendar of the program's workouts (a program may have several)."""

    __tablename__ = "program_schedule"
    __table_args__ = (
        CheckConstraint(
            "schedule_length_days BETWEEN 1 AND 3660", name="schedule_length_days_range"
        ),
    )

    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("program.id", ondelete="CASCADE"), index=True
    )
    # Shrinking below a scheduled day is rejected by trg_program_schedule_length_covers_days.
    schedule_length_days: Mapped[int] = mapped_column(SmallInteger)
    notes: Mapped[str | None] = mapped_column(String(255))

    workouts: Mapped[list[ScheduleWorkout]] = relationship(
        "ScheduleWorkout",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="[ScheduleWorkout.day_number, ScheduleWorkout.order_index]",
    )


class ScheduleWorkout(UUIDPk, Base):
    """A workout on day ``day_number`` (0-based) of a schedule, ``order_index`` within the day."""

    __tablename__ = "schedule_workout"
    __table_args__ = (
        UniqueConstraint("program_schedule_id", "day_number", "order_index"),
        # The upper bound (day_number < program_schedule.schedule_length_days) lives in another
        # row, out of a CHECK's reach: trg_schedule_workout_day_in_range enforces it.
        CheckConstraint("day_number >= 0", name="day_number_non_negative"),
    )

    # First column of the unique constraint: no separate index.
    program_schedule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("program_schedule.id", ondelete="CASCADE")
    )
    # RESTRICT: a workout scheduled in a program cannot vanish from under it.
    workout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout.id", ondelete="RESTRICT"), index=True
    )
    day_number: Mapped[int] = mapped_column(SmallInteger)
    order_index: Mapped[int] = mapped_column(SmallInteger)
    is_optional: Mapped[bool] = mapped_column(server_default=text("false"))
    notes: Mapped[str | None] = mapped_column(String(255))


# --------------------------------------------------------------------------------------
# Layer 3: versions and media
# --------------------------------------------------------------------------------------


class ProgramVersion(UUIDPk, CreatedAt, Base):
    """A frozen copy of a program (schedules and their workouts) at one version."""

    __tablename__ = "program_version"
    __table_args__ = (
        UniqueConstraint("program_id", "version_number"),
        CheckConstraint("version_number >= 0", name="version_number_non_negative"),
    )

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("program.id", ondelete="CASCADE"))
    version_number: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    reason: Mapped[str | None] = mapped_column(String(255))
    snapshot_data: Mapped[dict[str, Any]] = mapped_column()
    # The seed gives no default; true like EXERCISE_VERSION / WORKOUT_VERSION.
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class ProgramMedia(UUIDPk, Base):
    """A picture or video attached to a program."""

    __tablename__ = "program_media"
    __table_args__ = (UniqueConstraint("program_id", "media_id"),)

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("program.id", ondelete="CASCADE"))
    # CASCADE: the attachment row means nothing once its media is gone.
    media_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), index=True
    )
    added_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


# --------------------------------------------------------------------------------------
# Cross-row rule: 0 <= schedule_workout.day_number < program_schedule.schedule_length_days
# --------------------------------------------------------------------------------------
#
# Each string is ONE statement (a DO block) so that ``op.execute`` can run it through asyncpg,
# which prepares statements and refuses several commands in one. The insert/update trigger
# takes FOR SHARE on the schedule row: it conflicts with the row lock of a concurrent
# UPDATE of schedule_length_days, so a shrink and a new late day cannot both slip through.

SCHEDULE_DAY_TRIGGERS_UP = """
DO $migration$
BEGIN
    CREATE FUNCTION schedule_workout_day_in_range() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    DECLARE
        length_days integer;
    BEGIN
        SELECT ps.schedule_length_days INTO length_days
          FROM program_schedule AS ps
         WHERE ps.id = NEW.program_schedule_id
           FOR SHARE;
        -- No schedule row: leave the error to the foreign key.
        IF FOUND AND NEW.day_number >= length_days THEN
            RAISE EXCEPTION
                'schedule_workout.day_number % is outside program_schedule % (days 0..%)',
                NEW.day_number, NEW.program_schedule_id, length_days - 1
                USING ERRCODE = 'check_violation',
                      TABLE = 'schedule_workout',
                      COLUMN = 'day_number',
                      CONSTRAINT = 'trg_schedule_workout_day_in_range';
        END IF;
        RETURN NEW;
    END;
    $fn$;

    CREATE TRIGGER trg_schedule_workout_day_in_range
        BEFORE INSERT OR UPDATE OF program_schedule_id, day_number ON schedule_workout
        FOR EACH ROW EXECUTE FUNCTION schedule_workout_day_in_range();

    CREATE FUNCTION program_schedule_length_covers_days() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    DECLARE
        last_day integer;
    BEGIN
        IF NEW.schedule_length_days < OLD.schedule_length_days THEN
            SELECT max(sw.day_number) INTO last_day
              FROM schedule_workout AS sw
             WHERE sw.program_schedule_id = NEW.id;
            IF last_day >= NEW.schedule_length_days THEN
                RAISE EXCEPTION
                    'program_schedule % cannot shrink to % days: a workout is scheduled on day %',
                    NEW.id, NEW.schedule_length_days, last_day
                    USING ERRCODE = 'check_violation',
                          TABLE = 'program_schedule',
                          COLUMN = 'schedule_length_days',
                          CONSTRAINT = 'trg_program_schedule_length_covers_days';
            END IF;
        END IF;
        RETURN NEW;
    END;
    $fn$;

    CREATE TRIGGER trg_program_schedule_length_covers_days
        BEFORE UPDATE OF schedule_length_days ON program_schedule
        FOR EACH ROW EXECUTE FUNCTION program_schedule_length_covers_days();
END
$migration$
"""

SCHEDULE_DAY_TRIGGERS_DOWN = """
DO $migration$
BEGIN
    DROP TRIGGER IF EXISTS trg_program_schedule_length_covers_days ON program_schedule;
    DROP FUNCTION IF EXISTS program_schedule_length_covers_days();
    DROP TRIGGER IF EXISTS trg_schedule_workout_day_in_range ON schedule_workout;
    DROP FUNCTION IF EXISTS schedule_workout_day_in_range();
END
$migration$
"""
