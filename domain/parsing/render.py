"""The inverse of ``parse_log``: a parsed log written back as text, in each form a person types.

``parse_log(render_log(log, form, ...), default_unit=u) == log`` for every log the form can
express (``renderable``) when ``omit_unit`` is None or ``u``. The renderer writes a load
without its unit only where the grammar cannot misread it, so it also documents the grammar's
disambiguation rules.
"""

from __future__ import annotations

import enum
from dataclasses import replace
from decimal import Decimal

from domain.parsing.grammar import MAX_BARE_SETS
from domain.parsing.model import ParsedLog, ParsedSet, Unit, tidy


class LogForm(enum.StrEnum):
    SETS_X_REPS = "sets_x_reps"  # squat 5x5 100kg rpe 8 · plank 3x60s · run 5km 25:30
    AT = "at"  # bench 3x8 @ 60kg rpe 8
    LOAD_FIRST = "load_first"  # squat 100kg 5x5 @8
    TRIPLE = "triple"  # squat 5 x 5 x 100kg
    LOAD_X_REPS = "load_x_reps"  # deadlift 140kg x 5, 150kg x 3 @9
    REPS_LIST = "reps_list"  # curl 3x12/10/8 20lb


def renderable(form: LogForm, parsed_set: ParsedSet) -> bool:
    """Whether ``form`` can express this set."""
    s = parsed_set
    if form is LogForm.SETS_X_REPS:
        return s.reps is not None or s.duration_seconds is not None or s.distance_meters is not None
    timed = s.duration_seconds is not None or s.distance_meters is not None
    if form is LogForm.REPS_LIST:
        return s.reps is not None and not timed
    loaded = s.load is not None or s.bodyweight
    return s.reps is not None and loaded and not timed


def render_log(
    log: ParsedLog,
    form: LogForm = LogForm.SETS_X_REPS,
    *,
    omit_unit: Unit | None = None,
    decimal_comma: bool = False,
) -> str:
    """``log`` as one line in ``form``; ValueError when a set does not fit the form.

    Loads in ``omit_unit`` are written without a unit where that is unambiguous (the parser's
    ``default_unit`` must then be the same); ``decimal_comma`` writes 62,5 for 62.5.
    """
    for parsed_set in log.sets:
        if not renderable(form, parsed_set):
            raise ValueError(f"{form.value} cannot express {parsed_set!r}")
    if not log.sets:
        raise ValueError("a log has at least one set")
    writer = _Writer(omit_unit, decimal_comma)
    if form is LogForm.LOAD_X_REPS:
        runs = [(s, 1) for s in log.sets]
        multi = len(runs) > 1
        groups = [writer.load_x_reps(s, multi=multi) for s, _ in runs]
    elif form is LogForm.REPS_LIST:
        groups = writer.reps_lists(log.sets)
    else:
        runs = _runs(log.sets)
        multi = len(runs) > 1
        write = {
            LogForm.SETS_X_REPS: writer.sets_x_reps,
            LogForm.AT: writer.at,
            LogForm.LOAD_FIRST: writer.load_first,
            LogForm.TRIPLE: writer.triple,
        }[form]
        groups = [write(s, count, multi=multi) for s, count in runs]
    body = ", ".join(groups)
    return f"{log.exercise_text} {body}" if log.exercise_text else body


def _runs(sets: tuple[ParsedSet, ...]) -> list[tuple[ParsedSet, int]]:
    runs: list[tuple[ParsedSet, int]] = []
    for parsed_set in sets:
        if runs and runs[-1][0] == parsed_set:
            runs[-1] = (parsed_set, runs[-1][1] + 1)
        else:
            runs.append((parsed_set, 1))
    return runs


def _decimals(value: Decimal) -> int:
    exponent = tidy(value).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


