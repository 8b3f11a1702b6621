"""Program files (docs/program-format.md): YAML, JSON or CSV → a validated ``ProgramDocument``,
or every error found, each with its place in the file and a code + params the bot translates.

Nothing here touches the database: names of exercises, difficulty levels, visibility levels,
tags and categories are checked by ``program_import`` (which knows the catalogue) and reported
through the same ``FormatError`` and ``Location``.

How errors find their line:

- YAML: the document is composed into PyYAML's node tree (every node has its start mark), then
  constructed from that tree; a pydantic error location (``workouts[2].sets[0].reps``) is walked
  down the tree to the deepest node that exists (a missing field points at its parent).
- JSON: ``json.loads`` reports syntax errors with their line; a small scanner of the (valid)
  text records the line of every key and list item.
- CSV: every cell of every row is remembered with its line (a quoted cell may span lines) and
  column; program settings come from ``# key: value`` lines above the header.

Every part is validated on its own (the program, the schedule, each workout, each set line,
each day) so that one bad set does not hide the errors of the others: all errors are reported.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from domain.errors import InvalidInput

MAX_FILE_BYTES = 256 * 1024
FORMATS: dict[str, str] = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".csv": "csv"}
FORMAT_TAG = "motriforge-program/1"

MAX_WORKOUTS = 100
MAX_SETS_PER_WORKOUT = 50
MAX_DAY_ENTRIES = 1000
MAX_SLOTS = 2000  # scheduled workouts after `every` is expanded
MAX_SCHEDULE_DAYS = 3660  # program_schedule.schedule_length_days
DEFAULT_REST_SECONDS = 90
MAX_REST_SECONDS = 3600
MAX_DURATION_SECONDS = 86_400
MAX_DISTANCE_M = Decimal(1_000_000)
MIN_LOAD_KG = Decimal(-500)  # negative: assistance (assisted pull-up)
MAX_LOAD_KG = Decimal(1000)
MAX_REPS = 1000
MAX_ERRORS = 200  # a file that is wrong everywhere: the first 200 say enough

KG_PER_LB = Decimal("0.45359237")
TEMPO_PHASES = 4

Path = tuple[str | int, ...]

# English text of every error code (params in braces). The bot has a translated msgid for each
# (bot/handlers/program_import.py); a unit test holds the two lists together.
MESSAGES: dict[str, str] = {
    "too_large": "the file is {size_kb} KB; the limit is {limit_kb} KB",
    "unsupported_type": "unsupported file type {extension}: send a .yaml, .yml, .json or .csv file",
    "encoding": "the file is not UTF-8 text",
    "empty": "the file is empty",
    "syntax": "the file cannot be read here: {detail}",
    "yaml_alias": "YAML anchors and aliases (& and *) are not supported",
    "duplicate_key": "{key} is given twice",
    "missing": "is required",
    "unknown_field": "unknown field {field}",
    "not_integer": "must be a whole number",
    "not_number": "must be a number",
    "not_text": "must be text",
    "not_bool": "must be true or false",
    "not_list": "must be a list",
    "not_object": "must be a set of fields (key: value)",
    "too_small": "must be at least {limit}",
    "too_big": "must be at most {limit}",
    "text_empty": "must not be empty",
    "text_too_long": "must be at most {limit} characters long",
    "list_too_short": "must have at least {limit} item(s)",
    "list_too_long": "must have at most {limit} items",
    "bad_choice": "{value} is not one of: {allowed}",
    "bad_reps": "{value} is not a number of reps (5) or a range (8-12)",
    "bad_rep_range": "the range {value} goes down: write the smaller number first",
    "bad_load": "{value} is not a load: write 100, 100 kg, 225 lb or bw",
    "bad_rpe": "{value} is not an RPE from 1 to 10 (one decimal at most, such as 8.5)",
    "bad_duration": "{value} is not a duration: write seconds (90), 1:30, 90 s or 2 min",
    "bad_distance": "{value} is not a distance: write metres (400), 400 m, 5 km or 3 mi",
    "bad_tempo": "{value} is not a tempo: write four phases such as 3-1-1-0 (seconds, or X)",
    "bad_days": "{value} is not a list of days such as 1 3 5 (6? optional, 1/7 every 7 days)",
    "no_target": "a set needs reps, a duration or a distance",
    "schedule_length": "give the schedule length in days (length_days) or in weeks, not both",
    "too_many_cells": "this row has {count} cells but the header has {limit} columns",
    "missing_column": "the column {column} is missing from the header",
    "duplicate_workout": "the workout {name} is defined twice",
    "undefined_workout": "no workout named {name} is defined",
    "unused_workout": "the workout {name} is never scheduled on a day",
    "day_out_of_range": "day {day} is beyond the schedule ({length} days)",
    "too_many_slots": "{count} scheduled workouts: the limit is {limit}",
    "unknown_exercise": "unknown exercise {name}",
    "unknown_exercise_suggest": "unknown exercise {name}; did you mean {suggestions}?",
    "ambiguous_exercise": "{name} names several exercises ({candidates}): use a more precise name",
    "needs_institution": "visibility {value} is only for a program of an institution",
    "too_many_errors": "more errors follow: fix these first",
}


# --------------------------------------------------------------------------------------
# Errors and where they are
# --------------------------------------------------------------------------------------


def render_path(path: Path) -> str:
    """('workouts', 2, 'sets', 0, 'reps') → workouts[2].sets[0].reps"""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True, slots=True)
class Location:
    """Where an error is: the 1-based line of the file, the path of the value (YAML/JSON; also
    filled for CSV, whose rows map onto the same structure) and the CSV column."""

    line: int | None
    path: str = ""
    column: str | None = None

    def __str__(self) -> str:
        parts = [f"line {self.line}"] if self.line is not None else []
        if self.column is not None:
            parts.append(f"column {self.column}")
        elif self.path:
            parts.append(self.path)
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class FormatError:
    code: str
    params: Mapping[str, str | int] = field(default_factory=dict)
    location: Location | None = None

    @property
    def message(self) -> str:
        return MESSAGES[self.code].format(**self.params)

    def __str__(self) -> str:
        where = str(self.location) if self.location is not None else ""
        return f"{where}: {self.message}" if where else self.message


class ProgramFileInvalid(InvalidInput):
    """The file was refused; ``errors`` says every place and what is wrong. Nothing stored."""

    code = "program_file_invalid"

    def __init__(self, errors: Sequence[FormatError]) -> None:
        listed = "; ".join(str(error) for error in errors[:3])
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"the program file has {len(errors)} error(s): {listed}{more}")
        self.errors = list(errors)


def _custom(code: str, **params: str | int) -> PydanticCustomError:
    return PydanticCustomError(code, MESSAGES[code], params)


def _fail(code: str, **params: str | int) -> NoReturn:
    raise _custom(code, **params)


# --------------------------------------------------------------------------------------
# Value parsers (BeforeValidator functions: the raw value in, the canonical value out)
# --------------------------------------------------------------------------------------

_NUMBER = r"[-+]?\d+(?:[.,]\d+)?"


def _shown(value: Any) -> str:
    return str(value)[:40]


def _no_bool(value: Any) -> Any:
    # pydantic's lax int takes true/false as 1/0: a count that says "true" is a mistake.
    if isinstance(value, bool):
        _fail("not_integer")
    return value


def _decimal(text: str) -> Decimal:
    return Decimal(text.replace(",", "."))


def _bounded(value: int | Decimal, low: int | Decimal, high: int | Decimal) -> None:
    if value < low:
        _fail("too_small", limit=str(low))
    if value > high:
        _fail("too_big", limit=str(high))


def parse_reps(value: Any) -> tuple[int, int | None] | None:
    """5 → (5, None); "8-12" → (8, 12)."""
    if value is None:
        return None
    if isinstance(value, bool | float):
        _fail("bad_reps", value=_shown(value))
    if isinstance(value, int):
        _bounded(value, 1, MAX_REPS)
        return value, None
    if not isinstance(value, str):
        _fail("bad_reps", value=_shown(value))
    if re.fullmatch(r"\s*[-+]?\d+\s*", value):  # a plain number (CSV cells are text)
        _bounded(int(value), 1, MAX_REPS)
        return int(value), None
    match = re.fullmatch(r"\s*(\d+)\s*(?:[-–]\s*(\d+)\s*)?", value)
    if match is None:
        _fail("bad_reps", value=_shown(value))
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else None
    _bounded(low, 1, MAX_REPS)
    if high is not None:
        _bounded(high, 1, MAX_REPS)
        if high < low:
            _fail("bad_rep_range", value=_shown(value))
        if high == low:
            high = None
    return low, high


_LOAD = re.compile(rf"\s*({_NUMBER})\s*(kg|kgs|lb|lbs)?\s*", re.IGNORECASE)


def parse_load(value: Any) -> Decimal | None:
    """Kilograms: 100 → 100; "225 lb" → 102.06; "bw" (bodyweight) → None."""
    if value is None or (isinstance(value, str) and value.strip().lower() in {"bw", "bodyweight"}):
        return None
    if isinstance(value, bool):
        _fail("bad_load", value=_shown(value))
    if isinstance(value, int | float):
        amount = Decimal(str(value))
    elif isinstance(value, str) and (match := _LOAD.fullmatch(value)) is not None:
        amount = _decimal(match.group(1))
        if (match.group(2) or "kg").lower().startswith("lb"):
            amount *= KG_PER_LB
    else:
        _fail("bad_load", value=_shown(value))
    kg = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    _bounded(kg, MIN_LOAD_KG, MAX_LOAD_KG)
    return kg


def parse_rpe(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidOperation
        rpe = _decimal(str(value).strip())
    except InvalidOperation:
        _fail("bad_rpe", value=_shown(value))
    if not rpe.is_finite() or rpe != rpe.quantize(Decimal("0.1")) or not 1 <= rpe <= 10:
        _fail("bad_rpe", value=_shown(value))
    return rpe.quantize(Decimal("0.1"))


_DURATION = re.compile(
    rf"\s*(?:(\d+):([0-5]\d)|({_NUMBER})\s*(s|sec|secs|seconds?|min|mins|minutes?|h|hours?)?)\s*",
    re.IGNORECASE,
)


def _seconds(value: Any, code: str) -> int:
    """90 → 90; "1:30" → 90; "2 min" → 120; "90s" → 90 (YAML reads an unquoted 1:30 as 90)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        _fail(code, value=_shown(value))
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str) or (match := _DURATION.fullmatch(value)) is None:
        _fail(code, value=_shown(value))
    if match.group(1) is not None:
        return int(match.group(1)) * 60 + int(match.group(2))
    amount = _decimal(match.group(3))
    unit = (match.group(4) or "s").lower()
    factor = 3600 if unit.startswith("h") else 60 if unit.startswith("m") else 1
    seconds = amount * factor
    if seconds != seconds.to_integral_value():
        _fail(code, value=_shown(value))
    return int(seconds)


