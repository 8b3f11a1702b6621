"""Ratings and reviews: a person's 1-5 score (and optional review) of a program, workout,
exercise, piece of equipment, institution or coach, with per-criterion scores, helpfulness
votes, abuse reports, moderation, featured reviews and pre-computed summaries and daily trends.

A rating points at its resource polymorphically (``resource_type`` + ``resource_id``, no FK):
one table serves every kind of rated thing. Each user has at most one rating per resource;
rating again replaces it. Seed sections: "Core Rating Definition & Classification", "Rating
Criteria & Interactions", "Rating Analytics & Aggregation". Every deviation from the seed is a
row in docs/schema-decisions.md (Rating).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import (
    CheckConstraint,
    Date,
    Double,
    Enum,
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
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.models.base import Base, Timestamps, UUIDPk, str_enum
from domain.models.lookup import LookupColumns, code_format_check, i18n_column


class RatedResourceType(enum.StrEnum):
    """A kind of thing that can be rated. Code branches on it (existence and "verified" checks),
    so it is a closed set; COACH ratings point at the coach's ``app_user`` row."""

    COACH = "COACH"
    EQUIPMENT = "EQUIPMENT"
    EXERCISE = "EXERCISE"
    INSTITUTION = "INSTITUTION"
    PROGRAM = "PROGRAM"
    WORKOUT = "WORKOUT"


class RatingStatusCode(enum.StrEnum):
    """Codes of the RATING_STATUS rows code relies on (the rows are reference data)."""

    HIDDEN = "HIDDEN"  # taken down after publication
    PENDING = "PENDING"  # waiting for a moderator (new or changed review text)
    PUBLISHED = "PUBLISHED"  # shown and counted in summaries
    REJECTED = "REJECTED"  # never published


class ReportStatusCode(enum.StrEnum):
    """Codes of the REPORT_STATUS rows code relies on."""

    DISMISSED = "DISMISSED"
    OPEN = "OPEN"
    UPHELD = "UPHELD"


def _resource_type() -> Enum:
    """VARCHAR + CHECK (no PostgreSQL enum type), a new object per column."""
    return str_enum(RatedResourceType, "rated_resource_type")


def _score_check(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} BETWEEN 1 AND 5", name=f"{column}_range")


class _Lookup(UUIDPk, LookupColumns):
    """A vocabulary of this module: one row per worldwide-unique upper-snake-case code."""

    code: Mapped[str] = mapped_column(String(50), unique=True)


# --------------------------------------------------------------------------------------------
# Core rating and classification
# --------------------------------------------------------------------------------------------


class RatingStatus(_Lookup, Base):
    """Moderation state of a rating: PENDING, PUBLISHED, HIDDEN, REJECTED. Only PUBLISHED
    ratings are shown and counted in summaries."""

    __tablename__ = "rating_status"
    __table_args__ = (code_format_check(),)


class Rating(UUIDPk, Timestamps, Base):
    """One user's score (1-5) of one resource, with an optional written review."""

    __tablename__ = "rating"
    __table_args__ = (
        _score_check("rating_value"),
        # One rating per user and resource: rating again replaces it (ON CONFLICT on this key).
        # First column user_id: serves the FK and "my ratings".
        UniqueConstraint("user_id", "resource_type", "resource_id"),
        # "Ratings of this resource, newest first" (the resource's review list and the rollup).
        Index("ix_rating_resource", "resource_type", "resource_id", "rated_at"),
    )

    # CASCADE: reviews are personal data and go with their author.
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    resource_type: Mapped[RatedResourceType] = mapped_column(_resource_type())
    # Polymorphic: program.id, workout.id, exercise.id, equipment.id, institution.id or, for
    # COACH, app_user.id. No FK; the service checks existence when rating.
    resource_id: Mapped[uuid.UUID]
    rating_value: Mapped[int] = mapped_column(SmallInteger)
    review_text: Mapped[str | None] = mapped_column(Text)
    # The rater actually used the resource (followed the program, logged the exercise …);
    # computed by SQL from the training log, see domain.services.ratings.
    is_verified: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    rating_status_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rating_status.id", ondelete="RESTRICT"), index=True
    )
    # When the score or review was last given; moderation does not move it (updated_at does).
    # Daily trends group by it.
    rated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    moderated_at: Mapped[dt.datetime | None]
    moderated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )

    criteria: Mapped[list[RatingCriteria]] = relationship(
        back_populates="rating", cascade="all, delete-orphan", passive_deletes=True
    )


