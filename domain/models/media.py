"""Media: pictures, videos, audio and documents attached to exercises, workouts,
programs and equipment. A file lives either at a URL or in Telegram (file_id).

Other aggregates link to MEDIA through their own join tables (EXERCISE_MEDIA …).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, Timestamps, UUIDPk
from domain.models.lookup import LookupColumns, code_format_check


class MediaType(UUIDPk, LookupColumns, Base):
    """IMAGE, VIDEO, AUDIO, DOCUMENT."""

    __tablename__ = "media_type"
    __table_args__ = (UniqueConstraint("code"), code_format_check())


class Media(UUIDPk, Timestamps, Base):
    """One stored file and where to fetch it."""

    __tablename__ = "media"
    __table_args__ = (
        # A Telegram upload has a file_id and no URL; an external file has a URL.
        CheckConstraint("url IS NOT NULL OR telegram_file_id IS NOT NULL", name="has_location"),
        CheckConstraint("size_bytes IS NULL OR size_bytes >= 0", name="size_bytes_non_negative"),
    )

    # NOT NULL as in the seed; for Telegram photos (no file name) the service synthesises one.
    filename: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text, unique=True)
    # file_id may change between bots/over time, so it is not unique; file_unique_id is
    # Telegram's stable identity of the file and is what deduplicates uploads.
    telegram_file_id: Mapped[str | None] = mapped_column(String(255))
    telegram_file_unique_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    media_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media_type.id", ondelete="RESTRICT"), index=True
    )
    # NULL = system/catalogue media. A user's uploads go with the user (erasure).
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    mime_type: Mapped[str | None] = mapped_column(String(255))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    visibility_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("visibility.id", ondelete="RESTRICT"), index=True
    )


class MediaTag(Base):
    """Tags on a media (TAG rows of type MEDIA)."""

    __tablename__ = "media_tag"

    media_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tag.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class MediaMetadata(Base):
    """Free-form technical metadata (width, height, duration, codec, EXIF …)."""

    __tablename__ = "media_metadata"

    media_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), primary_key=True
    )
    # ``metadata`` is reserved on declarative classes (Base.metadata is the MetaData), so the
    # attribute is ``metadata_``; the column keeps the seed's name "metadata".
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
