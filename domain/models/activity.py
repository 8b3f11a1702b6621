"""Activity: the feed and analytics record of what users did (completed a workout, hit a PR,
reached a goal, favorited a program …), with its context, streaks, usage sessions and digests.

How ACTIVITY relates to the training log: the performed sets live in LOGGED_SET (typed columns,
one row per set, under a TRAINING_SESSION). ACTIVITY never stores a set; it is the one feed /
analytics row per event, e.g. WORKOUT_COMPLETED pointing at the session through
``training_session_id`` (and at the planned workout through the polymorphic resource, when
there was one), with a few summary figures (VOLUME_LOAD, TOTAL_REPS, DURATION …) as
ACTIVITY_METRIC rows. Feeds, digests and streaks read ACTIVITY; progress charts read LOGGED_SET.

Seed sections: "Core Activity Definition & Classification", "Activity Context & Associations",
"Activity History & Analytics"; plus USER_ACTIVITY of the User section (folded, see the
decisions). ACTIVITY_SESSION is an app-usage session (a burst of use of the bot), not a
training session.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    CheckConstraint,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, Timestamps, UUIDPk, str_enum
from domain.models.lookup import LookupColumns, code_format_check, i18n_column


def _flag(default: bool) -> Mapped[bool]:
    return mapped_column(default=default, server_default=text("true" if default else "false"))


class ActivityResourceType(enum.StrEnum):
    """What an activity is about (``activity.resource_type``). A training session is not in the
    list: it has its own FK column, ``activity.training_session_id``."""

    EQUIPMENT = "EQUIPMENT"
    EXERCISE = "EXERCISE"
    GOAL = "GOAL"
    INSTITUTION = "INSTITUTION"
    MEDIA = "MEDIA"
    PROGRAM = "PROGRAM"
    RATING = "RATING"
    USER = "USER"
    WORKOUT = "WORKOUT"


class ParticipationType(enum.StrEnum):
    """How another person takes part in an activity (the actor is ``activity.user_id``)."""

    ACTOR = "ACTOR"  # e.g. a training partner who did the workout too
    ASSIGNEE = "ASSIGNEE"  # the person the activity asks something of
    BENEFICIARY = "BENEFICIARY"  # e.g. the client of a coach's action
    OBSERVER = "OBSERVER"  # e.g. the coach who follows the athlete


class InvolvementType(enum.StrEnum):
    """Why an institution is attached to an activity."""

    AUTHORITY = "AUTHORITY"  # the institution assigned or governs it
    CONTEXT = "CONTEXT"  # it happened as part of the institution's programme
    LOCATION = "LOCATION"  # it happened on the institution's premises


class DigestPeriod(enum.StrEnum):
    DAILY = "DAILY"
    MONTHLY = "MONTHLY"
    WEEKLY = "WEEKLY"


# --------------------------------------------------------------------------------------------
# Core activity and classification
# --------------------------------------------------------------------------------------------


class ActivityType(UUIDPk, LookupColumns, Base):
    """A kind of activity (WORKOUT_COMPLETED, PR_ACHIEVED …): a lookup row with a stable code.

    The seed's ``name`` ENUM is our ``code``; its ``display_name`` is our ``name`` (+ i18n).
    """

    __tablename__ = "activity_type"
    __table_args__ = (
        UniqueConstraint("code"),
        code_format_check(),
    )

    # Shown in the feed and in digests: translated like every reference text.
    description_i18n: Mapped[dict[str, str]] = i18n_column()
    # Counted by digests, streaks and analytics (WORKOUT_STARTED is not: only completion counts).
    is_trackable: Mapped[bool] = _flag(True)
    # record_activity refuses an activity of this type without a resource.
    requires_resource: Mapped[bool] = _flag(False)


class Activity(UUIDPk, Timestamps, Base):
    """One event in a user's feed, about at most one resource and at most one training session."""

    __tablename__ = "activity"
    __table_args__ = (
        # A polymorphic reference is whole or absent.
        CheckConstraint(
            "(resource_type IS NULL) = (resource_id IS NULL)", name="resource_complete"
        ),
        # The feed ("my recent activity"), newest first; also serves the user_id FK.
        Index("ix_activity_user_occurred", "user_id", sa.desc("occurred_at")),
        # Streaks, digests per type and "previous value of this metric for this kind of activity".
        Index(
            "ix_activity_user_type_occurred",
            "user_id",
            "activity_type_id",
            sa.desc("occurred_at"),
        ),
        # "Activity about this workout/program …" (no FK: the reference is polymorphic).
        Index(
            "ix_activity_resource",
            "resource_type",
            "resource_id",
            postgresql_where=text("resource_id IS NOT NULL"),
        ),
    )

    # An activity is part of its user's history: it goes with the user.
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    activity_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("activity_type.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    resource_type: Mapped[ActivityResourceType | None] = mapped_column(
        str_enum(ActivityResourceType, "activity_resource_type")
    )
    resource_id: Mapped[uuid.UUID | None]
    # The logged session this activity summarises (its sets are in logged_set). CASCADE: a
    # session deleted as mislogged takes its feed entries with it.
    training_session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("training_session.id", ondelete="CASCADE"), index=True
    )
    # Seed ``metadata``: the name is reserved by SQLAlchemy's declarative base.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    occurred_at: Mapped[dt.datetime]
    is_system_generated: Mapped[bool] = _flag(False)
    visibility_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("visibility.id", ondelete="RESTRICT"), index=True
    )


class ActivityCategory(Base):
    __tablename__ = "activity_category"

    activity_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class ActivityTag(Base):
    __tablename__ = "activity_tag"

    activity_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tag.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


