"""The exercise catalogue: what a movement is, how it is measured, which muscles and equipment
it uses, its easier/harder variants and accessible alternatives, its media and version history.

Rows with ``owner_id`` NULL are the system catalogue (reference data, addressed by ``code``);
coaches and athletes add their own exercises under their ``owner_id``. Workouts point at
exercises through EXERCISE_INSTRUCTION (workout.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.models.base import Base, CreatedAt, Timestamps, UUIDPk, str_enum
from domain.models.enums import ExerciseMeasurement, MuscleRole
from domain.models.lookup import catalogue_code_check, i18n_column


class Exercise(UUIDPk, Timestamps, Base):
    """One movement (back squat, push-up, 5 km run …) with its texts in every shipped locale."""

    __tablename__ = "exercise"
    __table_args__ = (
        # The seed's worldwide UNIQUE name would make two coaches' "Squat" collide: unique per
        # owner, the system catalogue (owner NULL) counting as one owner.
        UniqueConstraint("owner_id", "name", postgresql_nulls_not_distinct=True),
        catalogue_code_check(),
    )

    # Stable slug (back_squat) for reference data and the loader; NULL for user-made exercises.
    code: Mapped[str | None] = mapped_column(String(80), unique=True)
    # NULL = system catalogue. RESTRICT: erasing a user must decide what happens to their
    # exercises; SET NULL would silently promote them into the system catalogue.
    # First column of the unique constraint: no separate index.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(String(50))
    name_i18n: Mapped[dict[str, str]] = i18n_column()
    description: Mapped[str] = mapped_column(String(255))
    description_i18n: Mapped[dict[str, str]] = i18n_column()
    instructions: Mapped[str] = mapped_column(Text)
    instructions_i18n: Mapped[dict[str, str]] = i18n_column()
    notes: Mapped[str | None] = mapped_column(Text)
    # {"en": ["squat", …], "fr": […], "ru": […]}: extra words the free-text log parser matches.
    aliases: Mapped[dict[str, list[str]]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    # Decides what a logged set carries (reps+load, reps, time, distance+time).
    measurement: Mapped[ExerciseMeasurement] = mapped_column(
        str_enum(ExerciseMeasurement, "exercise_measurement"),
        default=ExerciseMeasurement.REPS_LOAD,
        server_default=ExerciseMeasurement.REPS_LOAD.value,
    )
    # Load logged for a bodyweight exercise is added (vest) or, negative, assistance.
    is_bodyweight: Mapped[bool] = mapped_column(server_default=text("false"))
    difficulty_level_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("difficulty_level.id", ondelete="RESTRICT"), index=True
    )
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    visibility_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("visibility.id", ondelete="RESTRICT"), index=True
    )

    muscles: Mapped[list[ExerciseMuscle]] = relationship(
        "ExerciseMuscle", cascade="all, delete-orphan", passive_deletes=True
    )
    equipment: Mapped[list[ExerciseEquipment]] = relationship(
        "ExerciseEquipment", cascade="all, delete-orphan", passive_deletes=True
    )
    media: Mapped[list[ExerciseMedia]] = relationship(
        "ExerciseMedia", cascade="all, delete-orphan", passive_deletes=True
    )


# Free-text logging ("squat 5x5 100"): an exact name or alias, in any shipped language, found
# through this index. exercise_search_terms (migration 0006) folds case, accents, spaces and
# punctuation of every name and alias into one text[]; domain/services/exercise_search.py
# queries it with `@> ARRAY[exercise_search_fold(:text)]`.
Index(
    "ix_exercise_search_terms",
    func.exercise_search_terms(Exercise.name, Exercise.name_i18n, Exercise.aliases),
    postgresql_using="gin",
)


class ExerciseCategory(Base):
    """Exercise ↔ CATEGORY (rows of type EXERCISE)."""

    __tablename__ = "exercise_category"

    exercise_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exercise.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class ExerciseTag(Base):
    """Exercise ↔ TAG (rows of type EXERCISE)."""

    __tablename__ = "exercise_tag"

    exercise_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exercise.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tag.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class ExerciseMuscle(Base):
    """Which muscles an exercise works, and how (not in the seed: WORKOUT_SET.target_muscle_id
    and "find exercises for this muscle" need it)."""

    __tablename__ = "exercise_muscle"

    exercise_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exercise.id", ondelete="CASCADE"), primary_key=True
    )
    muscle_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("muscle.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    role: Mapped[MuscleRole] = mapped_column(str_enum(MuscleRole, "muscle_role"))


class ExerciseVariant(UUIDPk, Base):
    """A harder or easier version of an exercise (``difficulty_delta`` > 0 = harder)."""

    __tablename__ = "exercise_variant"
    __table_args__ = (
        UniqueConstraint("exercise_id", "variant_exercise_id"),
        CheckConstraint("exercise_id <> variant_exercise_id", name="not_self"),
    )

    # First column of the unique constraint: no separate index.
    exercise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exercise.id", ondelete="CASCADE"))
    # The link means nothing without either end: CASCADE both ways.
    variant_exercise_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exercise.id", ondelete="CASCADE"), index=True
    )
    order_index: Mapped[int] = mapped_column(SmallInteger)
    difficulty_delta: Mapped[int] = mapped_column(SmallInteger)


class ExerciseAccessibility(UUIDPk, Base):
    """An alternative exercise for someone who cannot do this one (injury, equipment, level)."""

    __tablename__ = "exercise_accessibility"
    __table_args__ = (
        UniqueConstraint("exercise_id", "alternative_exercise_id"),
        CheckConstraint("exercise_id <> alternative_exercise_id", name="not_self"),
    )

    exercise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exercise.id", ondelete="CASCADE"))
    alternative_exercise_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exercise.id", ondelete="CASCADE"), index=True
    )
    order_index: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)


class ExerciseVersion(UUIDPk, CreatedAt, Base):
    """A frozen copy of an exercise at one version, so history shows what was prescribed."""

    __tablename__ = "exercise_version"
    __table_args__ = (
        UniqueConstraint("exercise_id", "version_number"),
        CheckConstraint("version_number >= 0", name="version_number_non_negative"),
    )

    exercise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exercise.id", ondelete="CASCADE"))
    version_number: Mapped[int] = mapped_column(Integer)
    change_reason: Mapped[str | None] = mapped_column(Text)
    # Not in the seed: a version row without the versioned content records nothing.
    snapshot_data: Mapped[dict[str, Any]] = mapped_column()
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class ExerciseMedia(UUIDPk, Base):
    """A picture or video attached to an exercise."""

    __tablename__ = "exercise_media"
    __table_args__ = (UniqueConstraint("exercise_id", "media_id"),)

    exercise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exercise.id", ondelete="CASCADE"))
    # CASCADE: the attachment row means nothing once its media is gone.
    media_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), index=True
    )
    added_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class ExerciseEquipment(UUIDPk, Base):
    """Equipment an exercise needs."""

    __tablename__ = "exercise_equipment"
    __table_args__ = (UniqueConstraint("exercise_id", "equipment_id"),)

    exercise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exercise.id", ondelete="CASCADE"))
    # CASCADE: a user's own equipment goes with the user (equipment.py); the link must not
    # block that.
    equipment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("equipment.id", ondelete="CASCADE"), index=True
    )
    added_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class UserExerciseMap(UUIDPk, Base):
    """An exercise a user has added to their own list (their custom or adopted exercises).

    The seed draws it in both the User and the Exercise sections; it lives here, once.
    """

    __tablename__ = "user_exercise_map"
    __table_args__ = (UniqueConstraint("user_id", "exercise_id"),)

    # First column of the unique constraint: no separate index. The mapping is the user's.
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    exercise_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exercise.id", ondelete="CASCADE"), index=True
    )
    mapped_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
