"""Every table of the data model; importing this package registers them all on Base.metadata."""

from domain.models import (  # noqa: F401  (imported for their tables)
    meta,
)
from domain.models.base import Base

__all__ = ["Base"]
