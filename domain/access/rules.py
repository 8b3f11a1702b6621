"""The policy rule document stored in ``policy.policy_rules`` (docs/access.md, "Policies").

Declarative only: every field is data the engine translates to SQL; nothing is evaluated.
Validation is strict (booleans must be JSON booleans, hours JSON integers) so that the SQL
reading of a document (``domain/access/policies.py``, ``sql_document_is_valid``) accepts
exactly what this model accepts.

Example::

    {
      "effect": "deny",
      "actions": ["READ", "UPDATE"],
      "resource_types": ["PROGRAM"],
      "when": {"visibility_in": ["INSTITUTION"], "actor_is_owner": false}
    }
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from domain.access.types import RESOURCE_TYPES, Action, Effect

WILDCARD = "*"
VISIBILITY_CODE_PATTERN = r"^[A-Z][A-Z0-9_]*$"

ActionName = Literal[
    "READ",
    "CREATE",
    "UPDATE",
    "DELETE",
    "SHARE",
    "ARCHIVE",
    "ASSIGN",
    "EXPORT",
    "INVITE",
    "MANAGE",
    "*",
]
ResourceTypeName = Literal[
    "WORKOUT",
    "PROGRAM",
    "EXERCISE",
    "MEDIA",
    "EQUIPMENT",
    "GOAL",
    "TRAINING_LOG",
    "INSTITUTION",
    "*",
]
VisibilityCodeName = Annotated[str, StringConstraints(pattern=VISIBILITY_CODE_PATTERN)]

# Kept in step with the Literal types above (checked by tests/unit/test_access_rules.py).
ACTION_NAMES: tuple[str, ...] = (*(action.value for action in Action), WILDCARD)
RESOURCE_TYPE_NAMES: tuple[str, ...] = (*RESOURCE_TYPES, WILDCARD)
WHEN_KEYS = (
    "visibility_in",
    "actor_is_owner",
    "actor_is_guest",
    "resource_in_institution",
    "hours_utc",
)
RULE_KEYS = ("effect", "actions", "resource_types", "when")


class When(BaseModel):
    """Conditions on the request; all optional, all must hold."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    visibility_in: list[VisibilityCodeName] | None = Field(default=None, min_length=1)
    actor_is_owner: bool | None = None
    actor_is_guest: bool | None = None
    resource_in_institution: bool | None = None
    # [from, to) hours of the decision time in UTC; from > to wraps midnight ([22, 6]).
    # A list (JSON has no tuples; strict mode would refuse a list for a tuple).
    hours_utc: list[int] | None = Field(default=None, min_length=2, max_length=2)

    @field_validator("hours_utc")
    @classmethod
    def _hours_in_range(cls, value: list[int] | None) -> list[int] | None:
        if value is not None:
            start, end = value
            if not 0 <= start <= 23:
                raise ValueError("from must be an hour 0-23")
            if not 0 <= end <= 24:
                raise ValueError("to must be an hour 0-24")
        return value


class PolicyRule(BaseModel):
    """One allow or deny rule."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    effect: Effect
    actions: list[ActionName] = Field(min_length=1)
    resource_types: list[ResourceTypeName] = Field(min_length=1)
    when: When | None = None

    def covers(self, action: str, resource_type: str) -> bool:
        """Does the rule speak about this action on this resource type?"""
        actions: list[str] = list(self.actions)
        types: list[str] = list(self.resource_types)
        return (WILDCARD in actions or action in actions) and (
            WILDCARD in types or resource_type in types
        )


def hour_in(hour: int, start: int, end: int) -> bool:
    """Is ``hour`` inside ``[start, end)``; ``start > end`` wraps midnight, equal = never."""
    if start <= end:
        return start <= hour < end
    return hour >= start or hour < end


def parse_rule(document: Any) -> PolicyRule:
    """Validate a ``policy_rules`` document; raises pydantic's ValidationError."""
    # JSON null is not a dict: strict mode refuses it like any other non-object.
    return PolicyRule.model_validate(document)


def rule_error(document: Any) -> str | None:
    """None when the document is valid, else a one-line reason (for tools and explain)."""
    try:
        parse_rule(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        return f"{where}: {first['msg']}"
    return None
