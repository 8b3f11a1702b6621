"""Program files without a database: the shipped examples in three formats say the same thing,
every kind of mistake is reported with its line (and path or CSV column), all of them at once;
the value grammar (loads, durations, distances, tempo, rep ranges); the workout duration
arithmetic."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from domain.services.program_format import (
    MAX_FILE_BYTES,
    MESSAGES,
    FormatError,
    ParsedFile,
    cap,
    parse_distance,
    parse_duration,
    parse_file,
    parse_load,
    parse_reps,
    parse_tempo,
)
from domain.services.workout_duration import (
    SECONDS_PER_REP,
    TRANSITION_SECONDS,
    WARMUP_SECONDS,
    BlockSpec,
    ExercisePart,
    estimate,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def parse(text: str, name: str = "program.yaml") -> ParsedFile:
    return parse_file(text.encode(), name)


def found(parsed: ParsedFile) -> set[tuple[str, int | None, str]]:
    """(code, line, path or CSV column) of every error."""
    return {
        (
            error.code,
            error.location.line if error.location else None,
            (error.location.column or error.location.path) if error.location else "",
        )
        for error in parsed.errors
    }


def test_the_three_examples_describe_the_same_program() -> None:
    documents = {}
    for suffix in ("yaml", "json", "csv"):
        parsed = parse_file((EXAMPLES / f"program.{suffix}").read_bytes(), f"program.{suffix}")
        assert parsed.errors == []
        assert parsed.document is not None
        documents[suffix] = parsed.document
    yaml_doc = documents["yaml"]
    assert yaml_doc.program.title == "Strength Foundations"
    assert yaml_doc.length_days == 28
    assert yaml_doc.weeks == 4
    assert [w.name for w in yaml_doc.workouts] == ["Full Body A", "Full Body B", "Easy Run"]
    # days 1/5 (A), 3 (B) and 6 (run, optional) of each week: 4 × 4 sessions
    assert len(yaml_doc.slots) == 16
    assert {(s.day_number, s.is_optional) for s in yaml_doc.slots if s.workout_index == 2} == {
        (5, True),
        (12, True),
        (19, True),
        (26, True),
    }
    deadlift = yaml_doc.workouts[1].sets[0]
    assert deadlift.load == Decimal("102.06")  # 225 lb
    assert deadlift.rest == 180  # 3 min
    assert yaml_doc.workouts[0].sets[0].rest == 120  # 2:00
    assert yaml_doc.workouts[0].sets[1].reps == (8, 10)
    assert yaml_doc.workouts[0].sets[2].load is None  # bw
    assert yaml_doc.workouts[2].sets[0].distance == Decimal(5000)
    assert yaml_doc.workouts[1].sets[1].tempo == "2-0-X-1"
    for other in ("json", "csv"):
        assert documents[other].program == yaml_doc.program
        assert documents[other].schedule == yaml_doc.schedule
        assert documents[other].workouts == yaml_doc.workouts
        assert {(s.day_number, s.workout_index, s.is_optional) for s in documents[other].slots} == {
            (s.day_number, s.workout_index, s.is_optional) for s in yaml_doc.slots
        }


BAD_YAML = """\
program:
  title: Broken
  duration_weeks: many
schedule:
  length_days: 7
workouts:
  - name: A
    sets:
      - exercise: back squat
        sets: 3
        reps: -5
      - exercise: plank
        reps: 0
      - exercise: bench press
        sets: true
        reps: five
  - name: B
    sets:
      - reps: 5
days:
  - day: 9
    workouts: [A]
  - day: 2
    workouts: [C, B]