class _Writer:
    def __init__(self, omit_unit: Unit | None, decimal_comma: bool) -> None:
        self.omit_unit = omit_unit
        self.decimal_comma = decimal_comma

    def number(self, value: Decimal) -> str:
        text = format(tidy(value), "f")
        return text.replace(".", ",") if self.decimal_comma else text

    def can_omit(self, s: ParsedSet) -> bool:
        """A unit may be left out when it is the default and the number stays one token
        (a decimal comma with three decimals is only read with a unit glued to it)."""
        assert s.load is not None
        return s.unit == self.omit_unit and not (self.decimal_comma and _decimals(s.load) > 2)

    def load(self, s: ParsedSet, *, bare: bool) -> str:
        """The load of ``s``; ``bare``: the place allows a number without a unit."""
        if s.load is None:
            assert s.bodyweight
            return "bw"
        # bw+10 is a load wherever it stands; a plain number only where ``bare`` says so.
        unit = "" if (bare or s.bodyweight) and self.can_omit(s) else str(s.unit)
        if s.bodyweight:
            sign = "-" if s.load < 0 else "+"
            return f"bw{sign}{self.number(abs(s.load))}{unit}"
        return f"{self.number(s.load)}{unit}"

    def rpe(self, s: ParsedSet, *, at: bool) -> str:
        if s.rpe is None:
            return ""
        return f" @{self.number(s.rpe)}" if at else f" rpe {self.number(s.rpe)}"

    def duration(self, seconds: int) -> str:
        if seconds < 60:
            return f"{seconds}s"
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

    def distance(self, meters: Decimal) -> str:
        if meters % 1000 == 0:
            return f"{self.number(meters / 1000)}km"
        return f"{self.number(meters)}m"

    def sets_x_reps(self, s: ParsedSet, count: int, *, multi: bool) -> str:
        loaded = s.load is not None or s.bodyweight
        parts: list[str] = []
        if s.reps is not None:
            # A bare "3x10" with no load reads as load x reps among several groups or past
            # 10 sets: "reps" marks the pair as sets x reps.
            ambiguous = not loaded and (multi or count > MAX_BARE_SETS)
            parts.append(f"{count}x{s.reps}" + (" reps" if ambiguous else ""))
            if s.distance_meters is not None:
                parts.append(self.distance(s.distance_meters))
            if s.duration_seconds is not None:
                parts.append(self.duration(s.duration_seconds))
        elif s.distance_meters is not None:
            distance = self.distance(s.distance_meters)
            parts.append(distance if count == 1 else f"{count}x{distance}")
            if s.duration_seconds is not None:
                parts.append(self.duration(s.duration_seconds))
        else:
            assert s.duration_seconds is not None
            duration = self.duration(s.duration_seconds)
            parts.append(duration if count == 1 else f"{count}x{duration}")
        if loaded:
            parts.append(self.load(s, bare=True))
        return " ".join(parts) + self.rpe(s, at=False)

    def at(self, s: ParsedSet, count: int, *, multi: bool) -> str:
        # A bare "@N" with no other load is the RPE when N <= 10 and "count x reps" would read
        # as load x reps (several groups, or more than 10 sets), unless an "rpe" is written.
        assert s.reps is not None
        bare = (
            s.rpe is not None
            or (s.load is not None and s.load > 10)
            or not (multi or count > MAX_BARE_SETS)
        )
        return f"{count}x{s.reps} @ {self.load(s, bare=bare)}" + self.rpe(s, at=False)

    def load_first(self, s: ParsedSet, count: int, *, multi: bool) -> str:
        del multi  # a load before the sets is always a load
        return f"{self.load(s, bare=True)} {count}x{s.reps}" + self.rpe(s, at=True)

    def triple(self, s: ParsedSet, count: int, *, multi: bool) -> str:
        # Three bare numbers read as load x reps x sets when the first is the larger one.
        del multi
        bare = s.load is not None and (s.load != s.load.to_integral_value() or count <= s.load)
        return f"{count} x {s.reps} x {self.load(s, bare=bare)}" + self.rpe(s, at=False)

    def load_x_reps(self, s: ParsedSet, *, multi: bool) -> str:
        # A bare "A x B" reads as load x reps among several groups or when A > 10.
        bare = s.load is not None and (
            multi or s.load > MAX_BARE_SETS or s.load != s.load.to_integral_value()
        )
        return f"{self.load(s, bare=bare)} x {s.reps}" + self.rpe(s, at=True)

    def reps_lists(self, sets: tuple[ParsedSet, ...]) -> list[str]:
        runs: list[tuple[ParsedSet, list[int]]] = []
        for s in sets:
            assert s.reps is not None
            key = replace(s, reps=None)
            if runs and runs[-1][0] == key:
                runs[-1][1].append(s.reps)
            else:
                runs.append((key, [s.reps]))
        groups: list[str] = []
        for key, reps in runs:
            loaded = key.load is not None or key.bodyweight
            if len(reps) > 1:
                text = f"{len(reps)}x" + "/".join(map(str, reps))
            elif loaded:
                text = f"1x{reps[0]}"
            else:
                text = f"{reps[0]} reps"
            if loaded:
                text += " " + self.load(key, bare=True)
            groups.append(text + self.rpe(key, at=False))
        return groups
