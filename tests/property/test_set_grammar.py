"""Property tests of the set-log grammar (no database).

1. Round trip: a generated session, written in any supported form (with or without the default
   unit, with a decimal point or comma), parses back to exactly the same sets.
2. Robustness: any string at all either parses to sets within the limits or raises ParseError;
   never anything else.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.parsing import (
    LogForm,
    ParsedLog,
    ParsedSet,
    ParseError,
    Unit,
    example_for,
    parse_log,
    render_log,
    renderable,
)
from domain.parsing.model import (
    MAX_DISTANCE_METERS,
    MAX_DURATION_SECONDS,
    MAX_LOAD_KG,
    MAX_REPS,
    MAX_SETS,
    MAX_TEXT_LENGTH,
    load_in_kg,
)

EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAMES = [
    None,
    "squat",
    "Bench Press",
    "développé couché",
    "присед",
    "жим лёжа",
    "T-Bar Row",
    "clean & jerk",
    "farmer's walk",
    "romanian deadlift (rdl)",
    "bw squat",
]

thousandths = st.integers(min_value=0, max_value=999).map(lambda n: Decimal(n).scaleb(-3))


@st.composite
def loads(draw: st.DrawFn, unit: Unit) -> Decimal:
    """A load within the limit, with 0 to 3 decimals, biased to the usual plates."""
    limit = 1000 if unit is Unit.KG else 2204
    whole = draw(
        st.one_of(
            st.integers(min_value=0, max_value=300),
            st.integers(min_value=0, max_value=limit - 1),
        )
    )
    fraction = draw(
        st.one_of(
            st.just(Decimal(0)),
            st.sampled_from([Decimal("0.5"), Decimal("0.25"), Decimal("0.75")]),
            thousandths,
        )
    )
    return Decimal(whole) + fraction


@st.composite
def load_fields(draw: st.DrawFn, *, required: bool) -> dict[str, object]:
    kinds = ["plain", "bodyweight", "bodyweight_added"] + ([] if required else ["none"])
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return {}
    if kind == "bodyweight":
        return {"bodyweight": True}
    unit = draw(st.sampled_from(Unit))
    load = draw(loads(unit))
    if kind == "bodyweight_added":
        sign = draw(st.sampled_from([1, -1]))
        return {"bodyweight": True, "load": load * sign, "unit": unit}
    return {"load": load, "unit": unit}


rpes = st.none() | st.integers(min_value=2, max_value=20).map(lambda n: Decimal(n) / 2)
reps = st.integers(min_value=1, max_value=MAX_REPS)
durations = st.integers(min_value=1, max_value=MAX_DURATION_SECONDS)
distances = st.one_of(
    st.integers(min_value=1, max_value=1000).map(lambda km: Decimal(km * 1000)),
    st.integers(min_value=1, max_value=1_000_000_000).map(lambda mm: Decimal(mm).scaleb(-3)),
    st.integers(min_value=1, max_value=100).map(lambda mi: mi * Decimal("1609.344")),
)


@st.composite
def sets_for(draw: st.DrawFn, form: LogForm) -> ParsedSet:
    if form is LogForm.SETS_X_REPS:
        fields: dict[str, object] = {
            "reps": draw(st.none() | reps),
            "duration_seconds": draw(st.none() | durations),
            "distance_meters": draw(st.none() | distances),
        }
        if all(value is None for value in fields.values()):
            fields["reps"] = draw(reps)
        fields.update(draw(load_fields(required=False)))
    else:
        fields = {"reps": draw(reps)}
        fields.update(draw(load_fields(required=form is not LogForm.REPS_LIST)))
    fields["rpe"] = draw(rpes)
    parsed_set = ParsedSet(**fields)  # type: ignore[arg-type]
    assert renderable(form, parsed_set)
    return parsed_set


@st.composite
def sessions(draw: st.DrawFn) -> tuple[LogForm, ParsedLog]:
    form = draw(st.sampled_from(LogForm))
    groups = draw(st.lists(st.tuples(sets_for(form), st.integers(1, 12)), min_size=1, max_size=6))
    sets: list[ParsedSet] = []
    for parsed_set, count in groups:
        sets.extend([parsed_set] * min(count, MAX_SETS - len(sets)))
    if form is LogForm.REPS_LIST:
        # Vary the reps inside runs of equal loads: 3x10/8/6.
        sets = [
            ParsedSet(
                reps=draw(reps) if draw(st.booleans()) else s.reps,
                load=s.load,
                unit=s.unit,
                bodyweight=s.bodyweight,
                rpe=s.rpe,
            )
            for s in sets
        ]
    return form, ParsedLog(draw(st.sampled_from(NAMES)), tuple(sets))


@EXAMPLES
@given(
    session=sessions(),
    default_unit=st.sampled_from(Unit),
    omit=st.booleans(),
    decimal_comma=st.booleans(),
)
def test_every_form_parses_back_to_the_same_sets(
    session: tuple[LogForm, ParsedLog], default_unit: Unit, omit: bool, decimal_comma: bool
) -> None:
    form, log = session
    text = render_log(
        log, form, omit_unit=default_unit if omit else None, decimal_comma=decimal_comma
    )
    assert parse_log(text, default_unit=default_unit) == log, text
    # Case and spacing never matter.
    loud = "  " + text.upper().replace(" ", "   ") + " "
    if len(loud) <= MAX_TEXT_LENGTH:
        assert parse_log(loud, default_unit=default_unit).sets == log.sets, loud


SOUP = [
    "5", "x", "X", "×", "*", "х", "@", "kg", "lb", "lbs", "кг", "bw", "bw+", "bw-", "+", "-",
    ",", ";", "/", ":", ".", "62,5", "62.5", "30", "00", "rpe", "RPE", "s", "sec", "min", "h",
    "m", "km", "mi", "reps", "squat", "присед", "1h05", "1m30s", "25:30", "3x10/8/6", "0",
    "101", "51", "9" * 30, "1" * 5000, "\x00", "\n", "\t", "\u00a0", "\u0301", "５", "−", "(",
    "'", "1h", "05:00", "2min", "3mi", "bodyweight", "kgx", "xbw", "@rpe", " ", " ", " ",
]  # fmt: skip


def check_error(text: str, error: ParseError) -> None:
    assert 0 <= error.position <= len(text)
    assert text[error.position : error.position + len(error.fragment)] == error.fragment
    assert error.expected
    assert example_for(error)


def check_outcome(text: str, default_unit: Unit) -> None:
    """Sets within every limit, or a ParseError that points into the text."""
    try:
        log = parse_log(text, default_unit=default_unit)
    except ParseError as error:
        failure: ParseError | None = error
    else:
        failure = None
    if failure is not None:
        check_error(text, failure)
        return
    assert 1 <= len(log.sets) <= MAX_SETS
    for s in log.sets:
        assert s.reps is not None or s.duration_seconds is not None or s.distance_meters is not None
        assert s.reps is None or 1 <= s.reps <= MAX_REPS
        assert (s.load is None) == (s.unit is None)
        if s.load is not None and s.unit is not None:
            assert s.bodyweight or s.load >= 0
            assert abs(load_in_kg(s.load, s.unit)) <= MAX_LOAD_KG
        assert s.rpe is None or (1 <= s.rpe <= 10 and (s.rpe * 2) % 1 == 0)
        assert s.duration_seconds is None or 1 <= s.duration_seconds <= MAX_DURATION_SECONDS
        assert s.distance_meters is None or 0 < s.distance_meters <= MAX_DISTANCE_METERS
    if log.exercise_text is not None:
        assert log.exercise_text == " ".join(log.exercise_text.split())
        assert log.exercise_text


@EXAMPLES
@given(text=st.text(max_size=300), default_unit=st.sampled_from(Unit))
def test_any_text_parses_or_raises_parse_error(text: str, default_unit: Unit) -> None:
    check_outcome(text, default_unit)


@EXAMPLES
@given(
    pieces=st.lists(
        st.sampled_from(SOUP) | st.integers(min_value=0, max_value=10**60).map(str),
        max_size=25,
    ),
    default_unit=st.sampled_from(Unit),
)
def test_grammar_soup_parses_or_raises_parse_error(pieces: list[str], default_unit: Unit) -> None:
    check_outcome("".join(pieces), default_unit)
