"""The set-log grammar: every form the "Athlete flows" issue names, its variants, its errors."""

from __future__ import annotations

import copy
import pickle
from decimal import Decimal

import pytest

from domain.errors import InvalidInput
from domain.parsing import (
    LogForm,
    ParsedLog,
    ParsedSet,
    ParseError,
    Problem,
    Topic,
    Unit,
    example_for,
    parse_log,
    render_log,
    renderable,
)

KG, LB = Unit.KG, Unit.LB


def parse(text: str, default_unit: Unit = KG) -> ParsedLog:
    return parse_log(text, default_unit=default_unit)


def lifted(reps: int, load: str | None, unit: Unit | None = KG, **more: object) -> ParsedSet:
    return ParsedSet(
        reps=reps,
        load=None if load is None else Decimal(load),
        unit=unit if load is not None else None,
        **more,  # type: ignore[arg-type]
    )


def error(text: str, default_unit: Unit = KG) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse(text, default_unit)
    return caught.value


# -- the examples -----------------------------------------------------------------------


def test_sets_x_reps_then_a_load_in_the_default_unit() -> None:
    assert parse("squat 5x5 100") == ParsedLog("squat", (lifted(5, "100"),) * 5)
    assert parse("squat 5x5 100", LB).sets == (lifted(5, "100", LB),) * 5


def test_at_load_with_unit_and_rpe_on_every_set() -> None:
    log = parse("bench 3x8 @ 60kg rpe 8")
    assert log == ParsedLog("bench", (lifted(8, "60", rpe=Decimal(8)),) * 3)


def test_load_x_reps_list() -> None:
    log = parse("deadlift 140x5, 150x3, 160x1")
    assert log == ParsedLog("deadlift", (lifted(5, "140"), lifted(3, "150"), lifted(1, "160")))


def test_bodyweight_plus_added_load() -> None:
    log = parse("pullups 3x10 bw+10")
    assert log.exercise_text == "pullups"
    assert log.sets == (ParsedSet(reps=10, load=Decimal(10), unit=KG, bodyweight=True),) * 3
    assert not log.sets[0].assisted


def test_sets_of_a_duration() -> None:
    assert parse("plank 3x60s") == ParsedLog("plank", (ParsedSet(duration_seconds=60),) * 3)


def test_distance_and_time() -> None:
    log = parse("run 5km 25:30")
    assert log == ParsedLog(
        "run", (ParsedSet(distance_meters=Decimal(5000), duration_seconds=25 * 60 + 30),)
    )


# -- variants a person types --------------------------------------------------------------------


def test_no_exercise_name_the_caller_supplies_it() -> None:
    log = parse("100x5, 100x5, 95x6")
    assert log == ParsedLog(None, (lifted(5, "100"), lifted(5, "100"), lifted(6, "95")))


@pytest.mark.parametrize(
    "text",
    [
        "squat 100kg 5x5",
        "squat 5 x 5 x 100",
        "squat 5x5x100",
        "squat 5x5 100 kg",
        "squat 5x5 100kg",
        "squat 5x5 @ 100",
        "squat 5x5@100",
        "squat 100 5x5",
        "squat 100x5x5",
        "squat 100kg x 5 x 5",
        "squat 5X5 100",
        "squat 5×5 100",
        "squat 5*5 100",
        "squat 5 × 5 100",
        "squat 5х5 100",  # Cyrillic х, as typed on a Russian layout
        "  squat   5x5   100  ",
        "SQUAT 5x5 100 KG",
        "squat 5x5 100kgs",
        "squat 5x5 100кг",
    ],
)
def test_five_by_five_at_100_kg_in_many_spellings(text: str) -> None:
    log = parse(text, LB if "kg" in text.casefold() or "кг" in text else KG)
    assert log.exercise_text is not None
    assert log.exercise_text.casefold() == "squat"
    assert log.sets == (lifted(5, "100"),) * 5