# --------------------------------------------------------------------------------------------
# Context and associations
# --------------------------------------------------------------------------------------------


class ActivityParticipant(UUIDPk, Base):
    """Another person involved in an activity (the coach observing, a training partner …)."""

    __tablename__ = "activity_participant"
    __table_args__ = (UniqueConstraint("activity_id", "user_id", "participation_type"),)

    activity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    participation_type: Mapped[ParticipationType] = mapped_column(
        str_enum(ParticipationType, "participation_type")
    )
    joined_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    notes: Mapped[str | None] = mapped_column(Text)


class ActivityInstitution(Base):
    __tablename__ = "activity_institution"

    activity_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True
    )
    # CASCADE: the link goes with the institution; the activity stays in its user's history.
    institution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    involvement_type: Mapped[InvolvementType] = mapped_column(
        str_enum(InvolvementType, "involvement_type")
    )


class ActivityMetric(UUIDPk, Base):
    """A summary figure of an activity (VOLUME_LOAD of a session, ESTIMATED_1RM of a PR …).

    Not a logged set: sets are typed rows in logged_set (see the module docstring).
    """

    __tablename__ = "activity_metric"
    # One value per metric per activity: "the" volume of a session.
    __table_args__ = (UniqueConstraint("activity_id", "metric_id"),)

    activity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    metric_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("metric.id", ondelete="RESTRICT"), index=True
    )
    value: Mapped[float] = mapped_column(Double)
    # The same metric on the user's previous activity of the same type, for "+5 kg" messages.
    previous_value: Mapped[float | None] = mapped_column(Double)
    measured_at: Mapped[dt.datetime]


class ActivityStreak(UUIDPk, Timestamps, Base):
    """A user's run of consecutive active days for one activity type (e.g. WORKOUT_COMPLETED).

    Computed by a periodic job, in the user's timezone at computation time (``timezone``), so a
    later change of timezone does not silently re-cut the days already counted. Whether the
    streak is still alive is derived (last_active_date >= yesterday in ``timezone``), not stored.
    """

    __tablename__ = "activity_streak"
    __table_args__ = (
        UniqueConstraint("user_id", "activity_type_id"),
        CheckConstraint("current_length >= 0", name="current_length_min"),
        CheckConstraint("longest_length >= current_length", name="longest_at_least_current"),
        CheckConstraint(
            "started_on IS NULL OR last_active_date IS NULL OR started_on <= last_active_date",
            name="started_before_last_active",
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    activity_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("activity_type.id", ondelete="RESTRICT"), index=True
    )
    # In days, counted in ``timezone``.
    current_length: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    longest_length: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_active_date: Mapped[dt.date | None] = mapped_column(Date)
    started_on: Mapped[dt.date | None] = mapped_column(Date)  # first day of the current streak
    # IANA name (Europe/Paris) the dates above were computed in.
    timezone: Mapped[str] = mapped_column(String(64), server_default=text("'UTC'"))


# --------------------------------------------------------------------------------------------
# History and analytics
# --------------------------------------------------------------------------------------------


class ActivitySession(UUIDPk, Base):
    """A burst of use of the bot (not a training session: that is training_session)."""

    __tablename__ = "activity_session"
    __table_args__ = (
        CheckConstraint(
            "session_end IS NULL OR session_end >= session_start", name="end_after_start"
        ),
        CheckConstraint("activity_count >= 0", name="activity_count_min"),
        Index("ix_activity_session_user_start", "user_id", sa.desc("session_start")),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    session_start: Mapped[dt.datetime]
    session_end: Mapped[dt.datetime | None]  # NULL while the session is open
    activity_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    session_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class ActivitySessionActivity(Base):
    __tablename__ = "activity_session_activity"
    __table_args__ = (
        UniqueConstraint("activity_session_id", "sequence_order"),
        CheckConstraint("sequence_order >= 0", name="sequence_order_min"),
    )

    activity_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("activity_session.id", ondelete="CASCADE"), primary_key=True
    )
    activity_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    sequence_order: Mapped[int] = mapped_column(Integer)


class ActivityDigest(UUIDPk, Base):
    """A user's activity summed up over a day, week or month (recomputable, one per period)."""

    __tablename__ = "activity_digest"
    __table_args__ = (
        # The rollup upserts on this key, so recomputing a period replaces its row.
        UniqueConstraint("user_id", "digest_period", "digest_date"),
        CheckConstraint("total_activities >= 0", name="total_activities_min"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    # First day of the period (the Monday of a week, the 1st of a month).
    digest_date: Mapped[dt.date] = mapped_column(Date)
    digest_period: Mapped[DigestPeriod] = mapped_column(str_enum(DigestPeriod, "digest_period"))
    total_activities: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Counts by activity type code: {"WORKOUT_COMPLETED": 3, "PR_ACHIEVED": 1}.
    activity_summary: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    achievements: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    calculated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class ActivityNotification(UUIDPk, Base):
    """A message about an activity for someone (the coach told of a client's PR …)."""

    __tablename__ = "activity_notification"
    __table_args__ = (
        CheckConstraint("is_read = (read_at IS NOT NULL)", name="read_at_when_read"),
        # Unread badge / list of one recipient.
        Index("ix_activity_notification_recipient_read", "recipient_id", "is_read"),
    )

    activity_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("activity.id", ondelete="CASCADE"), index=True
    )
    # First column of ix_activity_notification_recipient_read: no separate index.
    recipient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    notification_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_type.id", ondelete="RESTRICT"), index=True
    )
    message: Mapped[str] = mapped_column(Text)
    is_read: Mapped[bool] = _flag(False)
    sent_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    read_at: Mapped[dt.datetime | None]
