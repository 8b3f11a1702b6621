"""Recursive-descent parser of free-text set logs ("squat 5x5 100", "140x5, 150x3").

Grammar (tokens from ``lexer``; case is ignored, whitespace separates but is never required):

    log        = [ name ] group { ( "," | ";" ) group } [ "," | ";" ]
    name       = word { word | "(" | ")" | "&" | "'" | "." | ( "/" | "-" | "+" ) word }
    group      = item { item }
    item       = product                       (* 5x5, 140x5, 5x5x100, 3x10/8/6, 60kg, 45s *)
               | "@" ( factor | rpe )          (* @ 60kg; a bare @8 may be an RPE, see below *)
               | rpe
    rpe        = "rpe" number
    product    = factor { times factor }       (* at most three factors *)
    times      = "x" | "×" | "*" | "х"         (* the last is Cyrillic; glued or spaced *)
    factor     = bodyweight | clock | duration | number [ unit ] | int "/" int { "/" int }
    bodyweight = ( "bw" | "bodyweight" ) [ ( "+" | "-" ) number [ load_unit ] ]
    clock      = int ":" dd [ ":" dd ]         (* m:ss or h:mm:ss *)
    duration   = number time_unit { number smaller_time_unit }
               | number "h" ( dd ":" dd | dd )  (* 1h05:00, 1h05 *)
               | int "m" int "s"               (* 1m30s, glued; "m" is metres elsewhere *)
    unit       = load_unit | time_unit | distance_unit | "rep" | "reps"
    load_unit  = "kg" | "kgs" | "кг" | "lb" | "lbs"
    time_unit  = "s" | "sec" | "secs" | "second(s)" | "с" | "сек" | "min" | "mins"
               | "minute(s)" | "мин" | "h" | "hr" | "hrs" | "hour(s)" | "ч"
    distance_unit = "m" | "meter(s)" | "metre(s)" | "м" | "km" | "км" | "mi" | "mile(s)"
    number     = digits [ ( "." | "," ) digits ]  (* ASCII digits; "," see below *)

A name is words of letters (any script, accents and combining marks included; no digits) and
ends at the first number, "x", "@", "rpe", or "bw" used as a load ("bw squat 3x20" is a name,
"pullups bw 3x10" a load). It is returned as typed, trimmed, inner whitespace collapsed.

Meaning of a group (one or more identical sets, or a reps list):

- ``S x R`` sets x reps; ``R/R/R`` or ``S x R/R/R`` one set per reps value;
  ``S x 60s`` / ``S x 400m`` sets of a duration or a distance; ``S x R reps`` always sets.
- ``L x R`` one set of load x reps, when L is marked as a load (a unit, ``bw``, decimals), or
  when the group has no other load and either is one of several groups
  (``100x5, 100x5, 95x6``) or L > 10 (``deadlift 160x1``); otherwise a bare ``A x B`` is
  sets x reps (``squat 5x5``, ``squat 5x5 100``).
- ``A x B x C``: sets x reps x load, or load x reps x sets when A is marked as a load or
  A > C (``100x5x3``).
- A bare number, ``60kg``, ``bw``, ``bw+10``, ``bw-20`` or ``@ 60`` is the group's load (one
  per group). A bare ``@N`` is the RPE when the group already has a load (``5x5 100 @8``), or
  when the pair reads as load x reps and N <= 10 or A > 50 (``140x5 @8``); otherwise it is the
  load (``3x8 @ 60``, ``3x8 @ 8``). With an ``rpe`` in the group, ``@N`` is always the load.
- ``25:30``, ``45s``, ``2min``, ``1h05:00``, ``1m30s`` durations; ``400m``, ``5 km``, ``3mi``
  distances. A group without sets x reps is one set when it has a duration or a distance
  (``run 5km 25:30``, ``plank 60s``) or reps (``20 reps``); a load alone is an error.
- A decimal comma (``62,5``) is glued to digits on both sides, has at most two decimals unless
  a unit follows at once (``4,828km``), and is never read in the reps place of ``A x B``: there
  a comma separates sets (``140x5,150x3``) unless a time or distance unit follows.

Limits (``model``): 1-50 sets per message, 1-100 reps, loads 0-1000 kg (2204 lb; an added or
assisting bodyweight load likewise), RPE 1-10 in halves, durations 1 s-24 h in whole seconds,
distances above 0 up to 1000 km, at most 9 integer digits and 3 decimals, 4096 characters.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

from domain.parsing.lexer import Kind, Token, tokenize
from domain.parsing.model import (
    MAX_DISTANCE_METERS,
    MAX_DURATION_SECONDS,
    MAX_FRACTION_DIGITS,
    MAX_INTEGER_DIGITS,
    MAX_LOAD_KG,
    MAX_REPS,
    MAX_SETS,
    METERS_PER_MILE,
    ParsedLog,
    ParsedSet,
    ParseError,
    Problem,
    Topic,
    Unit,
    load_in_kg,
    tidy,
)

LOAD_UNITS: dict[str, Unit] = {
    "kg": Unit.KG,
    "kgs": Unit.KG,
    "кг": Unit.KG,
    "lb": Unit.LB,
    "lbs": Unit.LB,
}
TIME_UNITS: dict[str, int] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds", "с", "сек"), 1),
    **dict.fromkeys(("min", "mins", "minute", "minutes", "мин"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours", "ч"), 3600),
}
DISTANCE_UNITS: dict[str, Decimal] = {
    **dict.fromkeys(("m", "meter", "meters", "metre", "metres", "м"), Decimal(1)),
    **dict.fromkeys(("km", "км"), Decimal(1000)),
    **dict.fromkeys(("mi", "mile", "miles"), METERS_PER_MILE),
}
REPS_WORDS = frozenset({"rep", "reps"})
BODYWEIGHT_WORDS = frozenset({"bw", "bodyweight"})
RPE_WORDS = frozenset({"rpe"})
MINUTE_WORDS = frozenset({"m", "м"})  # minutes only in "1m30s"; elsewhere metres

# A bare "A x B" with no load around reads as sets x reps up to this many sets.
MAX_BARE_SETS = 10
RPE_MIN, RPE_MAX = Decimal(1), Decimal(10)

_SPLITTABLE = frozenset(LOAD_UNITS) | REPS_WORDS | BODYWEIGHT_WORDS

_EXPECT_SETS = "sets and reps such as 5x5"
_EXPECT_MORE = "a load, 'rpe', a duration, a distance or ',' before the next sets"


class _Kind(enum.Enum):
    BARE = "number"
    LOAD = "load"
    BODYWEIGHT = "bodyweight"
    DURATION = "duration"
    DISTANCE = "distance"
    REPS = "reps"
    REPS_LIST = "reps list"


@dataclass(frozen=True, slots=True)
class _Factor:
    kind: _Kind
    start: int
    end: int
    value: Decimal = Decimal(0)  # BARE number; LOAD; BODYWEIGHT added load (signed)
    fraction: bool = False  # BARE typed with decimals: a load, never sets or reps
    unit: Unit | None = None  # LOAD; BODYWEIGHT with an added load
    has_load: bool = False  # BODYWEIGHT with an added load
    seconds: int = 0  # DURATION
    meters: Decimal = Decimal(0)  # DISTANCE
    reps: tuple[int, ...] = ()  # REPS, REPS_LIST

    @property
    def load_marked(self) -> bool:
        return self.kind in (_Kind.LOAD, _Kind.BODYWEIGHT) or (
            self.kind is _Kind.BARE and self.fraction
        )


@dataclass(slots=True)
class _Group:
    start: int
    end: int
    scheme: list[_Factor] | None = None  # a product of 2-3 factors, or one REPS / REPS_LIST
    load: _Factor | None = None
    ats: list[_Factor] = field(default_factory=list)
    rpe: _Factor | None = None
    duration: _Factor | None = None
    distance: _Factor | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.scheme or self.load or self.ats or self.rpe or self.duration or self.distance
        )


def parse_log(text: str, *, default_unit: Unit) -> ParsedLog:
    """Parse one message of logged sets. Raises ParseError (and nothing else) when it fails.

    ``default_unit`` is the unit of a load typed without one.
    """
    return _Parser(text, default_unit).parse()


class _Parser:
    def __init__(self, text: str, default_unit: Unit) -> None:
        self.text = text
        self.default_unit = default_unit
        self.tokens: list[Token] = []
        self.index = 0
        self.bodyweight_keyword: dict[int, bool] = {}  # token index → "bw" is a load there

    # -- token access ------------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.peek()
        if token.kind is not Kind.END:
            self.index += 1
        return token

    def fail(
        self,
        problem: Problem,
        start: int,
        end: int,
        expected: str,
        topic: Topic = Topic.SETS_REPS,
    ) -> ParseError:
        return ParseError(
            problem=problem,
            position=start,
            fragment=self.text[start:end],
            expected=expected,
            topic=topic,
        )

    def fail_at(
        self, problem: Problem, token: Token, expected: str, topic: Topic = Topic.SETS_REPS
    ) -> ParseError:
        return self.fail(problem, token.start, token.end, expected, topic)

    def fail_on(
        self, problem: Problem, factor: _Factor, expected: str, topic: Topic = Topic.SETS_REPS
    ) -> ParseError:
        return self.fail(problem, factor.start, factor.end, expected, topic)

    def _is_keyword(self, ahead: int) -> bool:
        token = self.peek(ahead)
        if token.kind is not Kind.WORD:
            return False
        if token.norm in RPE_WORDS:
            return True
        if token.norm not in BODYWEIGHT_WORDS:
            return False
        # "bw squat 3x10" names an exercise; "pullups bw+10 3x10" is a load. A run of "bw"
        # words is decided by the first token after it, once for the whole run.
        first = self.index + ahead
        if first not in self.bodyweight_keyword:
            run = [first]
            while self.peek(run[-1] + 1 - self.index).norm in BODYWEIGHT_WORDS:
                run.append(run[-1] + 1)
            after = self.peek(run[-1] + 1 - self.index)
            keyword = not (after.kind is Kind.WORD and after.norm not in RPE_WORDS)
            self.bodyweight_keyword.update(dict.fromkeys(run, keyword))
        return self.bodyweight_keyword[first]

    # -- log, name, groups ----------------------------------------------------------------------

    def parse(self) -> ParsedLog:
        self.tokens = tokenize(self.text, splittable=_SPLITTABLE)
        if self.peek().kind is Kind.END:
            raise ParseError(
                problem=Problem.EMPTY,
                position=0,
                fragment="",
                expected="a set log such as 'squat 5x5 100'",
            )
        name = self._name()
        groups: list[_Group] = []
        while True:
            groups.append(self._group(name if not groups else None))
            if self.peek().kind is Kind.END:
                break
            self.advance()  # "," or ";": a group stops at nothing else
            if self.peek().kind is Kind.END:
                break
        sets: list[ParsedSet] = []
        for group in groups:
            resolved = self._resolve(group, multi=len(groups) > 1)
            if len(sets) + len(resolved) > MAX_SETS:
                raise self.fail(
                    Problem.TOO_MANY_SETS,
                    group.start,
                    group.end,
                    f"at most {MAX_SETS} sets in one message",
                    Topic.LIST,
                )
            sets.extend(resolved)
        return ParsedLog(exercise_text=name, sets=tuple(sets))

    def _name(self) -> str | None:
        first = self.peek()
        if first.kind is not Kind.WORD or self._is_keyword(0):
            return None
        last = first
        while True:
            token = self.peek()
            if (token.kind is Kind.WORD and not self._is_keyword(0)) or token.kind is Kind.PUNCT:
                last = self.advance()
            elif (
                token.kind in (Kind.SLASH, Kind.MINUS, Kind.PLUS)
                and self.peek(1).kind is Kind.WORD
                and not self._is_keyword(1)
            ):
                self.advance()
            else:
                break
        return " ".join(self.text[first.start : last.end].split())

    def _group(self, name: str | None) -> _Group:
        first = self.peek()
        group = _Group(start=first.start, end=first.start)
        while True:
            token = self.peek()
            if token.kind in (Kind.END, Kind.COMMA, Kind.SEMI):
                break
            if token.kind is Kind.AT:
                self._at(group)
            elif token.kind is Kind.WORD and token.norm in RPE_WORDS:
                self._rpe(group)
            elif token.kind is Kind.MINUS and self.peek(1).kind is Kind.NUM:
                raise self._negative()
            elif token.kind is Kind.NUM or (
                token.kind is Kind.WORD and token.norm in BODYWEIGHT_WORDS
            ):
                self._add_product(group, self._product())
            elif token.kind is Kind.TIMES:
                raise self.fail_at(Problem.MISSING, token, f"a number before {token.text!r}")
            else:
                raise self.fail_at(
                    Problem.UNEXPECTED, token, _EXPECT_SETS if group.empty else _EXPECT_MORE
                )
            group.end = self.tokens[self.index - 1].end
        if group.empty:
            expected = _EXPECT_SETS + (f" after {name!r}" if name else "")
            raise self.fail_at(Problem.MISSING, token, expected)
        return group

    def _negative(self) -> ParseError:
        minus, number = self.peek(), self.peek(1)
        return self.fail(
            Problem.NEGATIVE_LOAD,
            minus.start,
            number.end,
            "a load of zero or more (bw-20 for an assisted bodyweight set)",
            Topic.LOAD,
        )

    def _at(self, group: _Group) -> None:
        at = self.advance()
        token = self.peek()
        if token.kind is Kind.WORD and token.norm in RPE_WORDS:
            self._rpe(group)
            return
        if token.kind is Kind.MINUS and self.peek(1).kind is Kind.NUM:
            raise self._negative()
        factor = self._factor(reps_place=False)
        if factor is None or factor.kind not in (_Kind.BARE, _Kind.LOAD, _Kind.BODYWEIGHT):
            end = factor.end if factor else token.end
            raise self.fail(
                Problem.MISSING if factor is None else Problem.UNEXPECTED,
                token.start,
                end,
                f"a load or an RPE after {at.text!r}",
                Topic.LOAD,
            )
        group.ats.append(factor)

    def _rpe(self, group: _Group) -> None:
        keyword = self.advance()
        token = self.peek()
        if token.kind is not Kind.NUM:
            raise self.fail_at(
                Problem.MISSING, token, f"a number after {keyword.text!r}", Topic.RPE
            )
        value, fraction, start, end = self._number(reps_place=False)
        factor = _Factor(_Kind.BARE, start, end, value=value, fraction=fraction)
        if group.rpe is not None:
            raise self.fail_on(Problem.DUPLICATE, factor, "one RPE per group of sets", Topic.RPE)
        group.rpe = factor

    def _add_product(self, group: _Group, product: list[_Factor]) -> None:
        head = product[0]
        if len(product) > 1 or head.kind in (_Kind.REPS, _Kind.REPS_LIST):
            if group.scheme is not None:
                raise self.fail(
                    Problem.DUPLICATE,
                    head.start,
                    product[-1].end,
                    "one sets x reps per group; put ',' before the next sets",
                    Topic.LIST,
                )
            group.scheme = product
            return
        if head.kind is _Kind.DURATION:
            if group.duration is not None:
                raise self.fail_on(
                    Problem.DUPLICATE, head, "one duration per group of sets", Topic.DURATION
                )
            group.duration = head
        elif head.kind is _Kind.DISTANCE:
            if group.distance is not None:
                raise self.fail_on(
                    Problem.DUPLICATE, head, "one distance per group of sets", Topic.DISTANCE
                )
            group.distance = head
        else:
            if group.load is not None:
                raise self._duplicate_load(head)
            group.load = head

    def _duplicate_load(self, factor: _Factor) -> ParseError:
        return self.fail_on(
            Problem.DUPLICATE,
            factor,
            "one load per group of sets; put ',' before the next sets",
            Topic.LIST,
        )

    # -- factors ----------------------------------------------------------------------------

    def _product(self) -> list[_Factor]:
        first = self._factor(reps_place=False)
        assert first is not None  # the caller saw a number or a bodyweight word
        product = [first]
        while self.peek().kind is Kind.TIMES:
            times = self.advance()
            token = self.peek()
            if token.kind is Kind.MINUS and self.peek(1).kind is Kind.NUM:
                raise self._negative()
            factor = self._factor(reps_place=len(product) == 1)
            if factor is None:
                raise self.fail_at(Problem.MISSING, token, f"reps after {times.text!r}")
            if len(product) == 3:
                raise self.fail(
                    Problem.UNEXPECTED,
                    times.start,
                    factor.end,
                    "at most sets x reps x load (5x5x100)",
                )
            product.append(factor)
        return product

    def _number(self, *, reps_place: bool) -> tuple[Decimal, bool, int, int]:
        """The number at the cursor (a NUM token): value, typed with decimals, span."""
        token = self.advance()
        integer, _, fraction = token.text.partition(".")
        end = token.end
        comma, digits, after = self.peek(), self.peek(1), self.peek(2)
        if (
            not fraction
            and comma.kind is Kind.COMMA
            and not comma.spaced
            and digits.kind is Kind.NUM
            and not digits.spaced
            and "." not in digits.text
        ):
            glued_unit = after.kind is Kind.WORD and not after.spaced
            unit_follows = glued_unit and (
                after.norm in TIME_UNITS
                or after.norm in DISTANCE_UNITS
                or (not reps_place and after.norm in LOAD_UNITS)
            )
            if unit_follows or (not reps_place and len(digits.text) <= 2):
                self.advance()
                self.advance()
                fraction, end = digits.text, digits.end
        if len(integer) > MAX_INTEGER_DIGITS:
            raise self.fail(
                Problem.NUMBER,
                token.start,
                end,
                f"a number of at most {MAX_INTEGER_DIGITS} digits",
            )
        if len(fraction) > MAX_FRACTION_DIGITS:
            raise self.fail(
                Problem.NUMBER,
                token.start,
                end,
                f"at most {MAX_FRACTION_DIGITS} decimals",
            )
        value = Decimal(f"{integer}.{fraction}") if fraction else Decimal(integer)
        return tidy(value), bool(fraction), token.start, end

    def _factor(self, *, reps_place: bool) -> _Factor | None:
        token = self.peek()
        if token.kind is Kind.WORD and token.norm in BODYWEIGHT_WORDS:
            return self._bodyweight()
        if token.kind is not Kind.NUM:
            return None
        value, fraction, start, end = self._number(reps_place=reps_place)
        after = self.peek()
        if after.kind is Kind.COLON and not after.spaced and not fraction:
            seconds, end = self._clock(value, start)
            return self._duration_factor(Decimal(seconds), start, end)
        if after.kind is Kind.SLASH and not fraction:
            return self._reps_list(value, start, end)
        if after.kind is not Kind.WORD:
            return _Factor(_Kind.BARE, start, end, value=value, fraction=fraction)
        unit = after.norm
        if unit in LOAD_UNITS:
            self.advance()
            return self._load(_Kind.LOAD, value, LOAD_UNITS[unit], start, after.end)
        if unit in REPS_WORDS:
            self.advance()
            reps = self._whole_reps(value, fraction, start, after.end)
            return _Factor(_Kind.REPS, start, after.end, reps=(reps,))
        if unit in TIME_UNITS or self._minutes_at(0):
            return self._duration(value, start)
        if unit in DISTANCE_UNITS:
            self.advance()
            meters = tidy(value * DISTANCE_UNITS[unit])
            if not 0 < meters <= MAX_DISTANCE_METERS:
                raise self.fail(
                    Problem.OUT_OF_RANGE,
                    start,
                    after.end,
                    f"a distance above 0 and at most {MAX_DISTANCE_METERS // 1000} km",
                    Topic.DISTANCE,
                )
            return _Factor(_Kind.DISTANCE, start, after.end, meters=meters)
        return _Factor(_Kind.BARE, start, end, value=value, fraction=fraction)

    def _load(self, kind: _Kind, value: Decimal, unit: Unit, start: int, end: int) -> _Factor:
        if abs(load_in_kg(value, unit)) > MAX_LOAD_KG:
            raise self.fail(
                Problem.OUT_OF_RANGE,
                start,
                end,
                f"a load of at most {MAX_LOAD_KG} kg (2204 lb)",
                Topic.BODYWEIGHT if kind is _Kind.BODYWEIGHT else Topic.LOAD,
            )
        return _Factor(kind, start, end, value=value, unit=unit, has_load=True)

    def _bodyweight(self) -> _Factor:
        word = self.advance()
        sign = self.peek()
        if sign.kind not in (Kind.PLUS, Kind.MINUS):
            return _Factor(_Kind.BODYWEIGHT, word.start, word.end)
        self.advance()
        if self.peek().kind is not Kind.NUM:
            raise self.fail_at(
                Problem.MISSING,
                self.peek(),
                f"a load after {self.text[word.start : sign.end]!r}",
                Topic.BODYWEIGHT,
            )
        value, _, _, end = self._number(reps_place=False)
        unit = self.default_unit
        if self.peek().kind is Kind.WORD and self.peek().norm in LOAD_UNITS:
            unit_token = self.advance()
            unit, end = LOAD_UNITS[unit_token.norm], unit_token.end
        signed = tidy(-value if sign.kind is Kind.MINUS else value)
        return self._load(_Kind.BODYWEIGHT, signed, unit, word.start, end)

    def _reps_list(self, first: Decimal, start: int, end: int) -> _Factor:
        reps = [self._whole_reps(first, False, start, end)]
        while self.peek().kind is Kind.SLASH:
            slash = self.advance()
            token = self.peek()
            if token.kind is not Kind.NUM:
                raise self.fail_at(Problem.MISSING, token, f"reps after {slash.text!r}")
            value, fraction, value_start, end = self._number(reps_place=True)
            reps.append(self._whole_reps(value, fraction, value_start, end))
        return _Factor(_Kind.REPS_LIST, start, end, reps=tuple(reps))

    def _whole_reps(self, value: Decimal, fraction: bool, start: int, end: int) -> int:
        if fraction:
            raise self.fail(Problem.NUMBER, start, end, "a whole number of reps")
        if not 1 <= value <= MAX_REPS:
            raise self.fail(Problem.OUT_OF_RANGE, start, end, f"between 1 and {MAX_REPS} reps")
        return int(value)

    # -- durations --------------------------------------------------------------------------

    def _clock(self, first: Decimal, start: int) -> tuple[int, int]:
        """``m:ss`` or ``h:mm:ss``; the cursor is on the first ':'."""
        fields = [int(first)]
        end = start
        while self.peek().kind is Kind.COLON and not self.peek().spaced and len(fields) < 3:
            colon = self.advance()
            token = self.peek()
            if token.kind is not Kind.NUM or token.spaced or len(token.text) != 2:
                raise self.fail(
                    Problem.MISSING,
                    colon.start,
                    max(token.end, colon.end),
                    f"two digits after {colon.text!r}, as in 1:30",
                    Topic.DURATION,
                )
            self.advance()
            if int(token.text) >= 60:
                raise self.fail_at(
                    Problem.OUT_OF_RANGE, token, "minutes and seconds from 00 to 59", Topic.DURATION
                )
            fields.append(int(token.text))
            end = token.end
        if len(fields) == 2:
            return fields[0] * 60 + fields[1], end
        return fields[0] * 3600 + fields[1] * 60 + fields[2], end

    def _minutes_at(self, ahead: int) -> bool:
        """An "m" glued to a number followed by seconds: ``1m30s`` reads as minutes."""
        unit, number, seconds = self.peek(ahead), self.peek(ahead + 1), self.peek(ahead + 2)
        return (
            unit.kind is Kind.WORD
            and unit.norm in MINUTE_WORDS
            and number.kind is Kind.NUM
            and not number.spaced
            and seconds.kind is Kind.WORD
            and TIME_UNITS.get(seconds.norm) == 1
        )

    def _time_scale(self, ahead: int) -> int | None:
        token = self.peek(ahead)
        if token.kind is not Kind.WORD:
            return None
        if self._minutes_at(ahead):
            return 60
        return TIME_UNITS.get(token.norm)

    def _duration(self, value: Decimal, start: int) -> _Factor:
        """``2min``, ``45 s``, ``1h 5min``, ``2min30s``, ``1h05``, ``1h05:00``, ``1m30s``."""
        scale = self._time_scale(0)
        assert scale is not None
        total = value * scale
        end = self.advance().end
        while True:
            number, after = self.peek(), self.peek(1)
            if number.kind is not Kind.NUM or "." in number.text:
                break
            if scale == 3600 and after.kind is Kind.COLON and not after.spaced:
                minutes = self._number(reps_place=False)[0]
                seconds, end = self._clock(minutes, number.start)
                total += seconds
                break
            next_scale = self._time_scale(1)
            if next_scale is not None and next_scale < scale:
                total += self._number(reps_place=False)[0] * next_scale
                end = self.advance().end
                scale = next_scale
                continue
            if scale == 3600 and not number.spaced and next_scale is None:
                total += self._number(reps_place=False)[0] * 60  # 1h05
                end = number.end
            break
        if total != total.to_integral_value():
            raise self.fail(
                Problem.NUMBER, start, end, "a duration in whole seconds", Topic.DURATION
            )
        return self._duration_factor(total, start, end)

    def _duration_factor(self, seconds: Decimal, start: int, end: int) -> _Factor:
        if not 1 <= seconds <= MAX_DURATION_SECONDS:
            raise self.fail(
                Problem.OUT_OF_RANGE,
                start,
                end,
                "a duration between 1 s and 24 h",
                Topic.DURATION,
            )
        return _Factor(_Kind.DURATION, start, end, seconds=int(seconds))

    # -- meaning of a group -----------------------------------------------------------------

    def _resolve(self, group: _Group, *, multi: bool) -> list[ParsedSet]:
        sets_factor: _Factor | None = None  # the S of S x R
        reps_factor: _Factor | None = None
        ambiguous: _Factor | None = None  # the A of a bare A x B, sets or load
        duration, distance = group.duration, group.distance
        loads: list[_Factor] = [group.load] if group.load else []
        scheme = group.scheme or []

        def only_once(current: _Factor | None, factor: _Factor, what: str, topic: Topic) -> None:
            if current is not None:
                raise self.fail_on(
                    Problem.DUPLICATE, factor, f"one {what} per group of sets", topic
                )

        if len(scheme) == 1:
            reps_factor = scheme[0]
        elif len(scheme) == 3:
            first, reps_factor, last = scheme
            if first.load_marked or (
                not last.load_marked
                and first.kind is _Kind.BARE
                and last.kind is _Kind.BARE
                and first.value > last.value
            ):
                loads.append(first)
                sets_factor = last
            else:
                loads.append(last)
                sets_factor = first
        elif len(scheme) == 2:
            first, second = scheme
            if second.kind in (_Kind.LOAD, _Kind.BODYWEIGHT):
                raise self.fail_on(
                    Problem.UNEXPECTED, second, "reps after 'x', then the load: 5x5 100"
                )
            if first.kind not in (_Kind.BARE, _Kind.LOAD, _Kind.BODYWEIGHT):
                raise self.fail_on(Problem.UNEXPECTED, first, "sets before 'x', as in 3x60s")
            if second.kind in (_Kind.DURATION, _Kind.DISTANCE):
                if first.load_marked:
                    raise self.fail_on(Problem.UNEXPECTED, second, "reps after a load")
                sets_factor = first
                if second.kind is _Kind.DURATION:
                    only_once(duration, duration or second, "duration", Topic.DURATION)
                    duration = second
                else:
                    only_once(distance, distance or second, "distance", Topic.DISTANCE)
                    distance = second
            else:
                reps_factor = second
                if first.load_marked:
                    loads.append(first)
                elif second.kind is _Kind.REPS or (
                    second.kind is _Kind.REPS_LIST and first.value == len(second.reps)
                ):
                    sets_factor = first
                else:
                    ambiguous = first

        loads.sort(key=lambda factor: factor.start)
        if len(loads) > 1:
            raise self._duplicate_load(loads[1])
        load = loads[0] if loads else None
        rpe = group.rpe
        for at in group.ats:
            if at.kind is not _Kind.BARE:
                if load is not None:
                    raise self._duplicate_load(at)
                load = at
            elif load is not None:
                only_once(rpe, at, "RPE", Topic.RPE)
                rpe = at
            elif (
                rpe is None
                and ambiguous is not None
                and (multi or ambiguous.value > MAX_BARE_SETS)
                and (at.value <= RPE_MAX or ambiguous.value > MAX_SETS)
            ):
                rpe = at  # 140x5 @8; 140x5 @11 then fails as an RPE, not as 140 sets
            else:
                load = at

        if ambiguous is not None:
            if load is None and (multi or ambiguous.value > MAX_BARE_SETS):
                load = ambiguous
            else:
                sets_factor = ambiguous

        if not scheme and duration is None and distance is None:
            culprit = next(f for f in (load, rpe, *group.ats) if f is not None)
            raise self.fail_on(Problem.MISSING, culprit, _EXPECT_SETS)

        count = self._sets(sets_factor)
        reps: tuple[int | None, ...] = (None,) * count
        if reps_factor is not None:
            if reps_factor.kind is _Kind.REPS_LIST:
                if sets_factor is not None and count != len(reps_factor.reps):
                    raise self.fail(
                        Problem.MISMATCH,
                        sets_factor.start,
                        reps_factor.end,
                        f"{count} reps values for {count} sets (not {len(reps_factor.reps)}),"
                        " as in 3x10/8/6",
                    )
                reps = reps_factor.reps
            elif reps_factor.kind is _Kind.REPS:
                reps = reps_factor.reps * count
            elif reps_factor.kind is _Kind.BARE:
                value = self._whole_reps(
                    reps_factor.value, reps_factor.fraction, reps_factor.start, reps_factor.end
                )
                reps = (value,) * count
            else:
                raise self.fail_on(Problem.UNEXPECTED, reps_factor, "reps, as in 5x5 100")

        amount, unit, bodyweight = self._load_of(load)
        one = ParsedSet(
            load=amount,
            unit=unit,
            bodyweight=bodyweight,
            rpe=self._rpe_of(rpe),
            duration_seconds=duration.seconds if duration else None,
            distance_meters=distance.meters if distance else None,
        )
        return [
            ParsedSet(
                reps=value,
                load=one.load,
                unit=one.unit,
                bodyweight=one.bodyweight,
                rpe=one.rpe,
                duration_seconds=one.duration_seconds,
                distance_meters=one.distance_meters,
            )
            for value in reps
        ]

    def _sets(self, factor: _Factor | None) -> int:
        if factor is None:
            return 1
        if factor.kind is not _Kind.BARE or factor.fraction:
            raise self.fail_on(Problem.NUMBER, factor, "a whole number of sets")
        if not 1 <= factor.value <= MAX_SETS:
            raise self.fail_on(Problem.OUT_OF_RANGE, factor, f"between 1 and {MAX_SETS} sets")
        return int(factor.value)

    def _load_of(self, factor: _Factor | None) -> tuple[Decimal | None, Unit | None, bool]:
        if factor is None:
            return None, None, False
        if factor.kind is _Kind.BODYWEIGHT:
            if not factor.has_load:
                return None, None, True
            return factor.value, factor.unit, True
        if factor.kind is _Kind.LOAD:
            return factor.value, factor.unit, False
        if factor.kind is not _Kind.BARE:
            raise self.fail_on(Problem.UNEXPECTED, factor, "a load such as 60kg")
        checked = self._load(_Kind.LOAD, factor.value, self.default_unit, factor.start, factor.end)
        return checked.value, checked.unit, False

    def _rpe_of(self, factor: _Factor | None) -> Decimal | None:
        if factor is None:
            return None
        value = factor.value
        if not RPE_MIN <= value <= RPE_MAX or (value * 2) != (value * 2).to_integral_value():
            raise self.fail_on(
                Problem.OUT_OF_RANGE,
                factor,
                "an RPE between 1 and 10 in steps of 0.5",
                Topic.RPE,
            )
        return value