def test_glued_at_and_rpe() -> None:
    assert parse("bench 3x8@60 rpe8").sets == (lifted(8, "60", rpe=Decimal(8)),) * 3


@pytest.mark.parametrize(("text", "unit"), [("curl 3x12 20lb", LB), ("curl 3x12 20 lbs", LB)])
def test_pounds(text: str, unit: Unit) -> None:
    assert parse(text, KG).sets == (lifted(12, "20", unit),) * 3


def test_default_unit_applies_only_when_none_is_typed() -> None:
    assert parse("curl 3x12 20", LB).sets[0].unit is LB
    assert parse("curl 3x12 20kg", LB).sets[0].unit is KG
    assert parse("curl 3x12 20lb", KG).sets[0].unit is LB
    assert parse("pullups 3x10 bw+10", LB).sets[0].unit is LB


@pytest.mark.parametrize(
    "text", ["squat 5x5 62.5", "squat 5x5 62,5", "squat 5x5 62.5kg", "squat 5x5 @ 62,5 kg"]
)
def test_decimal_point_or_comma(text: str) -> None:
    assert parse(text).sets == (lifted(5, "62.5"),) * 5


def test_decimal_comma_load_x_reps_and_comma_separated_sets() -> None:
    assert parse("62,5x5, 65x3").sets == (lifted(5, "62.5"), lifted(3, "65"))
    assert parse("140x5,150x3").sets == (lifted(5, "140"), lifted(3, "150"))
    assert parse("squat 5x5 1,25").sets[0].load == Decimal("1.25")


def test_decimals_are_tidy() -> None:
    load = parse("squat 5x5 100.50").sets[0].load
    assert load == Decimal("100.5")
    assert str(load) == "100.5"
    assert str(parse("squat 5x5 100.0").sets[0].load) == "100"


def test_bodyweight_alone_and_assisted() -> None:
    assert parse("pullups 3x10 bw").sets == (ParsedSet(reps=10, bodyweight=True),) * 3
    assisted = parse("pullups 3x8 bw-20").sets[0]
    assert assisted == ParsedSet(reps=8, load=Decimal(-20), unit=KG, bodyweight=True)
    assert assisted.assisted
    assert parse("dips 3x8 bw + 12.5 lb").sets[0].load == Decimal("12.5")
    assert parse("dips bw+10 3x8").sets[0].bodyweight
    assert parse("dips 3x8 bodyweight").sets[0].bodyweight
    assert parse("pullups bw x 10, bw x 8").sets == (
        ParsedSet(reps=10, bodyweight=True),
        ParsedSet(reps=8, bodyweight=True),
    )
    assert parse("bwx10").sets == (ParsedSet(reps=10, bodyweight=True),)


def test_bw_before_a_word_is_part_of_the_name() -> None:
    log = parse("bw squat 3x20")
    assert log.exercise_text == "bw squat"
    assert log.sets == (ParsedSet(reps=20),) * 3


@pytest.mark.parametrize(
    ("text", "rpe"),
    [
        ("bench 3x8 60 rpe 7.5", "7.5"),
        ("bench 3x8 60 RPE 7,5", "7.5"),
        ("bench 3x8 60 rpe9", "9"),
        ("squat 5x5 100 @8", "8"),
        ("squat 5x5 @100 @8", "8"),
        ("squat 5x5 100kg @ 9.5", "9.5"),
        ("bench 3x8 60 @rpe 8", "8"),
        ("bench 3x8 @ 8 rpe 8", "8"),  # with an "rpe", the "@" is the load
    ],
)
def test_rpe(text: str, rpe: str) -> None:
    assert {s.rpe for s in parse(text).sets} == {Decimal(rpe)}