class RatingCategory(Base):
    """A category of a rating (join row)."""

    __tablename__ = "rating_category"

    rating_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rating.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class RatingTag(Base):
    """A tag of a rating (join row)."""

    __tablename__ = "rating_tag"

    rating_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rating.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tag.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


# --------------------------------------------------------------------------------------------
# Criteria and interactions
# --------------------------------------------------------------------------------------------


class CriteriaType(_Lookup, Base):
    """An aspect a rater may score separately (CLARITY, EFFECTIVENESS, DIFFICULTY_FIT …)."""

    __tablename__ = "criteria_type"
    __table_args__ = (
        code_format_check(),
        # Seed: one ENUM value (WORKOUT, EXERCISE, PROGRAM or ALL); a list can say "programs and
        # workouts but not coaches". Non-empty, and only known resource types.
        CheckConstraint("cardinality(applicable_to) >= 1", name="applicable_to_not_empty"),
        CheckConstraint(
            "applicable_to <@ ARRAY["
            + ", ".join(f"'{member.value}'" for member in RatedResourceType)
            + "]::varchar[]",
            name="applicable_to_known",
        ),
    )

    # Shown next to the criterion when rating ("Were the instructions easy to follow?").
    description_i18n: Mapped[dict[str, str]] = i18n_column()
    applicable_to: Mapped[list[str]] = mapped_column(ARRAY(String(30)))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))


class RatingCriteria(UUIDPk, Base):
    """The score (1-5) a rating gives one criterion."""

    __tablename__ = "rating_criteria"
    __table_args__ = (
        _score_check("score"),
        # One score per criterion and rating. First column: serves the rating_id FK.
        UniqueConstraint("rating_id", "criteria_type_id"),
    )

    rating_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating.id", ondelete="CASCADE"))
    criteria_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("criteria_type.id", ondelete="RESTRICT"), index=True
    )
    score: Mapped[int] = mapped_column(SmallInteger)
    notes: Mapped[str | None] = mapped_column(Text)

    rating: Mapped[Rating] = relationship(back_populates="criteria")


class RatingHelpful(UUIDPk, Timestamps, Base):
    """One user's "helpful / not helpful" vote on a review; voting again changes the vote."""

    __tablename__ = "rating_helpful"
    # One vote per user and rating. First column: serves the rating_id FK.
    __table_args__ = (UniqueConstraint("rating_id", "user_id"),)

    rating_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rating.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    is_helpful: Mapped[bool]


class ReportReason(_Lookup, Base):
    """Why a review is reported: SPAM, OFFENSIVE, OFF_TOPIC, FAKE, OTHER."""

    __tablename__ = "report_reason"
    __table_args__ = (code_format_check(),)

    # Shown in the list a reporter picks from.
    description_i18n: Mapped[dict[str, str]] = i18n_column()


class ReportStatus(_Lookup, Base):
    """Where a report stands: OPEN, UPHELD (the review was hidden/rejected), DISMISSED."""

    __tablename__ = "report_status"
    __table_args__ = (code_format_check(),)


class RatingReport(UUIDPk, Base):
    """A user's report of an abusive or fake review, for moderators."""

    __tablename__ = "rating_report"
    __table_args__ = (
        CheckConstraint(
            "(resolved_at IS NULL) OR (resolved_at >= reported_at)", name="resolved_after_reported"
        ),
        # One OPEN report per user and rating (open = not resolved yet); after a decision the
        # same user may report again. Partial, so rating_id keeps its own index below.
        Index(
            "uq_rating_report_open_rating_reporter",
            "rating_id",
            "reported_by",
            unique=True,
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    rating_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rating.id", ondelete="CASCADE"), index=True
    )
    reported_by: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    report_reason_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("report_reason.id", ondelete="RESTRICT"), index=True
    )
    additional_details: Mapped[str | None] = mapped_column(Text)
    report_status_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("report_status.id", ondelete="RESTRICT"), index=True
    )
    reported_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    # Set together with a final status (UPHELD / DISMISSED) by the moderation service.
    resolved_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )


