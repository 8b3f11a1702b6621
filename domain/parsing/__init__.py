"""The set-log grammar: free text such as "squat 5x5 100" or "140x5, 150x3" → sets.

Pure domain code (no database, no transport). ``parse_log`` reads a message, ``render_log``
writes a parsed log back in one of the supported forms, ``example_for`` picks a line to show
next to a ``ParseError``. The grammar and its disambiguation rules: ``domain.parsing.grammar``.
"""

from domain.parsing.grammar import parse_log
from domain.parsing.model import (
    ParsedLog,
    ParsedSet,
    ParseError,
    Problem,
    Topic,
    Unit,
    example_for,
)
from domain.parsing.render import LogForm, render_log, renderable

__all__ = [
    "LogForm",
    "ParseError",
    "ParsedLog",
    "ParsedSet",
    "Problem",
    "Topic",
    "Unit",
    "example_for",
    "parse_log",
    "render_log",
    "renderable",
]