def test_at_eight_after_load_x_reps_is_the_rpe() -> None:
    assert parse("deadlift 140x5 @9, 150x3 @9.5").sets == (
        lifted(5, "140", rpe=Decimal(9)),
        lifted(3, "150", rpe=Decimal("9.5")),
    )
    assert parse("bench 60x8 @8").sets == (lifted(8, "60", rpe=Decimal(8)),)


def test_at_a_small_number_after_few_sets_is_the_load() -> None:
    assert parse("curl 3x12 @ 8").sets == (lifted(12, "8"),) * 3
    assert parse("bench 3x8 @ 60, 2x5 @ 70").sets == (lifted(8, "60"),) * 3 + (lifted(5, "70"),) * 2


def test_reps_per_set() -> None:
    assert parse("curl 3x10/8/6 20").sets == (
        lifted(10, "20"),
        lifted(8, "20"),
        lifted(6, "20"),
    )
    assert parse("curl 10/8/6 @ 20").sets == parse("curl 3x10/8/6 20").sets
    assert parse("curl 20kg x 10/8").sets == (lifted(10, "20"), lifted(8, "20"))


def test_reps_word() -> None:
    assert parse("pushups 20 reps").sets == (ParsedSet(reps=20),)
    assert parse("pushups 12x10 reps").sets == (ParsedSet(reps=10),) * 12
    assert (
        parse("pushups 3x10reps, 2x8 reps").sets
        == (ParsedSet(reps=10),) * 3 + (ParsedSet(reps=8),) * 2
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("plank 45s", 45),
        ("plank 45 s", 45),
        ("plank 45 sec", 45),
        ("plank 1:30", 90),
        ("plank 2min", 120),
        ("plank 2 min", 120),
        ("plank 1.5min", 90),
        ("plank 2min 30s", 150),
        ("plank 2min30s", 150),
        ("plank 1m30s", 90),
        ("run 1h05:00", 3900),
        ("run 1h05", 3900),
        ("run 1h 5min", 3900),
        ("run 1:05:00", 3900),
        ("run 2h", 7200),
        ("run 25:30", 1530),
        ("run 90:00", 5400),
        ("планка 30 сек", 30),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse(text).sets == (ParsedSet(duration_seconds=seconds),)


@pytest.mark.parametrize(
    ("text", "meters"),
    [
        ("run 400m", "400"),
        ("run 400 m", "400"),
        ("run 5km", "5000"),
        ("run 5 km", "5000"),
        ("run 5 KM", "5000"),
        ("run 3mi", "4828.032"),
        ("run 1 mile", "1609.344"),
        ("run 2.5km", "2500"),
        ("run 2,5km", "2500"),
        ("бег 10км", "10000"),
    ],
)
def test_distances(text: str, meters: str) -> None:
    assert parse(text).sets == (ParsedSet(distance_meters=Decimal(meters)),)


def test_sets_of_a_distance_with_a_time_and_intervals() -> None:
    assert (
        parse("row 3x500m 1:45").sets
        == (ParsedSet(distance_meters=Decimal(500), duration_seconds=105),) * 3
    )
    assert parse("sprint 8x400m").sets == (ParsedSet(distance_meters=Decimal(400)),) * 8
    assert parse("run 400m 90s").sets == (
        ParsedSet(distance_meters=Decimal(400), duration_seconds=90),
    )


def test_weighted_carry_and_plank() -> None:
    assert (
        parse("farmer's walk 3x40m 32kg").sets
        == (ParsedSet(distance_meters=Decimal(40), load=Decimal(32), unit=KG),) * 3
    )
    assert (
        parse("plank 3x60s 10").sets
        == (ParsedSet(duration_seconds=60, load=Decimal(10), unit=KG),) * 3
    )


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("присед 5x5 100", "присед"),
        ("développé couché 3x8 60", "développé couché"),
        ("de\u0301veloppe\u0301 3x8 60", "de\u0301veloppe\u0301"),  # combining accents kept
        ("  Bench   Press  3x8 60", "Bench Press"),
        ("T-Bar Row 3x10 40", "T-Bar Row"),
        ("clean & jerk 5x1 80", "clean & jerk"),
        ("clean/jerk 5x1 80", "clean/jerk"),
        ("romanian deadlift (rdl) 3x8 80", "romanian deadlift (rdl)"),
        ("жим\tлёжа 3x8 60", "жим лёжа"),
        ("squat\u00a05x5 100", "squat"),
    ],
)
def test_exercise_name_as_typed_trimmed_and_collapsed(text: str, name: str) -> None:
    log = parse(text)
    assert log.exercise_text == name
    assert log.sets


