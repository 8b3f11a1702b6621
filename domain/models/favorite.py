"""Favorites: a user's bookmarks of workouts, exercises, programs, equipment, media and
institutions; ordered personal collections of them, shareable by an unguessable link; and the
usage log and daily trend the "popular this week" lists are built from.

A favorite is a personal bookmark: it has no visibility of its own. Who else sees a favorite is
decided by sharing a collection (FAVORITE_SHARE). Removing a favorite deletes its row; the usage
log keeps the history (it names the resource itself, so it outlives the favorite).

Seed sections: "Core Favorite Definition & Classification", "Favorite Collections & Sharing",
"Favorite Analytics & History"; plus USER_FAVORITE of the User section (folded, see the
decisions).
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
from domain.models.enums import ExportFormat
from domain.models.user import LINK_TOKEN_LENGTH


def _flag(default: bool) -> Mapped[bool]:
    return mapped_column(default=default, server_default=text("true" if default else "false"))


class FavoriteResourceType(enum.StrEnum):
    """What can be favorited (the seed's list)."""

    EQUIPMENT = "EQUIPMENT"
    EXERCISE = "EXERCISE"
    INSTITUTION = "INSTITUTION"
    MEDIA = "MEDIA"
    PROGRAM = "PROGRAM"
    WORKOUT = "WORKOUT"


class FavoriteAction(enum.StrEnum):
    """What a usage-log row records. ADDED/REMOVED feed the daily trend."""

    ADDED = "ADDED"
    COPIED = "COPIED"
    MODIFIED = "MODIFIED"
    REMOVED = "REMOVED"
    SHARED = "SHARED"
    USED = "USED"
    VIEWED = "VIEWED"


class ExportScope(enum.StrEnum):
    ALL_FAVORITES = "ALL_FAVORITES"
    COLLECTION = "COLLECTION"
    FILTERED = "FILTERED"


# --------------------------------------------------------------------------------------------
# Core favorite and classification
# --------------------------------------------------------------------------------------------


class Favorite(UUIDPk, Base):
    """One user's bookmark of one resource (at most one per user and resource)."""

    __tablename__ = "favorite"
    __table_args__ = (
        # Adding twice is a no-op (INSERT … ON CONFLICT DO NOTHING on this key); also serves
        # "my favorites" and the user_id FK.
        UniqueConstraint("user_id", "resource_type", "resource_id"),
        CheckConstraint("access_count >= 0", name="access_count_min"),
        # "How many people favorited this workout" and the trend rollup.
        Index("ix_favorite_resource", "resource_type", "resource_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    resource_type: Mapped[FavoriteResourceType] = mapped_column(
        str_enum(FavoriteResourceType, "favorite_resource_type")
    )
    # Polymorphic: no FK; the service checks the resource exists when favoriting.
    resource_id: Mapped[uuid.UUID]
    notes: Mapped[str | None] = mapped_column(Text)
    favorited_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    last_accessed_at: Mapped[dt.datetime | None]
    access_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class FavoriteCategory(Base):
    __tablename__ = "favorite_category"

    favorite_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("favorite.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class FavoriteTag(Base):
    __tablename__ = "favorite_tag"

    favorite_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("favorite.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tag.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


# --------------------------------------------------------------------------------------------
# Collections and sharing
# --------------------------------------------------------------------------------------------


class FavoriteCollection(UUIDPk, Timestamps, Base):
    """A named, ordered list of one user's favorites ("Hotel gym", "Rehab knee")."""

    __tablename__ = "favorite_collection"
    # Names are unique per user, not worldwide. First column: serves user_id.
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    # Listed on the owner's profile; reading it from outside still goes through a share link.
    is_public: Mapped[bool] = _flag(False)
    is_system_generated: Mapped[bool] = _flag(False)  # auto-collections ("Recently used")
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class FavoriteCollectionItem(UUIDPk, Base):
    """A favorite at a position of a collection. Positions are dense: 0 … n-1."""

    __tablename__ = "favorite_collection_item"
    __table_args__ = (
        # Checked at COMMIT: a move renumbers several rows one UPDATE at a time, and the
        # positions are only unique again once all of them are written.
        UniqueConstraint("collection_id", "position", deferrable=True, initially="DEFERRED"),
        # A favorite appears once per collection.
        UniqueConstraint("collection_id", "favorite_id"),
        CheckConstraint("position >= 0", name="position_min"),
    )

    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("favorite_collection.id", ondelete="CASCADE")
    )
    # CASCADE: un-favoriting removes the item (the service closes the gap it leaves).
    favorite_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("favorite.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    collection_notes: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class FavoriteShare(UUIDPk, Base):
    """A link that lets others open a collection until it expires or is revoked.

    The token is `secrets.token_urlsafe(32)` (256 random bits), never a sequential or derived
    value: holding it is the permission. ``shared_with`` / ``institution_id`` narrow who may
    open it (NULL = anyone with the link).
    """

    __tablename__ = "favorite_share"
    __table_args__ = (
        CheckConstraint("expires_at > shared_at", name="expires_after_shared"),
        CheckConstraint("is_revoked = (revoked_at IS NOT NULL)", name="revoked_at_when_revoked"),
    )

    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("favorite_collection.id", ondelete="CASCADE"), index=True
    )
    shared_by: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    shared_with: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    # CASCADE, not SET NULL: losing the institution must not widen the share to everyone.
    institution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE"), index=True
    )
    share_message: Mapped[str | None] = mapped_column(Text)
    share_token: Mapped[str] = mapped_column(String(LINK_TOKEN_LENGTH), unique=True)
    shared_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    # Every link dies: a leaked token stops working on its own.
    expires_at: Mapped[dt.datetime]
    is_revoked: Mapped[bool] = _flag(False)
    revoked_at: Mapped[dt.datetime | None]


class FavoriteRecommendation(UUIDPk, Base):
    """A resource suggested to a user as a possible favorite, with a score in [0, 1]."""

    __tablename__ = "favorite_recommendation"
    __table_args__ = (
        # One live suggestion per user and resource; a recomputation updates it. Serves user_id.
        UniqueConstraint("user_id", "resource_type", "resource_id"),
        CheckConstraint("recommendation_score BETWEEN 0 AND 1", name="score_range"),
        CheckConstraint(
            "is_dismissed = (dismissed_at IS NOT NULL)", name="dismissed_at_when_dismissed"
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    resource_type: Mapped[FavoriteResourceType] = mapped_column(
        str_enum(FavoriteResourceType, "favorite_resource_type")
    )
    resource_id: Mapped[uuid.UUID]
    recommendation_score: Mapped[float] = mapped_column(Double)
    recommendation_reason: Mapped[str | None] = mapped_column(Text)
    is_dismissed: Mapped[bool] = _flag(False)
    recommended_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    dismissed_at: Mapped[dt.datetime | None]


# --------------------------------------------------------------------------------------------
# Analytics and history
# --------------------------------------------------------------------------------------------


class FavoriteUsageLog(UUIDPk, Base):
    """What a user did with a favorite, including adding and removing it (append-only)."""

    __tablename__ = "favorite_usage_log"
    __table_args__ = (
        # The daily trend rollup reads one day of ADDED/REMOVED rows.
        Index("ix_favorite_usage_log_action_at", "action_at"),
    )

    # SET NULL: a REMOVED row outlives its favorite; resource_type/resource_id still say what.
    favorite_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("favorite.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    resource_type: Mapped[FavoriteResourceType] = mapped_column(
        str_enum(FavoriteResourceType, "favorite_resource_type")
    )
    resource_id: Mapped[uuid.UUID]
    action_type: Mapped[FavoriteAction] = mapped_column(str_enum(FavoriteAction, "action_type"))
    action_context: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    action_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    # Seed ``session_id`` "for session grouping": the bot-usage session (activity_session).
    activity_session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("activity_session.id", ondelete="SET NULL"), index=True
    )


class FavoriteTrend(UUIDPk, Base):
    """How a resource's favorites moved on one UTC day (rebuilt idempotently by the rollup)."""

    __tablename__ = "favorite_trend"
    __table_args__ = (
        # The rollup's ON CONFLICT key.
        UniqueConstraint("trend_date", "resource_type", "resource_id"),
        # "Trending today": the day's rows by score.
        Index("ix_favorite_trend_date_score", "trend_date", sa.desc("trending_score")),
        CheckConstraint("favorite_count >= 0", name="favorite_count_min"),
        CheckConstraint("daily_favorites_added >= 0", name="daily_favorites_added_min"),
        CheckConstraint("daily_favorites_removed >= 0", name="daily_favorites_removed_min"),
    )

    resource_type: Mapped[FavoriteResourceType] = mapped_column(
        str_enum(FavoriteResourceType, "favorite_resource_type")
    )
    resource_id: Mapped[uuid.UUID]
    trend_date: Mapped[dt.date] = mapped_column(Date)
    # Favorites of the resource that exist and were made before the end of trend_date.
    favorite_count: Mapped[int] = mapped_column(Integer)
    daily_favorites_added: Mapped[int] = mapped_column(Integer)
    daily_favorites_removed: Mapped[int] = mapped_column(Integer)
    trending_score: Mapped[float] = mapped_column(Double)
    calculated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class FavoriteExport(UUIDPk, Base):
    """A user's request to download their favorites (all, one collection, or filtered)."""

    __tablename__ = "favorite_export"
    __table_args__ = (
        CheckConstraint(
            "(export_scope = 'COLLECTION') = (collection_id IS NOT NULL)",
            name="collection_iff_collection_scope",
        ),
        CheckConstraint(
            "is_completed = (completed_at IS NOT NULL)", name="completed_at_when_completed"
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    collection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("favorite_collection.id", ondelete="CASCADE"), index=True
    )
    export_format: Mapped[ExportFormat] = mapped_column(
        str_enum(ExportFormat, "favorite_export_format")
    )
    export_scope: Mapped[ExportScope] = mapped_column(
        str_enum(ExportScope, "favorite_export_scope")
    )
    export_filters: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    export_url: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    completed_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]  # when the download link stops working
    is_completed: Mapped[bool] = _flag(False)
