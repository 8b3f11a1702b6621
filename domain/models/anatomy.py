"""Anatomy catalogue: muscles (and other tissues) that exercises target, with the
vocabularies that classify them (zone, tissue type, level of naming detail).

Read-mostly reference data shipped with the app; exercises point at MUSCLE rows.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, UUIDPk
from domain.models.lookup import LookupColumns, catalogue_code_check, code_format_check, i18n_column


class MuscleZone(UUIDPk, LookupColumns, Base):
    """Body zone: ANKLE, WRIST, HIPS, GLUTES …"""

    __tablename__ = "muscle_zone"
    __table_args__ = (UniqueConstraint("code"), code_format_check())


class TissueType(UUIDPk, LookupColumns, Base):
    """MUSCLE, TENDON, LIGAMENT, BONE, FASCIA."""

    __tablename__ = "tissue_type"
    __table_args__ = (UniqueConstraint("code"), code_format_check())


class MuscleLevel(UUIDPk, LookupColumns, Base):
    """How specialised a name is: MEDICAL, COMMON, UNCOMMON, ADVANCED (which to show whom)."""

    __tablename__ = "muscle_level"
    __table_args__ = (UniqueConstraint("code"), code_format_check())


class Muscle(UUIDPk, Base):
    """One muscle or tissue, e.g. biceps_brachii / "Biceps brachii" / "biceps"."""

    __tablename__ = "muscle"
    __table_args__ = (catalogue_code_check(),)

    # Stable key for reference data and code (longer than lookups: anatomical names).
    code: Mapped[str] = mapped_column(String(80), unique=True)
    # English anatomical name, canonical.
    name: Mapped[str] = mapped_column(String(100), unique=True)
    name_i18n: Mapped[dict[str, str]] = i18n_column()
    latin: Mapped[str | None] = mapped_column(String(150), unique=True)
    # Gym name ("quads", "lats"). NOT unique: several muscles share one (the four
    # quadriceps heads are all "quads").
    conventional_name: Mapped[str | None] = mapped_column(String(100))
    conventional_name_i18n: Mapped[dict[str, str]] = i18n_column()
    zone_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("muscle_zone.id", ondelete="RESTRICT"), index=True
    )
    tissue_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tissue_type.id", ondelete="RESTRICT"), index=True
    )
    level_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("muscle_level.id", ondelete="RESTRICT"), index=True
    )