def test_ambiguous_pairs() -> None:
    # A bare "A x B": sets x reps for up to 10 sets with no load, load x reps beyond that,
    # among several groups, or when a unit or decimals mark A as a load.
    assert parse("squat 5x5").sets == (ParsedSet(reps=5),) * 5
    assert parse("deadlift 160x1").sets == (lifted(1, "160"),)
    assert parse("curl 12x10").sets == (lifted(10, "12"),)
    assert parse("curl 10x12, 10x10").sets == (lifted(12, "10"), lifted(10, "10"))
    assert parse("curl 8kgx12").sets == (lifted(12, "8"),)
    assert parse("curl 8.5x12").sets == (lifted(12, "8.5"),)
    assert parse("squat 5x5 100, 3x3 120").sets == (lifted(5, "100"),) * 5 + (lifted(3, "120"),) * 3


def test_three_factors_read_by_size_unless_a_unit_says() -> None:
    assert parse("squat 5x5x100").sets == (lifted(5, "100"),) * 5
    assert parse("squat 100x5x3").sets == (lifted(5, "100"),) * 3
    assert parse("squat 5x5x5").sets == (lifted(5, "5"),) * 5
    assert parse("squat 40x10x3kg").sets == (lifted(10, "3"),) * 40
    assert parse("squat 3x10xbw").sets == (ParsedSet(reps=10, bodyweight=True),) * 3


def test_group_separators() -> None:
    assert parse("squat 5x5 100; 1x3 120").sets == (lifted(5, "100"),) * 5 + (lifted(3, "120"),)
    assert parse("100x5, 95x6,").sets == (lifted(5, "100"), lifted(6, "95"))


