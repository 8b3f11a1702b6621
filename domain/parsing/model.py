"""Values of the set-log grammar: what a parsed line is, and how a line fails to parse."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from domain.errors import InvalidInput

# Limits of one message. A set, a load or a duration beyond them is a typo, not a record.
MAX_TEXT_LENGTH = 4096  # one Telegram message
MAX_SETS = 50
MAX_REPS = 100
MAX_LOAD_KG = Decimal(1000)
KG_PER_LB = Decimal("0.45359237")  # exact, by definition of the international pound
MAX_DURATION_SECONDS = 24 * 3600
MAX_DISTANCE_METERS = Decimal(1_000_000)
METERS_PER_MILE = Decimal("1609.344")  # exact, by definition of the international mile
MAX_INTEGER_DIGITS = 9
MAX_FRACTION_DIGITS = 3


class Unit(enum.StrEnum):
    """Unit of a load as typed (never converted)."""

    KG = "kg"
    LB = "lb"


def load_in_kg(load: Decimal, unit: Unit) -> Decimal:
    return load if unit is Unit.KG else load * KG_PER_LB


def tidy(value: Decimal) -> Decimal:
    """62.50 → 62.5, 100.0 → 100, -0 → 0: the same value with no needless digits."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1)) + 0
    return value.normalize()


@dataclass(frozen=True, slots=True)
class ParsedSet:
    """One performed set. Every field is optional but a set has reps, a duration or a distance.

    ``load`` is the external load in ``unit``. On a bodyweight set (``bodyweight``) it is the
    load added to the body: positive for a belt or a vest (``bw+10``), negative for an
    assistance band or machine (``bw-20``), None for bodyweight alone (``bw``). A plain load is
    never negative. ``unit`` is set exactly when ``load`` is.
    """

    reps: int | None = None
    load: Decimal | None = None
    unit: Unit | None = None
    bodyweight: bool = False
    rpe: Decimal | None = None
    duration_seconds: int | None = None
    distance_meters: Decimal | None = None

    @property
    def assisted(self) -> bool:
        """A bodyweight set made lighter (``bw-20``)."""
        return self.bodyweight and self.load is not None and self.load < 0


@dataclass(frozen=True, slots=True)
class ParsedLog:
    """One message: the exercise as typed (None when the caller supplies it) and its sets."""

    exercise_text: str | None
    sets: tuple[ParsedSet, ...]


class Problem(enum.StrEnum):
    """Why a line did not parse; a stable key for a translated message."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    UNEXPECTED = "unexpected"  # a character or a word that has no place there
    MISSING = "missing"  # something required is absent (reps after 'x', a number after 'rpe')
    NUMBER = "number"  # too many digits or decimals, or a fraction where a whole number goes
    OUT_OF_RANGE = "out_of_range"  # reps, sets, load, RPE, duration or distance beyond limits
    NEGATIVE_LOAD = "negative_load"
    DUPLICATE = "duplicate"  # a second load, RPE, duration … in one group of sets
    MISMATCH = "mismatch"  # 3x10/8: two reps values for three sets
    TOO_MANY_SETS = "too_many_sets"


class Topic(enum.StrEnum):
    """The part of the grammar a failure is about; picks the example shown to the person."""

    SETS_REPS = "sets_reps"
    LOAD = "load"
    BODYWEIGHT = "bodyweight"
    RPE = "rpe"
    DURATION = "duration"
    DISTANCE = "distance"
    LIST = "list"


class ParseError(InvalidInput):
    """A set log that was not understood: where (``position``, a 0-based index into the text),
    what (``fragment``, the text found there; empty at the end of the text) and what the
    grammar ``expected`` instead (an English phrase; ``problem`` and ``topic`` are the
    translation keys).
    """

    code = "invalid_set_log"

    def __init__(
        self,
        *,
        problem: Problem,
        position: int,
        fragment: str,
        expected: str,
        topic: Topic = Topic.SETS_REPS,
    ) -> None:
        if fragment:
            message = f"could not read {fragment!r} at position {position}: expected {expected}"
        else:
            message = f"nothing to read at position {position}: expected {expected}"
        super().__init__(
            message,
            problem=problem.value,
            position=position,
            fragment=fragment,
            expected=expected,
            topic=topic.value,
        )
        self.problem = problem
        self.position = position
        self.fragment = fragment
        self.expected = expected
        self.topic = topic

    def __reduce__(self) -> tuple[Callable[..., ParseError], tuple[object, ...]]:
        # Keyword-only fields: copy and pickle rebuild it through its fields, not its message.
        return _rebuild_parse_error, (
            self.problem,
            self.position,
            self.fragment,
            self.expected,
            self.topic,
        )


def _rebuild_parse_error(
    problem: Problem, position: int, fragment: str, expected: str, topic: Topic
) -> ParseError:
    return ParseError(
        problem=problem, position=position, fragment=fragment, expected=expected, topic=topic
    )


_EXAMPLES: dict[Topic, str] = {
    Topic.SETS_REPS: "squat 5x5 100",
    Topic.LOAD: "bench 3x8 @ 60kg",
    Topic.BODYWEIGHT: "pullups 3x10 bw+10",
    Topic.RPE: "bench 3x8 @ 60kg rpe 8",
    Topic.DURATION: "plank 3x60s",
    Topic.DISTANCE: "run 5km 25:30",
    Topic.LIST: "deadlift 140x5, 150x3, 160x1",
}


def example_for(error: ParseError) -> str:
    """One line that parses, showing the construct the error is about."""
    return _EXAMPLES[error.topic]
