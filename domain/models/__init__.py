"""Every table of the data model; importing this package registers them all on Base.metadata."""

from domain.models import (  # noqa: F401  (imported for their tables)
    access,
    activity,
    anatomy,
    audit,
    enums,
    equipment,
    error,
    exercise,
    favorite,
    goal,
    institution,
    lookup,
    media,
    meta,
    notification,
    payment,
    program,
    rating,
    setting,
    telegram,
    training_log,
    user,
    workout,
)
from domain.models.base import Base

__all__ = ["Base"]
