"""Equipment: barbells, rings, bands … that exercises need and a user may own.

Catalogue rows (owner_id NULL, with a ``code``) ship with the app; users and coaches may
add their own. Classified by CATEGORY/TAG rows of type EQUIPMENT and illustrated by MEDIA.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, Timestamps, UUIDPk
from domain.models.lookup import catalogue_code_check, i18n_column


class Equipment(UUIDPk, Timestamps, Base):
    """A piece of equipment, from the catalogue or owned by a user."""

    __tablename__ = "equipment"
    __table_args__ = (
        # Seed: name UNIQUE worldwide. Per owner instead, so two users can both own
        # "My rings"; NULLS NOT DISTINCT keeps catalogue names (owner NULL) unique too.
        UniqueConstraint("owner_id", "name", postgresql_nulls_not_distinct=True),
        # Catalogue rows are addressed by code from reference data and code.
        CheckConstraint("owner_id IS NOT NULL OR code IS NOT NULL", name="catalogue_has_code"),
        catalogue_code_check(),
    )

    # Stable key of catalogue equipment (barbell, gymnastic_rings); optional for user rows.
    code: Mapped[str | None] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_i18n: Mapped[dict[str, str]] = i18n_column()
    description: Mapped[str | None] = mapped_column(Text)
    description_i18n: Mapped[dict[str, str]] = i18n_column()
    # NULL = catalogue. First column of the unique constraint above: no separate index.
    # A user's own equipment goes with the user.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE")
    )
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    visibility_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("visibility.id", ondelete="RESTRICT"), index=True
    )


class EquipmentCategory(Base):
    """Categories of a piece of equipment (CATEGORY rows of type EQUIPMENT)."""

    __tablename__ = "equipment_category"

    equipment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("equipment.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class EquipmentTag(Base):
    """Tags of a piece of equipment (TAG rows of type EQUIPMENT)."""

    __tablename__ = "equipment_tag"

    equipment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("equipment.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tag.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class EquipmentMedia(UUIDPk, Base):
    """A media illustrating a piece of equipment."""

    __tablename__ = "equipment_media"
    # The seed has a surrogate id but nothing stopping the same media being linked twice.
    __table_args__ = (UniqueConstraint("equipment_id", "media_id"),)

    # First column of the unique constraint: no separate index.
    equipment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("equipment.id", ondelete="CASCADE"))
    media_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), index=True
    )
    added_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