"""


def test_every_mistake_is_reported_with_its_line_and_path() -> None:
    parsed = parse(BAD_YAML)
    assert parsed.document is None
    assert found(parsed) == {
        ("not_integer", 3, "program.duration_weeks"),
        ("too_small", 11, "workouts[0].sets[0].reps"),
        ("too_small", 13, "workouts[0].sets[1].reps"),
        ("not_integer", 15, "workouts[0].sets[2].sets"),
        ("bad_reps", 16, "workouts[0].sets[2].reps"),
        ("missing", 19, "workouts[1].sets[0].exercise"),
        ("day_out_of_range", 21, "days[0].day"),
        ("undefined_workout", 24, "days[1].workouts[0]"),
    }
    by_code = {error.code: error for error in parsed.errors}
    assert by_code["day_out_of_range"].params == {"day": 9, "length": 7}
    assert by_code["undefined_workout"].message == "no workout named C is defined"
    first = next(error for error in parsed.errors if error.code == "too_small")
    assert str(first) == "line 11, workouts[0].sets[0].reps: must be at least 1"
    # The exercise names are still collected for the import to check (even in bad sets).
    assert [name for _path, name in parsed.exercise_refs] == ["back squat", "plank", "bench press"]


def test_the_same_mistakes_in_json_point_at_json_lines() -> None:
    text = json.dumps(yaml.safe_load(BAD_YAML), indent=2)
    lines = text.splitlines()

    def line_of(fragment: str, after: int = 0) -> int:
        return next(i + 1 for i, line in enumerate(lines) if i >= after and fragment in line)

    parsed = parse(text, "program.json")
    errors = found(parsed)
    assert ("not_integer", line_of('"duration_weeks"'), "program.duration_weeks") in errors
    assert ("too_small", line_of('"reps": -5'), "workouts[0].sets[0].reps") in errors
    assert ("too_small", line_of('"reps": 0'), "workouts[0].sets[1].reps") in errors
    assert ("bad_reps", line_of('"reps": "five"'), "workouts[0].sets[2].reps") in errors
    assert ("day_out_of_range", line_of('"day": 9'), "days[0].day") in errors
    # A missing field points at the object that lacks it: the set's opening brace.
    b_line = line_of('"name": "B"')
    assert ("missing", line_of("{", b_line + 1), "workouts[1].sets[0].exercise") in errors
    assert len(parsed.errors) == 8


def test_yaml_syntax_error_gives_its_line() -> None:
    parsed = parse("program:\n  title: x\n  tags: [a, b\nschedule:\n  weeks: 1\n")
    assert [(e.code, e.location.line if e.location else None) for e in parsed.errors] == [
        ("syntax", 4)
    ]
    assert "flow sequence" in parsed.errors[0].message


def test_absurd_nesting_is_a_syntax_error() -> None:
    for name, text in (("p.yaml", "a: " + "[" * 5000), ("p.json", "[" * 5000 + "]" * 5000)):
        parsed = parse(text, name)
        assert [(e.code, e.params) for e in parsed.errors] == [
            ("syntax", {"detail": "nested too deeply"})
        ]


def test_json_syntax_error_gives_its_line() -> None:
    parsed = parse('{\n  "program": {\n    "title": "x",\n  }\n}\n', "p.json")
    assert [(e.code, e.location.line if e.location else None) for e in parsed.errors] == [
        ("syntax", 4)
    ]


def test_missing_parts_and_unknown_fields() -> None:
    parsed = parse("program:\n  description: no title\n  colour: red\nworkouts: []\n")
    assert found(parsed) == {
        ("missing", 1, "schedule"),
        ("missing", 1, "days"),
        ("list_too_short", 4, "workouts"),
        ("missing", 1, "program.title"),
        ("unknown_field", 3, "program.colour"),
    }


def test_wrong_types() -> None:
    parsed = parse(
        "program: [not, a, mapping]\n"
        "schedule:\n  weeks: 2\n"
        "workouts:\n  - name: A\n    sets: {exercise: squat}\n"
        "days: 3\n"
    )
    assert found(parsed) == {
        ("not_object", 1, "program"),
        ("not_list", 6, "workouts[0].sets"),
        ("not_list", 7, "days"),
    }


def test_schedule_length_in_days_or_weeks_and_unused_or_duplicate_workouts() -> None:
    parsed = parse(
        "program: {title: T}\n"
        "schedule: {weeks: 1, length_days: 7}\n"
        "workouts:\n"
        "  - {name: A, sets: [{exercise: squat, reps: 5}]}\n"
        "  - {name: a, sets: [{exercise: squat, reps: 5}]}\n"
        "  - {name: B, sets: [{exercise: squat, reps: 5}]}\n"
        "days:\n  - {day: 1, workouts: A}\n"
    )
    assert found(parsed) == {
        ("schedule_length", 2, "schedule"),
        ("duplicate_workout", 5, "workouts[1].name"),
        ("unused_workout", 6, "workouts[2].name"),
    }


def test_yaml_aliases_and_duplicate_keys_are_refused() -> None:
    aliased = parse(
        "program: &p {title: T}\nschedule: {weeks: 1}\nworkouts: []\ndays: []\nother: *p\n"
    )
    assert [e.code for e in aliased.errors] == ["yaml_alias"]
    twice = parse(
        "program: {title: T}\nprogram: {title: U}\nschedule: {weeks: 1}\n"
        "workouts: [{name: A, sets: [{exercise: x, reps: 1}]}]\n"
        "days: [{day: 1, workouts: [A]}]\n"
    )
    assert found(twice) == {("duplicate_key", 2, "program")}
    assert twice.document is None


def test_csv_errors_name_the_row_line_and_column() -> None:
    text = (
        "# title: Csv\n"
        "# length_days: 7\n"
        "day,workout,exercise,sets,reps,load,rest\n"
        "1,A,back squat,3,5,100,90\n"
        '1,A,"bench\npress",3,-2,heavy,90\n'  # a quoted cell spanning two lines
        "9,B,plank,2,,,\n"
        "x,C,plank,1,10,,\n"
    )
    parsed = parse(text, "p.csv")
    assert found(parsed) == {
        ("too_small", 5, "reps"),
        ("bad_load", 5, "load"),
        ("no_target", 7, "workouts[1].sets[0]"),
        ("day_out_of_range", 7, "day"),
        ("bad_days", 8, "day"),
        ("unused_workout", 8, "workout"),
    }
    assert str(next(e for e in parsed.errors if e.code == "bad_load").location) == (
        "line 5, column load"
    )


def test_csv_header_problems() -> None:
    parsed = parse("# title: T\n# weeks: 1\n# colour: red\nworkout,exercise,weight\n", "p.csv")
    assert found(parsed) == {
        ("unknown_field", 3, "colour"),
        ("unknown_field", 4, "weight"),
        ("missing_column", 4, ""),
    }
    parsed = parse(
        "# weeks: 1\nday;workout;exercise;reps\n1;A;squat;5\n", "p.csv"
    )  # semicolons, no title
    assert found(parsed) == {("missing", 1, "program.title")}


def test_file_level_refusals() -> None:
    assert [e.code for e in parse_file(b"x", "program.txt").errors] == ["unsupported_type"]
    assert parse_file(b"x", "program.txt").errors[0].params == {"extension": ".txt"}
    big = parse_file(b"#" * (MAX_FILE_BYTES + 1), "big.yaml")
    assert [(e.code, e.params) for e in big.errors] == [
        ("too_large", {"size_kb": 257, "limit_kb": 256})
    ]
    assert [e.code for e in parse_file(b"title: \xff\xfe", "p.yaml").errors] == ["encoding"]
    assert [e.code for e in parse_file(b"  \n", "p.json").errors] == ["empty"]


@pytest.mark.parametrize(
    ("raw", "kg"),
    [
        (100, Decimal("100.00")),
        ("102,5 kg", Decimal("102.50")),
        ("225 lb", Decimal("102.06")),
        ("-20", Decimal("-20.00")),
        ("BW", None),
    ],
)
def test_load(raw: object, kg: Decimal | None) -> None:
    assert parse_load(raw) == kg


@pytest.mark.parametrize(
    ("raw", "seconds"), [(90, 90), ("1:30", 90), ("90 s", 90), ("2 min", 120), ("1.5min", 90)]
)
def test_duration(raw: object, seconds: int) -> None:
    assert parse_duration(raw) == seconds


def test_distance_tempo_and_reps() -> None:
    assert parse_distance("5 km") == Decimal(5000)
    assert parse_distance("400m") == Decimal(400)
    assert parse_distance("1 mi") == Decimal("1609.34")
    assert parse_tempo("31x0") == "3-1-X-0"
    assert parse_tempo(" 4-0-1-0 ") == "4-0-1-0"
    assert parse_reps("8-12") == (8, 12)
    assert parse_reps("8–8") == (8, None)
    assert parse_reps(5) == (5, None)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("reps", "12-8", "bad_rep_range"),
        ("reps", 2.5, "bad_reps"),
        ("tempo", "3-1-1", "bad_tempo"),
        ("rpe", 11, "bad_rpe"),
        ("rpe", "8.25", "bad_rpe"),
        ("distance", "far", "bad_distance"),
        ("rest", 7200, "too_big"),
        ("load", "2000 kg", "too_big"),
        ("sets", 0, "too_small"),
    ],
)
def test_bad_values(field: str, value: object, code: str) -> None:
    document = {
        "program": {"title": "T"},
        "schedule": {"weeks": 1},
        "workouts": [{"name": "A", "sets": [{"exercise": "squat", "reps": 5, field: value}]}],
        "days": [{"day": 1, "workouts": ["A"]}],
    }
    parsed = parse(json.dumps(document), "p.json")
    assert [(e.code, e.location.path if e.location else "") for e in parsed.errors] == [
        (code, f"workouts[0].sets[0].{field}")
    ]


def test_cap_keeps_the_first_errors_by_line() -> None:
    errors = [FormatError("missing", {}, None) for _ in range(250)]
    capped = cap(errors)
    assert len(capped) == 201
    assert capped[-1].code == "too_many_errors"


def test_every_code_has_a_translatable_message_in_the_bot() -> None:
    from bot.handlers.program_import import ERROR_MESSAGES

    assert set(ERROR_MESSAGES) == set(MESSAGES)
    assert ERROR_MESSAGES == MESSAGES  # the msgids are the domain's English text


# --------------------------------------------------------------------------------------
# Workout duration arithmetic
# --------------------------------------------------------------------------------------

SQUAT = ExercisePart("squat", tempo_seconds=(3, 1, 1, 0))
BENCH = ExercisePart("bench")
ROW = ExercisePart("row", rest_between_seconds=30)


def test_duration_of_straight_sets() -> None:
    # 3 × 5 reps at 5 s/rep, 120 s rest between the sets; then 3 × (8-12 → 10) reps at 3 s/rep
    squat = BlockSpec((SQUAT,), sets_count=3, reps=5, rest_after_seconds=120)
    bench = BlockSpec((BENCH,), sets_count=3, reps=8, reps_max=12, rest_after_seconds=90)
    result = estimate([squat, bench])
    assert result.tempo_seconds == 3 * 5 * 5 + 3 * 10 * SECONDS_PER_REP
    assert result.rest_between_sets_seconds == 2 * 120 + 2 * 90
    assert result.rest_between_exercises_seconds == 120  # after the squats, before the bench
    assert result.transitions_seconds == TRANSITION_SECONDS
    assert result.warmup_seconds == WARMUP_SECONDS
    assert result.total_seconds == 75 + 90 + 420 + 120 + 60 + 300


def test_duration_of_timed_distance_and_superset_blocks() -> None:
    plank = BlockSpec(
        (ExercisePart("plank"),), sets_count=2, duration_seconds=60, rest_after_seconds=30
    )
    run = BlockSpec((ExercisePart("run"),), distance_m=Decimal(1000))
    superset = BlockSpec((ROW, BENCH), sets_count=2, reps=10, rest_after_seconds=60)
    result = estimate([plank, run, superset])
    assert result.tempo_seconds == 120 + 360 + 2 * (30 + 30)
    assert result.rest_between_sets_seconds == 30 + 60
    # after the plank block, after the run block (0), within the superset rounds (2 × 30)
    assert result.rest_between_exercises_seconds == 30 + 0 + 60
    assert result.transitions_seconds == 2 * TRANSITION_SECONDS


def test_same_exercise_twice_has_no_transition_and_an_empty_workout_takes_nothing() -> None:
    warmup = BlockSpec((BENCH,), sets_count=2, reps=5, rest_after_seconds=60)
    working = BlockSpec((BENCH,), sets_count=3, reps=5, rest_after_seconds=120)
    assert estimate([warmup, working]).transitions_seconds == 0
    empty = estimate([])
    assert empty.total_seconds == 0
    assert empty.warmup_seconds == 0
    explosive = BlockSpec((ExercisePart("jump", tempo_seconds=(0, 0, 0, 0)),), reps=5)
    assert estimate([explosive]).tempo_seconds == 5  # at least 1 s per rep
