"""Domain errors. The bot layer turns each into a localized reply; none carries a traceback."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose.

    `code` is a stable identifier the bot maps to a translated message; `params` fill its
    placeholders. `str(error)` stays a readable English sentence for logs and the CLI.
    """

    code = "error"

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.params = params


class NotFound(DomainError):
    code = "not_found"


class NotAllowed(DomainError):
    code = "not_allowed"


class InvalidInput(DomainError):
    """Bad input from a person: nothing was changed."""

    code = "invalid_input"


class Conflict(DomainError):
    """The request clashes with the current state (duplicate, already done, expired …)."""

    code = "conflict"