def parse_duration(value: Any) -> int | None:
    if value is None:
        return None
    seconds = _seconds(value, "bad_duration")
    _bounded(seconds, 1, MAX_DURATION_SECONDS)
    return seconds


def parse_rest(value: Any) -> int:
    if value is None:
        return DEFAULT_REST_SECONDS
    seconds = _seconds(value, "bad_duration")
    _bounded(seconds, 0, MAX_REST_SECONDS)
    return seconds


_DISTANCE = re.compile(rf"\s*({_NUMBER})\s*(m|km|mi)?\s*", re.IGNORECASE)
_METRES_PER = {"m": Decimal(1), "km": Decimal(1000), "mi": Decimal("1609.344")}


def parse_distance(value: Any) -> Decimal | None:
    """Metres: 400 → 400; "5 km" → 5000; "3 mi" → 4828.03."""
    if value is None:
        return None
    if isinstance(value, bool):
        _fail("bad_distance", value=_shown(value))
    if isinstance(value, int | float):
        metres = Decimal(str(value))
    elif isinstance(value, str) and (match := _DISTANCE.fullmatch(value)) is not None:
        metres = _decimal(match.group(1)) * _METRES_PER[(match.group(2) or "m").lower()]
    else:
        _fail("bad_distance", value=_shown(value))
    metres = metres.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    _bounded(metres, Decimal(1), MAX_DISTANCE_M)
    return metres.normalize() if metres == metres.to_integral_value() else metres