def test_fifty_sets_is_the_limit() -> None:
    assert len(parse("squat 50x1 100").sets) == 50
    assert len(parse(", ".join(["100x5"] * 50)).sets) == 50


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem", "position", "fragment", "expected"),
    [
        ("", Problem.EMPTY, 0, "", "a set log such as 'squat 5x5 100'"),
        (" \n\t ", Problem.EMPTY, 0, "", "a set log such as 'squat 5x5 100'"),
        ("squat", Problem.MISSING, 5, "", "sets and reps such as 5x5 after 'squat'"),
        ("squat 5x", Problem.MISSING, 8, "", "reps after 'x'"),
        ("squat 5 x abc", Problem.MISSING, 10, "abc", "reps after 'x'"),
        ("squat 5×", Problem.MISSING, 8, "", "reps after '×'"),
        ("x5 100", Problem.MISSING, 0, "x", "a number before 'x'"),
        ("squat 0x5 100", Problem.OUT_OF_RANGE, 6, "0", "between 1 and 50 sets"),
        ("squat 51x5 100", Problem.OUT_OF_RANGE, 6, "51", "between 1 and 50 sets"),
        ("squat 5x0 100", Problem.OUT_OF_RANGE, 8, "0", "between 1 and 100 reps"),
        ("squat 5x101 100", Problem.OUT_OF_RANGE, 8, "101", "between 1 and 100 reps"),
        ("curl 10/0 20", Problem.OUT_OF_RANGE, 8, "0", "between 1 and 100 reps"),
        ("squat 5x5.5 100", Problem.NUMBER, 8, "5.5", "a whole number of reps"),
        (
            "squat 5x5 -100",
            Problem.NEGATIVE_LOAD,
            10,
            "-100",
            "a load of zero or more (bw-20 for an assisted bodyweight set)",
        ),
        (
            "squat 5x5 @-10",
            Problem.NEGATIVE_LOAD,
            11,
            "-10",
            "a load of zero or more (bw-20 for an assisted bodyweight set)",
        ),
        ("squat 5x5 1001", Problem.OUT_OF_RANGE, 10, "1001", "a load of at most 1000 kg (2204 lb)"),
        (
            "squat 5x5 2205 lb",
            Problem.OUT_OF_RANGE,
            10,
            "2205 lb",
            "a load of at most 1000 kg (2204 lb)",
        ),
        (
            "dips 3x8 bw+1001",
            Problem.OUT_OF_RANGE,
            9,
            "bw+1001",
            "a load of at most 1000 kg (2204 lb)",
        ),
        (
            "bench 3x8 60 rpe 11",
            Problem.OUT_OF_RANGE,
            17,
            "11",
            "an RPE between 1 and 10 in steps of 0.5",
        ),
        (
            "bench 3x8 60 rpe 0",
            Problem.OUT_OF_RANGE,
            17,
            "0",
            "an RPE between 1 and 10 in steps of 0.5",
        ),
        (
            "bench 3x8 60 rpe 7.3",
            Problem.OUT_OF_RANGE,
            17,
            "7.3",
            "an RPE between 1 and 10 in steps of 0.5",
        ),
        (
            "bench 60x8 @ 11",
            Problem.OUT_OF_RANGE,
            13,
            "11",
            "an RPE between 1 and 10 in steps of 0.5",
        ),
        (
            "bench 140x8 @ 11",
            Problem.OUT_OF_RANGE,
            14,
            "11",
            "an RPE between 1 and 10 in steps of 0.5",
        ),
        ("bench 3x8 60 rpe", Problem.MISSING, 16, "", "a number after 'rpe'"),
        ("bench 3x8 60 @", Problem.MISSING, 14, "", "a load or an RPE after '@'"),
        ("bench 3x8 @ 60s", Problem.UNEXPECTED, 12, "60s", "a load or an RPE after '@'"),
        ("pullups 3x10 bw+", Problem.MISSING, 16, "", "a load after 'bw+'"),
        (
            "squat 5x5 100 110",
            Problem.DUPLICATE,
            14,
            "110",
            "one load per group of sets; put ',' before the next sets",
        ),
        (
            "squat 5x5 100 easy",
            Problem.UNEXPECTED,
            14,
            "easy",
            "a load, 'rpe', a duration, a distance or ',' before the next sets",
        ),
        (
            "squat 5x5 100 rpe 8 rpe 9",
            Problem.DUPLICATE,
            24,
            "9",
            "one RPE per group of sets",
        ),
        (
            "squat 5x5 100 3x3",
            Problem.DUPLICATE,
            14,
            "3x3",
            "one sets x reps per group; put ',' before the next sets",
        ),
        (
            "squat 3x10/8 20",
            Problem.MISMATCH,
            6,
            "3x10/8",
            "3 reps values for 3 sets (not 2), as in 3x10/8/6",
        ),
        ("squat 100", Problem.MISSING, 6, "100", "sets and reps such as 5x5"),
        ("squat 100kg rpe 8", Problem.MISSING, 6, "100kg", "sets and reps such as 5x5"),
        ("squat 5x5x5x5", Problem.UNEXPECTED, 11, "x5", "at most sets x reps x load (5x5x100)"),
        ("squat 5x100kg", Problem.UNEXPECTED, 8, "100kg", "reps after 'x', then the load: 5x5 100"),
        ("plank 60s x 3", Problem.UNEXPECTED, 6, "60s", "sets before 'x', as in 3x60s"),
        ("plank 1:75", Problem.OUT_OF_RANGE, 8, "75", "minutes and seconds from 00 to 59"),
        ("plank 1:5", Problem.MISSING, 7, ":5", "two digits after ':', as in 1:30"),
        ("plank 0s", Problem.OUT_OF_RANGE, 6, "0s", "a duration between 1 s and 24 h"),
        ("run 25h", Problem.OUT_OF_RANGE, 4, "25h", "a duration between 1 s and 24 h"),
        ("plank 0.3s", Problem.NUMBER, 6, "0.3s", "a duration in whole seconds"),
        ("plank 3x60s 30s", Problem.DUPLICATE, 12, "30s", "one duration per group of sets"),
        ("run 0km", Problem.OUT_OF_RANGE, 4, "0km", "a distance above 0 and at most 1000 km"),
        (
            "run 1001 km",
            Problem.OUT_OF_RANGE,
            4,
            "1001 km",
            "a distance above 0 and at most 1000 km",
        ),
        ("run 5km 3km", Problem.DUPLICATE, 8, "3km", "one distance per group of sets"),
        ("squat 5x5 100.12345", Problem.NUMBER, 10, "100.12345", "at most 3 decimals"),
        (
            "squat 5x5 1234567890",
            Problem.NUMBER,
            10,
            "1234567890",
            "a number of at most 9 digits",
        ),
        ("squat 5x5 100,, 3x3", Problem.MISSING, 14, ",", "sets and reps such as 5x5"),
        (
            "squat 5x5 100 #",
            Problem.UNEXPECTED,
            14,
            "#",
            "letters, digits, 'x', '@', ':', '/', '+', '-' or ','",
        ),
        (
            "squat 5x5 1\x00",
            Problem.UNEXPECTED,
            11,
            "\x00",
            "letters, digits, 'x', '@', ':', '/', '+', '-' or ','",
        ),
        (
            "squat ５x5",  # fullwidth digits are not guessed at
            Problem.UNEXPECTED,
            6,
            "５",
            "letters, digits, 'x', '@', ':', '/', '+', '-' or ','",
        ),
    ],
)
def test_errors_say_what_where_and_what_was_expected(
    text: str, problem: Problem, position: int, fragment: str, expected: str
) -> None:
    caught = error(text)
    assert (caught.problem, caught.position, caught.fragment, caught.expected) == (
        problem,
        position,
        fragment,
        expected,
    )
    assert text[position : position + len(fragment)] == fragment
    assert expected in str(caught)


