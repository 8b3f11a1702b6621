"""Every table of the data model; importing this package registers them all on Base.metadata."""

from domain.models import (  # noqa: F401  (imported for their tables)
    access,
    anatomy,
    enums,
    equipment,
    exercise,
    goal,
    institution,
    lookup,
    media,
    meta,
    program,
    training_log,
    user,
    workout,
)
from domain.models.base import Base

__all__ = ["Base"]