def parse_tempo(value: Any) -> str | None:
    """ "3-1-1-0", "31X0" → "3-1-X-0": eccentric, bottom pause, concentric, top pause."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        _fail("bad_tempo", value=_shown(value))
    text = value.strip().upper()
    phases = text.split("-") if "-" in text else list(text)
    if len(phases) != TEMPO_PHASES or not all(re.fullmatch(r"\d|X", p) for p in phases):
        _fail("bad_tempo", value=_shown(value))
    return "-".join(phases)


def _code(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str | int) and not isinstance(value, bool) else value


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part for part in (piece.strip() for piece in value.split(",")) if part]
    return value


# --------------------------------------------------------------------------------------
# The schema
# --------------------------------------------------------------------------------------

Int = Annotated[int, BeforeValidator(_no_bool)]
Code = Annotated[str, BeforeValidator(_code), Field(min_length=1, max_length=50)]
Name = Annotated[str, Field(min_length=1, max_length=50)]


class _Part(BaseModel):
    model_config = ConfigDict(
        extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True, frozen=True
    )


class ProgramMeta(_Part):
    title: Annotated[str, Field(min_length=1, max_length=60)]
    description: Annotated[str, Field(max_length=2000)] = ""
    difficulty: Code | None = None  # DIFFICULTY_LEVEL code; default BEGINNER
    duration_weeks: Annotated[Int, Field(ge=1, le=104)] | None = None
    visibility: Code | None = None  # VISIBILITY code for PROGRAM
    tags: Annotated[list[Code], BeforeValidator(_comma_list), Field(max_length=20)] = []
    categories: Annotated[list[Code], BeforeValidator(_comma_list), Field(max_length=10)] = []


class ScheduleSpec(_Part):
    length_days: Annotated[Int, Field(ge=1, le=MAX_SCHEDULE_DAYS)] | None = None
    weeks: Annotated[Int, Field(ge=1, le=MAX_SCHEDULE_DAYS // 7)] | None = None
    notes: Annotated[str, Field(max_length=255)] | None = None

    @model_validator(mode="after")
    def _one_length(self) -> ScheduleSpec:
        if (self.length_days is None) == (self.weeks is None):
            _fail("schedule_length")
        return self

    @property
    def days(self) -> int:
        return self.length_days if self.length_days is not None else 7 * (self.weeks or 0)


class SetLine(_Part):
    exercise: Annotated[str, Field(min_length=1, max_length=100)]
    name: Name | None = None
    sets: Annotated[Int, Field(ge=1, le=100)] = 1
    reps: Annotated[tuple[int, int | None] | None, BeforeValidator(parse_reps)] = None
    load: Annotated[Decimal | None, BeforeValidator(parse_load)] = None  # kg
    rpe: Annotated[Decimal | None, BeforeValidator(parse_rpe)] = None
    duration: Annotated[int | None, BeforeValidator(parse_duration)] = None  # seconds
    distance: Annotated[Decimal | None, BeforeValidator(parse_distance)] = None  # metres
    tempo: Annotated[str | None, BeforeValidator(parse_tempo)] = None
    rest: Annotated[int, BeforeValidator(parse_rest)] = DEFAULT_REST_SECONDS  # seconds

    @model_validator(mode="after")
    def _has_target(self) -> SetLine:
        if self.reps is None and self.duration is None and self.distance is None:
            _fail("no_target")
        return self


class WorkoutSpec(_Part):
    name: Name
    notes: Annotated[str, Field(max_length=255)] | None = None
    difficulty: Code | None = None  # default: the program's
    sets: Annotated[list[Any], Field(min_length=1, max_length=MAX_SETS_PER_WORKOUT)]


class DayEntry(_Part):
    day: Annotated[Int, Field(ge=1, le=MAX_SCHEDULE_DAYS)]  # 1-based in files
    workouts: Annotated[
        list[Name], BeforeValidator(_one_or_many), Field(min_length=1, max_length=20)
    ]
    optional: bool = False
    every: Annotated[Int, Field(ge=1, le=MAX_SCHEDULE_DAYS)] | None = None
    notes: Annotated[str, Field(max_length=255)] | None = None


class Envelope(_Part):
    format: Literal["motriforge-program/1"] | None = None
    program: dict[str, Any]
    schedule: dict[str, Any]
    workouts: Annotated[list[Any], Field(min_length=1, max_length=MAX_WORKOUTS)]
    days: Annotated[list[Any], Field(min_length=1, max_length=MAX_DAY_ENTRIES)]


# --------------------------------------------------------------------------------------
# The validated document
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkoutDoc:
    index: int  # position in the file's workouts
    name: str
    notes: str | None
    difficulty: str | None
    sets: tuple[SetLine, ...]


@dataclass(frozen=True, slots=True)
class Slot:
    """A workout on a day of the schedule (``day_number`` 0-based, as stored)."""

    day_number: int
    workout_index: int
    order_index: int
    is_optional: bool
    notes: str | None


@dataclass(frozen=True, slots=True)
class ProgramDocument:
    program: ProgramMeta
    schedule: ScheduleSpec
    workouts: tuple[WorkoutDoc, ...]
    slots: tuple[Slot, ...]

    @property
    def length_days(self) -> int:
        return self.schedule.days

    @property
    def weeks(self) -> int:
        return math.ceil(self.schedule.days / 7)


@dataclass(frozen=True, slots=True)
class CodeRef:
    """A vocabulary code the database must confirm: kind difficulty|visibility|tag|category."""

    path: Path
    kind: str
    value: str


@dataclass
class ParsedFile:
    """What the file says: the document when the structure is valid, the errors found so far,
    the exercise names and vocabulary codes to resolve, and how to place an error."""

    document: ProgramDocument | None
    errors: list[FormatError]
    exercise_refs: list[tuple[Path, str]]
    code_refs: list[CodeRef]
    locate: Callable[[Path], Location]

    def error(self, path: Path, code: str, **params: str | int) -> FormatError:
        return FormatError(code, params, self.locate(path))


# --------------------------------------------------------------------------------------
# Locations per format
# --------------------------------------------------------------------------------------


class _Positions:
    """path → (line, column); a path that is not recorded takes its nearest recorded parent."""

    def __init__(self) -> None:
        self.where: dict[Path, tuple[int, str | None]] = {}

    def put(self, path: Path, line: int, column: str | None = None) -> None:
        self.where[path] = (line, column)

    def locate(self, path: Path) -> Location:
        for end in range(len(path), -1, -1):
            found = self.where.get(path[:end])
            if found is not None:
                return Location(found[0], render_path(path), found[1])
        return Location(None, render_path(path))


@dataclass
class _Raw:
    data: Any
    positions: _Positions
    errors: list[FormatError]


def _yaml_raw(text: str) -> _Raw:
    positions = _Positions()
    errors: list[FormatError] = []
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return _Raw(None, positions, errors)
        seen: set[int] = set()
        _walk_yaml(node, (), positions, errors, seen)
        if any(error.code == "yaml_alias" for error in errors):
            return _Raw(None, positions, errors)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        detail = " ".join(part for part in (error.context, error.problem) if part) or "syntax"
        line = mark.line + 1 if mark is not None else None
        errors.append(FormatError("syntax", {"detail": detail}, Location(line)))
        return _Raw(None, positions, errors)
    except yaml.YAMLError as error:
        errors.append(FormatError("syntax", {"detail": str(error)[:200]}, Location(None)))
        return _Raw(None, positions, errors)
    except RecursionError:  # thousands of nested brackets: no program looks like that
        errors.append(FormatError("syntax", {"detail": "nested too deeply"}, Location(None)))
        return _Raw(None, positions, errors)
    finally:
        loader.dispose()
    return _Raw(data, positions, errors)


def _walk_yaml(
    node: yaml.Node, path: Path, positions: _Positions, errors: list[FormatError], seen: set[int]
) -> None:
    # An alias is the anchored node met a second time: refused (a few aliases can expand a
    # small file into a huge document).
    if id(node) in seen:
        errors.append(
            FormatError("yaml_alias", {}, Location(node.start_mark.line + 1, render_path(path)))
        )
        return
    seen.add(id(node))
    positions.put(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in keys:
                errors.append(
                    FormatError(
                        "duplicate_key",
                        {"key": key},
                        Location(key_node.start_mark.line + 1, render_path(child)),
                    )
                )
            keys.add(key)
            _walk_yaml(value_node, child, positions, errors, seen)
            positions.put(child, key_node.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk_yaml(item, (*path, index), positions, errors, seen)


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_JSON_SPACE = re.compile(r"[ \t\n\r]*")


class _JsonLines:
    """Records the line of every key and list item of VALID JSON text (json.loads ran first)."""

    def __init__(self, text: str, positions: _Positions) -> None:
        self.text = text
        self.positions = positions
        self.newlines = [index for index, char in enumerate(text) if char == "\n"]

    def line(self, offset: int) -> int:
        return bisect.bisect_left(self.newlines, offset) + 1

    def skip(self, offset: int) -> int:
        match = _JSON_SPACE.match(self.text, offset)
        return match.end() if match else offset

    def value(self, offset: int, path: Path) -> int:
        offset = self.skip(offset)
        self.positions.where.setdefault(path, (self.line(offset), None))
        char = self.text[offset]
        if char == "{":
            offset = self.skip(offset + 1)
            if self.text[offset] == "}":
                return offset + 1
            while True:
                offset = self.skip(offset)
                key_start = offset
                key, offset = json.decoder.scanstring(self.text, offset + 1)  # type: ignore[attr-defined]
                child = (*path, key)
                self.positions.put(child, self.line(key_start))
                offset = self.skip(offset) + 1  # the colon
                offset = self.value(offset, child)
                offset = self.skip(offset)
                if self.text[offset] == "}":
                    return offset + 1
                offset += 1  # the comma
        if char == "[":
            offset = self.skip(offset + 1)
            if self.text[offset] == "]":
                return offset + 1
            index = 0
            while True:
                offset = self.value(offset, (*path, index))
                offset = self.skip(offset)
                if self.text[offset] == "]":
                    return offset + 1
                offset += 1
                index += 1
        if char == '"':
            _text, end = json.decoder.scanstring(self.text, offset + 1)  # type: ignore[attr-defined]
            return int(end)
        for literal in ("true", "false", "null"):
            if self.text.startswith(literal, offset):
                return offset + len(literal)
        number = _JSON_NUMBER.match(self.text, offset)
        return number.end() if number else offset + 1


def _json_raw(text: str) -> _Raw:
    positions = _Positions()
    try:
        data = json.loads(text)
        _JsonLines(text, positions).value(0, ())
    except json.JSONDecodeError as error:
        return _Raw(
            None, positions, [FormatError("syntax", {"detail": error.msg}, Location(error.lineno))]
        )
    except RecursionError:
        return _Raw(None, positions, [FormatError("syntax", {"detail": "nested too deeply"})])
    return _Raw(data, positions, [])


CSV_SET_COLUMNS = (
    "exercise",
    "name",
    "sets",
    "reps",
    "load",
    "rpe",
    "duration",
    "distance",
    "tempo",
    "rest",
)
CSV_COLUMNS = ("day", "workout", *CSV_SET_COLUMNS, "notes")
CSV_REQUIRED = ("day", "workout", "exercise")
CSV_SETTINGS: dict[str, Path] = {
    "format": ("format",),
    "title": ("program", "title"),
    "description": ("program", "description"),
    "difficulty": ("program", "difficulty"),
    "duration_weeks": ("program", "duration_weeks"),
    "visibility": ("program", "visibility"),
    "tags": ("program", "tags"),
    "categories": ("program", "categories"),
    "length_days": ("schedule", "length_days"),
    "weeks": ("schedule", "weeks"),
    "schedule_notes": ("schedule", "notes"),
}
_DAY_TOKEN = re.compile(r"(\d+)(?:/(\d+))?(\?)?")


def _csv_raw(text: str) -> _Raw:
    positions = _Positions()
    errors: list[FormatError] = []
    lines = text.splitlines(keepends=True)
    data: dict[str, Any] = {"program": {}, "schedule": {}, "workouts": [], "days": []}
    positions.put(("program",), 1)
    positions.put(("schedule",), 1)
    first = 0
    # Settings: "# key: value" lines above the header ("## …" and lines without a colon are
    # comments).
    while first < len(lines) and (not lines[first].strip() or lines[first].lstrip()[0] == "#"):
        line_number = first + 1
        body = lines[first].strip().lstrip("#").strip()
        first += 1
        if lines[first - 1].strip().startswith("##") or ":" not in body:
            continue
        key, _colon, value = (piece.strip() for piece in body.partition(":"))
        key = key.lower()
        target = CSV_SETTINGS.get(key)
        if target is None:
            errors.append(FormatError("unknown_field", {"field": key}, Location(line_number, key)))
            continue
        section: dict[str, Any] = data if len(target) == 1 else data[str(target[0])]
        if str(target[-1]) in section:
            errors.append(FormatError("duplicate_key", {"key": key}, Location(line_number, key)))
        section[str(target[-1])] = value
        positions.put(target, line_number)
    header_line = first + 1
    body_text = "".join(lines[first:])
    if not body_text.strip():
        errors.append(
            FormatError("missing_column", {"column": "workout"}, Location(header_line, ""))
        )
        return _Raw(data, positions, errors)
    header_text = lines[first]
    delimiter = ";" if header_text.count(";") > header_text.count(",") else ","
    reader = csv.reader(io.StringIO(body_text), delimiter=delimiter)
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except csv.Error as error:
        errors.append(FormatError("syntax", {"detail": str(error)}, Location(header_line)))
        return _Raw(data, positions, errors)
    for column in header:
        if column not in CSV_COLUMNS:
            errors.append(
                FormatError("unknown_field", {"field": column}, Location(header_line, "", column))
            )
    for column in {c for c in header if header.count(c) > 1}:
        errors.append(
            FormatError("duplicate_key", {"key": column}, Location(header_line, "", column))
        )
    for column in CSV_REQUIRED:
        if column not in header:
            errors.append(
                FormatError("missing_column", {"column": column}, Location(header_line, ""))
            )
    if errors:  # without a usable header the rows mean nothing
        return _Raw(None, positions, errors)
    workouts: dict[str, int] = {}  # casefolded name → index in data["workouts"]
    day_tokens: set[tuple[int, str]] = set()
    previous_end = reader.line_num
    try:
        for cells in reader:
            line = first + previous_end + 1
            previous_end = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header):
                errors.append(
                    FormatError(
                        "too_many_cells",
                        {"count": len(cells), "limit": len(header)},
                        Location(line, ""),
                    )
                )
                continue
            row = {
                column: cell.strip() for column, cell in zip(header, cells, strict=False) if cell
            }
            name = row.get("workout", "")
            if not name:
                errors.append(FormatError("missing", {}, Location(line, "", "workout")))
                continue
            key = name.casefold()
            if key not in workouts:
                workouts[key] = len(data["workouts"])
                data["workouts"].append({"name": name, "sets": []})
                positions.put(("workouts", workouts[key]), line, "workout")
                positions.put(("workouts", workouts[key], "name"), line, "workout")
                positions.put(("workouts", workouts[key], "sets"), line, "workout")
            index = workouts[key]
            workout = data["workouts"][index]
            if row.get("notes") and "notes" not in workout:
                workout["notes"] = row["notes"]
                positions.put(("workouts", index, "notes"), line, "notes")
            set_path: Path = ("workouts", index, "sets", len(workout["sets"]))
            positions.put(set_path, line)
            for column in CSV_SET_COLUMNS:
                positions.put((*set_path, column), line, column)
            workout["sets"].append({c: row[c] for c in CSV_SET_COLUMNS if c in row})
            for token in re.split(r"[\s,;]+", row.get("day", "")):
                if not token or (index, token) in day_tokens:
                    continue
                day_tokens.add((index, token))
                match = _DAY_TOKEN.fullmatch(token)
                if match is None:
                    errors.append(
                        FormatError("bad_days", {"value": token[:40]}, Location(line, "", "day"))
                    )
                    continue
                entry: dict[str, Any] = {"day": int(match.group(1)), "workouts": [name]}
                if match.group(2):
                    entry["every"] = int(match.group(2))
                if match.group(3):
                    entry["optional"] = True
                day_path: Path = ("days", len(data["days"]))
                positions.put(day_path, line, "day")
                data["days"].append(entry)
    except csv.Error as error:
        errors.append(FormatError("syntax", {"detail": str(error)}, Location(previous_end)))
    positions.put(("workouts",), header_line)
    positions.put(("days",), header_line, "day")
    return _Raw(data, positions, errors)


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------

_PYDANTIC_CODES: dict[str, str] = {
    "missing": "missing",
    "int_type": "not_integer",
    "int_parsing": "not_integer",
    "int_from_float": "not_integer",
    "float_type": "not_number",
    "float_parsing": "not_number",
    "decimal_type": "not_number",
    "decimal_parsing": "not_number",
    "string_type": "not_text",
    "bool_type": "not_bool",
    "bool_parsing": "not_bool",
    "list_type": "not_list",
    "tuple_type": "not_list",
    "dict_type": "not_object",
    "model_type": "not_object",
    "model_attributes_type": "not_object",
    "string_too_short": "text_empty",
}


def _convert(
    error: Mapping[str, Any], prefix: Path, locate: Callable[[Path], Location]
) -> FormatError:
    kind = str(error["type"])
    loc: Path = (*prefix, *(part for part in error["loc"] if isinstance(part, str | int)))
    ctx = error.get("ctx") or {}
    if kind in MESSAGES:  # ours (PydanticCustomError)
        return FormatError(
            kind, {k: v for k, v in ctx.items() if isinstance(v, str | int)}, locate(loc)
        )
    if kind == "extra_forbidden":
        return FormatError("unknown_field", {"field": str(loc[-1])}, locate(loc))
    if kind in _PYDANTIC_CODES:
        return FormatError(_PYDANTIC_CODES[kind], {}, locate(loc))
    if kind in {"greater_than_equal", "greater_than"}:
        return FormatError("too_small", {"limit": str(ctx.get("ge", ctx.get("gt")))}, locate(loc))
    if kind in {"less_than_equal", "less_than"}:
        return FormatError("too_big", {"limit": str(ctx.get("le", ctx.get("lt")))}, locate(loc))
    if kind == "string_too_long":
        return FormatError("text_too_long", {"limit": int(ctx["max_length"])}, locate(loc))
    if kind == "too_short":
        return FormatError("list_too_short", {"limit": int(ctx["min_length"])}, locate(loc))
    if kind == "too_long":
        return FormatError("list_too_long", {"limit": int(ctx["max_length"])}, locate(loc))
    if kind == "literal_error":
        return FormatError(
            "bad_choice",
            {"value": _shown(error.get("input")), "allowed": str(ctx.get("expected", ""))},
            locate(loc),
        )
    return FormatError("syntax", {"detail": str(error.get("msg", kind))}, locate(loc))


M = TypeVar("M", bound=BaseModel)


def _validate(
    model: type[M],
    value: Any,
    prefix: Path,
    errors: list[FormatError],
    locate: Callable[[Path], Location],
) -> M | None:
    try:
        return model.model_validate(value)
    except ValidationError as failure:
        errors.extend(_convert(error, prefix, locate) for error in failure.errors())
        return None


def _items(value: Any) -> Iterator[tuple[int, Any]]:
    return enumerate(value) if isinstance(value, list) else iter(())


def _expand(entry: DayEntry, length: int) -> list[int]:
    """1-based days of an entry: its day, then every ``every`` days up to the end."""
    if entry.every is None:
        return [entry.day]
    return list(range(entry.day, length + 1, entry.every))


def validate_data(data: Any, locate: Callable[[Path], Location]) -> ParsedFile:
    """Check parsed data against the format; every error is collected."""
    errors: list[FormatError] = []
    parsed = ParsedFile(None, errors, [], [], locate)
    if data is None:
        errors.append(FormatError("empty", {}, Location(1)))
        return parsed
    envelope = _validate(Envelope, data, (), errors, locate)
    if not isinstance(data, dict):
        return parsed
    program = (
        _validate(ProgramMeta, data["program"], ("program",), errors, locate)
        if isinstance(data.get("program"), dict)
        else None
    )
    schedule = (
        _validate(ScheduleSpec, data["schedule"], ("schedule",), errors, locate)
        if isinstance(data.get("schedule"), dict)
        else None
    )
    if program is not None:
        if program.difficulty is not None:
            parsed.code_refs.append(
                CodeRef(("program", "difficulty"), "difficulty", program.difficulty)
            )
        if program.visibility is not None:
            parsed.code_refs.append(
                CodeRef(("program", "visibility"), "visibility", program.visibility)
            )
        parsed.code_refs.extend(
            CodeRef(("program", "tags", i), "tag", tag) for i, tag in enumerate(program.tags)
        )
        parsed.code_refs.extend(
            CodeRef(("program", "categories", i), "category", code)
            for i, code in enumerate(program.categories)
        )
    # Workouts and their sets, each on its own.
    workouts: dict[int, WorkoutDoc] = {}
    names: dict[str, int] = {}
    spelled: dict[int, str] = {}
    for index, raw in _items(data.get("workouts")):
        path: Path = ("workouts", index)
        spec = _validate(WorkoutSpec, raw, path, errors, locate)
        raw_sets = raw.get("sets") if isinstance(raw, dict) else None
        lines: list[SetLine] = []
        for position, raw_set in _items(raw_sets):
            set_path: Path = (*path, "sets", position)
            if isinstance(raw_set, dict) and isinstance(raw_set.get("exercise"), str | int):
                name = str(raw_set["exercise"]).strip()
                if name:
                    parsed.exercise_refs.append(((*set_path, "exercise"), name))
            line = _validate(SetLine, raw_set, set_path, errors, locate)
            if line is not None:
                lines.append(line)
        if spec is None:
            continue
        key = spec.name.casefold()
        if key in names:
            errors.append(parsed.error((*path, "name"), "duplicate_workout", name=spec.name))
            continue
        names[key] = index
        spelled[index] = spec.name
        if spec.difficulty is not None:
            parsed.code_refs.append(CodeRef((*path, "difficulty"), "difficulty", spec.difficulty))
        if len(lines) == len(spec.sets):
            workouts[index] = WorkoutDoc(
                index, spec.name, spec.notes, spec.difficulty, tuple(lines)
            )
    # Days: every name must be a defined workout, every day inside the schedule.
    length = schedule.days if schedule is not None else None
    used: set[int] = set()
    slots: list[Slot] = []
    per_day: dict[int, int] = {}
    taken: set[tuple[int, int]] = set()
    for index, raw in _items(data.get("days")):
        path = ("days", index)
        entry = _validate(DayEntry, raw, path, errors, locate)
        if entry is None:
            continue
        used.update(names[n.casefold()] for n in entry.workouts if n.casefold() in names)
        if length is not None and entry.day > length:
            errors.append(
                parsed.error((*path, "day"), "day_out_of_range", day=entry.day, length=length)
            )
            continue
        for position, name in enumerate(entry.workouts):
            found = names.get(name.casefold())
            if found is None:
                errors.append(
                    parsed.error((*path, "workouts", position), "undefined_workout", name=name)
                )
                continue
            for day in _expand(entry, length or entry.day):
                if (day, found) in taken:
                    continue  # the same workout twice on one day: once is what was meant
                taken.add((day, found))
                order = per_day.get(day, 0)
                per_day[day] = order + 1
                slots.append(Slot(day - 1, found, order, entry.optional, entry.notes))
    if isinstance(data.get("days"), list):
        errors.extend(
            parsed.error(("workouts", index, "name"), "unused_workout", name=spelled[index])
            for index in names.values()
            if index not in used
        )
    if len(slots) > MAX_SLOTS:
        errors.append(parsed.error(("days",), "too_many_slots", count=len(slots), limit=MAX_SLOTS))
    if (
        not errors
        and envelope is not None
        and program is not None
        and schedule is not None
        and len(workouts) == len(names)
    ):
        parsed.document = ProgramDocument(
            program=program,
            schedule=schedule,
            workouts=tuple(workouts[i] for i in sorted(workouts)),
            slots=tuple(sorted(slots, key=lambda slot: (slot.day_number, slot.order_index))),
        )
    return parsed


def file_kind(filename: str) -> str | None:
    """yaml | json | csv from the file name's extension, or None."""
    dot = filename.rfind(".")
    return FORMATS.get(filename[dot:].lower()) if dot >= 0 else None


