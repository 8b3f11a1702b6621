"""Small SQL helpers of the engine."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, case, literal_column
from sqlalchemy.types import Integer, String


def case_when(*whens: tuple[ColumnElement[bool], Any], else_: Any = None) -> ColumnElement[Any]:
    """``CASE WHEN c1 THEN r1 … ELSE e END`` (a searched CASE).

    SQLAlchemy's ``case()`` first tries its positional whens as a mapping and, when they are
    not one, formats them into an error message with ``repr()`` before carrying on: for typed
    expressions that costs milliseconds per call, and the engine builds dozens. Given one
    mapping of condition → result it takes the direct path to the same searched CASE.
    """
    return case(dict(whens), else_=else_)


def sql_string(value: str) -> ColumnElement[str]:
    """A constant string written into the SQL (not a bind parameter)."""
    return literal_column("'" + str(value).replace("'", "''") + "'", String)


def in_constants(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN ('A', 'B')`` with the constants written into the SQL.

    A Python list given to ``in_()`` becomes an "expanding" parameter that SQLAlchemy re-renders
    at every execution; constants keep the statement text fixed, so PostgreSQL can reuse a
    generic plan of the prepared statement.
    """
    return column.in_([sql_string(getattr(value, "value", value)) for value in values])


def literal_limit(rows: int) -> ColumnElement[int]:
    """A LIMIT written into the SQL: ``select(...).where(visible(...)).limit(literal_limit(20))``.

    With ``LIMIT $n`` PostgreSQL cannot use a generic plan for a list query filtered by
    ``visible`` (it would not know the page is small) and plans it again at every execution;
    with a constant it switches to the generic plan after a few executions (docs/benchmarks.md).
    """
    return literal_column(str(int(rows)), Integer)
