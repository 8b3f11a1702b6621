"""Goals: what a user (or their coach) aims for, broken into subgoals, each measured by
metric targets ("bench 100 kg", "3 sessions a week").

Aggregate root GOAL -> SUBGOAL -> METRIC_GOAL; deleting a goal deletes the rest.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import (
    CheckConstraint,
    Date,
    Double,
    ForeignKey,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.models.base import Base, Timestamps, UUIDPk, str_enum


class GoalStatus(enum.StrEnum):
    """Life cycle of a goal."""

    ABANDONED = "ABANDONED"
    ACHIEVED = "ACHIEVED"
    ACTIVE = "ACTIVE"


class GoalPeriod(enum.StrEnum):
    """Whether a target is reached once (TOTAL) or must be met every week (PER_WEEK)."""

    PER_WEEK = "PER_WEEK"
    TOTAL = "TOTAL"


class Goal(UUIDPk, Timestamps, Base):
    """A user's goal, possibly set for them by a coach (``assigned_by``)."""

    __tablename__ = "goal"
    __table_args__ = (
        # achieved_at is set exactly when the goal is ACHIEVED.
        CheckConstraint(
            "(status = 'ACHIEVED') = (achieved_at IS NOT NULL)", name="achieved_at_status"
        ),
    )

    # The seed puts user_id in the PK; the UUID alone identifies a goal, the owner is an
    # ordinary (indexed) FK. A user's goals go with the user.
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    # The coach who set it; the goal survives the coach's account.
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    target_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[GoalStatus] = mapped_column(
        str_enum(GoalStatus, "goal_status"),
        default=GoalStatus.ACTIVE,
        server_default=GoalStatus.ACTIVE.value,
    )
    achieved_at: Mapped[dt.datetime | None]
    visibility_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("visibility.id", ondelete="RESTRICT"), index=True
    )

    subgoals: Mapped[list[Subgoal]] = relationship(
        "Subgoal", back_populates="goal", cascade="all, delete-orphan", passive_deletes=True
    )


class Subgoal(UUIDPk, Base):
    """A step of a goal, optionally about one exercise."""

    __tablename__ = "subgoal"

    # Seed PK (id, goal_id): id alone is the key; goal_id is the parent FK.
    goal_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("goal.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str | None] = mapped_column(String(120))
    # RESTRICT: a goal must not silently lose its target; exercises are archived, not deleted.
    exercise_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("exercise.id", ondelete="RESTRICT"), index=True
    )
    notes: Mapped[str | None] = mapped_column(Text)

    goal: Mapped[Goal] = relationship("Goal", back_populates="subgoals")
    metric_goals: Mapped[list[MetricGoal]] = relationship(
        "MetricGoal",
        back_populates="subgoal",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class MetricGoal(Base):
    """A numeric target on one metric for a subgoal, with progress (``current_value``)."""

    __tablename__ = "metric_goal"
    __table_args__ = (CheckConstraint("target_value >= 0", name="target_value_non_negative"),)

    subgoal_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subgoal.id", ondelete="CASCADE"), primary_key=True
    )
    # Second PK column: needs its own index.
    metric_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("metric.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    target_value: Mapped[float] = mapped_column(Double)
    current_value: Mapped[float | None] = mapped_column(Double)
    is_required: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # Unit the target is expressed in (100 kg vs 220 lb); NULL for unitless metrics.
    unit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("measurement_unit.id", ondelete="RESTRICT"), index=True
    )
    target_date: Mapped[dt.date | None] = mapped_column(Date)
    period: Mapped[GoalPeriod] = mapped_column(
        str_enum(GoalPeriod, "goal_period"),
        default=GoalPeriod.TOTAL,
        server_default=GoalPeriod.TOTAL.value,
    )

    subgoal: Mapped[Subgoal] = relationship("Subgoal", back_populates="metric_goals")