def test_error_message_and_params() -> None:
    caught = error("squat 5x")
    assert str(caught) == "nothing to read at position 8: expected reps after 'x'"
    assert isinstance(caught, InvalidInput)
    assert caught.code == "invalid_set_log"
    assert caught.params == {
        "problem": "missing",
        "position": 8,
        "fragment": "",
        "expected": "reps after 'x'",
        "topic": "sets_reps",
    }
    assert str(error("squat 5x5 100 easy")) == (
        "could not read 'easy' at position 14: expected a load, 'rpe', a duration, a distance"
        " or ',' before the next sets"
    )


def test_parse_error_copies_and_pickles() -> None:
    caught = error("squat 5x")
    for clone in (copy.copy(caught), pickle.loads(pickle.dumps(caught))):
        assert isinstance(clone, ParseError)
        assert (clone.problem, clone.position, clone.fragment, clone.expected, clone.topic) == (
            caught.problem,
            caught.position,
            caught.fragment,
            caught.expected,
            caught.topic,
        )
        assert str(clone) == str(caught)


@pytest.mark.parametrize(
    "piece", ["bw ", "BW", "5x5 100, ", "x", "x ", "1h", "bw+1 ", "@", "squat ", "5:", "1,", "rpe "]
)
def test_long_repetitive_text_fails_or_parses_quickly(piece: str) -> None:
    text = (piece * 5000)[:4096]
    try:
        parse(text)
    except ParseError as caught:
        assert text.startswith(caught.fragment, caught.position)  # noqa: PT017


