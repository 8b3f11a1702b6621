"""The vocabulary of the authorization engine: who asks, what for, on what, and the answer."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Literal


class Action(enum.StrEnum):
    """What an actor wants to do. A permission whose action is MANAGE covers every action."""

    READ = "READ"
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    SHARE = "SHARE"
    ARCHIVE = "ARCHIVE"
    ASSIGN = "ASSIGN"
    EXPORT = "EXPORT"
    INVITE = "INVITE"
    MANAGE = "MANAGE"


class ResourceKind(enum.StrEnum):
    """The row resources the engine decides on (docs/access.md, "Actions and resources")."""

    WORKOUT = "WORKOUT"
    PROGRAM = "PROGRAM"
    EXERCISE = "EXERCISE"
    MEDIA = "MEDIA"
    EQUIPMENT = "EQUIPMENT"
    GOAL = "GOAL"
    TRAINING_LOG = "TRAINING_LOG"
    INSTITUTION = "INSTITUTION"


RESOURCE_TYPES: tuple[str, ...] = tuple(kind.value for kind in ResourceKind)

Effect = Literal["allow", "deny"]


@dataclass(frozen=True)
class Actor:
    """Who asks: a user id, or ``None`` for a guest (someone without an account).

    An id of an unknown or inactive user is treated as a guest by the engine itself.
    """

    user_id: uuid.UUID | None

    @classmethod
    def guest(cls) -> Actor:
        return cls(None)

    @classmethod
    def user(cls, user_id: uuid.UUID) -> Actor:
        return cls(user_id)

    @property
    def is_anonymous(self) -> bool:
        """No account at all (an inactive user is a guest too, but only the database knows)."""
        return self.user_id is None

    def __str__(self) -> str:
        return "guest" if self.user_id is None else str(self.user_id)


@dataclass(frozen=True)
class ResourceRef:
    """One row: its resource type (``WORKOUT`` …) and id."""

    type: str
    id: uuid.UUID

    def __post_init__(self) -> None:
        normalized = str(self.type).upper()
        if normalized not in RESOURCE_TYPES:
            raise ValueError(
                f"unknown resource type {self.type!r} (one of {', '.join(RESOURCE_TYPES)})"
            )
        object.__setattr__(self, "type", normalized)

    @classmethod
    def parse(cls, text: str) -> ResourceRef:
        """``TYPE:UUID`` (e.g. ``WORKOUT:6f1c…``); raises ValueError with a readable message."""
        kind, sep, ident = text.partition(":")
        if not sep:
            raise ValueError(f"expected TYPE:ID, got {text!r}")
        try:
            parsed = uuid.UUID(ident.strip())
        except ValueError:
            raise ValueError(f"not a UUID: {ident.strip()!r}") from None
        return cls(kind.strip(), parsed)

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


@dataclass(frozen=True)
class RuleResult:
    """One rule that took part in a decision: did it match, and what it matched with."""

    name: str
    effect: Effect
    matched: bool
    detail: str | None = None


@dataclass(frozen=True)
class Decision:
    """The answer: allowed or not, why, the rule that decided, and every rule evaluated."""

    allowed: bool
    reason: str
    decided_by: str | None
    rules: tuple[RuleResult, ...] = ()

    @property
    def matched(self) -> tuple[RuleResult, ...]:
        return tuple(rule for rule in self.rules if rule.matched)