# --------------------------------------------------------------------------------------------
# Analytics and aggregation
# --------------------------------------------------------------------------------------------


class RatingSummary(Base):
    """Pre-computed figures of one resource's PUBLISHED ratings (rebuilt by the rollup)."""

    __tablename__ = "rating_summary"
    __table_args__ = (
        CheckConstraint("average_rating BETWEEN 1 AND 5", name="average_rating_range"),
        CheckConstraint("verified_average BETWEEN 1 AND 5", name="verified_average_range"),
        CheckConstraint(
            "total_ratings = one_star_count + two_star_count + three_star_count"
            " + four_star_count + five_star_count",
            name="total_is_sum_of_stars",
        ),
        CheckConstraint(
            "verified_ratings_count BETWEEN 0 AND total_ratings", name="verified_count_range"
        ),
        CheckConstraint(
            "(verified_ratings_count = 0) = (verified_average IS NULL)",
            name="verified_average_when_verified",
        ),
    )

    # Seed order is (resource_id, resource_type); type first so "best programs" can range over
    # the key's prefix.
    resource_type: Mapped[RatedResourceType] = mapped_column(_resource_type(), primary_key=True)
    resource_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    average_rating: Mapped[float] = mapped_column(Double)
    total_ratings: Mapped[int] = mapped_column(Integer)
    five_star_count: Mapped[int] = mapped_column(Integer)
    four_star_count: Mapped[int] = mapped_column(Integer)
    three_star_count: Mapped[int] = mapped_column(Integer)
    two_star_count: Mapped[int] = mapped_column(Integer)
    one_star_count: Mapped[int] = mapped_column(Integer)
    verified_ratings_count: Mapped[int] = mapped_column(Integer)
    # NULL while no rating is verified (seed: NOT NULL; 0 would read as a terrible score).
    verified_average: Mapped[float | None] = mapped_column(Double)
    last_updated: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class RatingTrend(UUIDPk, Base):
    """One resource's PUBLISHED ratings given on one day, and how that day compares."""

    __tablename__ = "rating_trend"
    __table_args__ = (
        CheckConstraint("daily_average BETWEEN 1 AND 5", name="daily_average_range"),
        CheckConstraint("daily_rating_count >= 1", name="daily_rating_count_min"),
        # One row per resource and day (the rollup's ON CONFLICT key).
        UniqueConstraint("resource_type", "resource_id", "trend_date"),
    )

    resource_type: Mapped[RatedResourceType] = mapped_column(_resource_type())
    resource_id: Mapped[uuid.UUID]
    trend_date: Mapped[dt.date] = mapped_column(Date)
    daily_average: Mapped[float] = mapped_column(Double)
    daily_rating_count: Mapped[int] = mapped_column(Integer)
    # daily_average minus the average of the resource's ratings given before that day
    # (0 when there were none): > 0 the day pulled the score up, < 0 down.
    trend_direction: Mapped[float] = mapped_column(Double)
    calculated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class FeaturedRating(UUIDPk, Base):
    """A review highlighted by an admin on its resource's page, until it expires."""

    __tablename__ = "featured_rating"
    __table_args__ = (
        CheckConstraint(
            "expires_at IS NULL OR expires_at > featured_at", name="expires_after_featured"
        ),
        # A review is featured at most once at a time.
        Index(
            "uq_featured_rating_active_rating",
            "rating_id",
            unique=True,
            postgresql_where=text("is_active"),
        ),
    )

    # index=True although the partial unique index starts with it: that one is partial.
    rating_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rating.id", ondelete="CASCADE"), index=True
    )
    # Seed NOT NULL; SET NULL so erasing the admin keeps the feature.
    featured_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    feature_reason: Mapped[str | None] = mapped_column(Text)
    display_order: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    featured_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[dt.datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