def check_file(source: bytes, filename: str) -> FormatError | None:
    """The file-level refusal (type, size, encoding, emptiness), if any."""
    kind = file_kind(filename)
    if kind is None:
        dot = filename.rfind(".")
        extension = filename[dot:][:20] if dot >= 0 else "(none)"
        return FormatError("unsupported_type", {"extension": extension}, None)
    if len(source) > MAX_FILE_BYTES:
        return FormatError(
            "too_large",
            {"size_kb": math.ceil(len(source) / 1024), "limit_kb": MAX_FILE_BYTES // 1024},
            None,
        )
    return None


def parse_file(source: bytes, filename: str) -> ParsedFile:
    """Read and validate a program file. ``errors`` empty and ``document`` set: valid (as far as
    the file alone can tell: names and codes are confirmed by the import)."""
    nowhere = _Positions().locate
    refused = check_file(source, filename)
    if refused is not None:
        return ParsedFile(None, [refused], [], [], nowhere)
    try:
        text = source.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = source[: error.start].count(b"\n") + 1
        return ParsedFile(None, [FormatError("encoding", {}, Location(line))], [], [], nowhere)
    if not text.strip():
        return ParsedFile(None, [FormatError("empty", {}, Location(1))], [], [], nowhere)
    kind = file_kind(filename)
    raw = (
        _yaml_raw(text) if kind == "yaml" else _json_raw(text) if kind == "json" else _csv_raw(text)
    )
    if raw.errors and raw.data is None:
        return ParsedFile(None, raw.errors, [], [], raw.positions.locate)
    parsed = validate_data(raw.data, raw.positions.locate)
    parsed.errors[:0] = raw.errors
    if raw.errors:
        parsed.document = None
    return parsed


def cap(errors: list[FormatError]) -> list[FormatError]:
    """At most MAX_ERRORS errors, sorted by line, the last saying that more follow."""
    ordered = sorted(
        errors,
        key=lambda error: (
            error.location.line if error.location and error.location.line is not None else 0
        ),
    )
    if len(ordered) <= MAX_ERRORS:
        return ordered
    return [*ordered[:MAX_ERRORS], FormatError("too_many_errors", {}, None)]
