"""Declarative base, naming convention and the mixins every table shares."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any, ClassVar

from sqlalchemy import DateTime, Enum, MetaData, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names: Alembic can diff and drop them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every datetime is timestamptz (stored UTC); dicts are JSONB.
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
    }


class UUIDPk:
    """UUID primary key, generated client-side so the id is known before flush."""

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, default=uuid.uuid4, server_default=text("gen_random_uuid()")
    )


class CreatedAt:
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Timestamps(CreatedAt):
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


def str_enum(enum_cls: type[enum.StrEnum], name: str, length: int = 30) -> Enum:
    """A closed set stored as VARCHAR + CHECK (no PostgreSQL enum type to migrate)."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )


# Indexes on an arithmetic expression: PostgreSQL reflects the expression rewritten (casts,
# parentheses), so autogenerate would always see it changed. Kept out of the comparison; a
# test checks instead that the queries they serve use them (tests/integration/test_quick_log.py).
EXPRESSION_INDEXES_NOT_COMPARED = frozenset({"ix_logged_set_best_e1rm"})


def compared_by_autogenerate(obj: object, name: str | None, type_: str, *_: object) -> bool:
    """Alembic's include_object: everything but EXPRESSION_INDEXES_NOT_COMPARED."""
    return not (type_ == "index" and name in EXPRESSION_INDEXES_NOT_COMPARED)