def test_too_many_sets_in_one_message() -> None:
    text = ", ".join(["100x5"] * 51)
    caught = error(text)
    assert caught.problem is Problem.TOO_MANY_SETS
    assert caught.position == len(text) - len("100x5")
    assert caught.fragment == "100x5"
    assert error("squat 30x5 100, 21x3 120").fragment == "21x3 120"


def test_too_long() -> None:
    caught = error("a" * 4097)
    assert (caught.problem, caught.position) == (Problem.TOO_LONG, 4096)


@pytest.mark.parametrize(
    ("text", "topic", "example"),
    [
        ("squat 5x", Topic.SETS_REPS, "squat 5x5 100"),
        ("bench 3x8 60 rpe 11", Topic.RPE, "bench 3x8 @ 60kg rpe 8"),
        ("bench 3x8 @", Topic.LOAD, "bench 3x8 @ 60kg"),
        ("squat 5x5 2000", Topic.LOAD, "bench 3x8 @ 60kg"),
        ("pullups 3x10 bw+", Topic.BODYWEIGHT, "pullups 3x10 bw+10"),
        ("plank 1:75", Topic.DURATION, "plank 3x60s"),
        ("run 0km", Topic.DISTANCE, "run 5km 25:30"),
        ("squat 5x5 100 110", Topic.LIST, "deadlift 140x5, 150x3, 160x1"),
    ],
)
def test_example_for_an_error(text: str, topic: Topic, example: str) -> None:
    caught = error(text)
    assert caught.topic is topic
    assert example_for(caught) == example
    assert parse(example).sets


# -- rendering --------------------------------------------------------------------------------


def test_render_each_form() -> None:
    log = ParsedLog("squat", (lifted(5, "100", rpe=Decimal(8)),) * 3)
    assert render_log(log, LogForm.SETS_X_REPS) == "squat 3x5 100kg rpe 8"
    assert render_log(log, LogForm.AT) == "squat 3x5 @ 100kg rpe 8"
    assert render_log(log, LogForm.LOAD_FIRST, omit_unit=KG) == "squat 100 3x5 @8"
    assert render_log(log, LogForm.TRIPLE) == "squat 3 x 5 x 100kg rpe 8"
    assert render_log(log, LogForm.LOAD_X_REPS, omit_unit=KG) == (
        "squat 100 x 5 @8, 100 x 5 @8, 100 x 5 @8"
    )
    assert render_log(log, LogForm.REPS_LIST, omit_unit=KG) == "squat 3x5/5/5 100 rpe 8"
    for form in LogForm:
        assert parse(render_log(log, form)) == log


def test_render_timed_and_bodyweight() -> None:
    run = ParsedLog("run", (ParsedSet(distance_meters=Decimal(5000), duration_seconds=1530),))
    assert render_log(run) == "run 5km 25:30"
    plank = ParsedLog("plank", (ParsedSet(duration_seconds=60),) * 3)
    assert render_log(plank) == "plank 3x1:00"
    dips = ParsedLog(None, (ParsedSet(reps=8, load=Decimal("-20"), unit=LB, bodyweight=True),))
    assert render_log(dips, LogForm.AT, decimal_comma=True) == "1x8 @ bw-20lb"
    assert render_log(ParsedLog(None, (lifted(5, "62.5"),)), decimal_comma=True) == "1x5 62,5kg"


def test_render_refuses_what_a_form_cannot_say() -> None:
    plank = ParsedLog("plank", (ParsedSet(duration_seconds=60),))
    assert not renderable(LogForm.AT, plank.sets[0])
    with pytest.raises(ValueError, match="cannot express"):
        render_log(plank, LogForm.AT)
    with pytest.raises(ValueError, match="at least one set"):
        render_log(ParsedLog("plank", ()))
