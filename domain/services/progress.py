"""/progress: the data behind the charts, and the plate calculator.

Three series, each ONE SQL statement over the athlete's own rows (``user_id`` filter; the
training log is private):

- ``e1rm_trends``: the best estimated 1RM per local day of the athlete's most-trained lifts
  (compound lifts first: exercises tagged COMPOUND; up to ``MAIN_LIFTS``) over the last year;
- ``weekly_volume``: hard sets (warm-ups left out) and volume load per muscle group and local
  week (Monday start) over the last 12 weeks. A set counts for every group among its
  exercise's PRIMARY muscles (a bench press set counts for chest and for arms);
- ``soreness_trend``: the soreness noted after each session, per local day.

Groups: muscle zones folded into ``MUSCLE_GROUPS`` (10 groups: neck counts as shoulders, wrist
as forearms, hips as glutes, knee as thighs, ankle and foot as lower leg); a group's name is its
zone's translated name.

Everything here is plain data (dataclasses, ``Decimal`` kilograms, local dates); charts.py draws
it and the bot translates the words.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
import zoneinfo
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput
from domain.parsing.model import tidy
from domain.services.records import ExerciseRecords, record_list
from domain.services.strength import WeightUnit, estimated_1rm_sql

# SQL here is pasted together from this module's constants (S608); values are bind parameters.
# ruff: noqa: S608

MAIN_LIFTS = 4
E1RM_DAYS = 365
VOLUME_WEEKS = 12
SORENESS_DAYS = 84
RECORDS_SHOWN = 10

# Zone code → the group it counts for (group codes are zone codes, for the translated name).
MUSCLE_GROUPS: dict[str, str] = {
    "CHEST": "CHEST",
    "UPPER_BACK": "UPPER_BACK",
    "LOWER_BACK": "LOWER_BACK",
    "SHOULDERS": "SHOULDERS",
    "NECK": "SHOULDERS",
    "ARMS": "ARMS",
    "FOREARMS": "FOREARMS",
    "WRIST": "FOREARMS",
    "CORE": "CORE",
    "GLUTES": "GLUTES",
    "HIPS": "GLUTES",
    "THIGHS": "THIGHS",
    "KNEE": "THIGHS",
    "LOWER_LEG": "LOWER_LEG",
    "ANKLE": "LOWER_LEG",
    "FOOT": "LOWER_LEG",
}


# --------------------------------------------------------------------------------------------
# Series
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class E1rmPoint:
    day: dt.date  # local date
    e1rm_kg: Decimal


@dataclass(frozen=True, slots=True)
class LiftTrend:
    exercise_id: uuid.UUID
    name: str  # in the caller's locale
    compound: bool
    sessions: int  # sessions with an estimate in the window
    points: list[E1rmPoint]


@dataclass(frozen=True, slots=True)
class GroupVolume:
    code: str  # group code (a muscle zone code)
    name: str  # in the caller's locale
    sets: list[int]  # one per week of WeeklyVolume.weeks
    volume_kg: list[Decimal]

    @property
    def total_sets(self) -> int:
        return sum(self.sets)


@dataclass(frozen=True, slots=True)
class WeeklyVolume:
    weeks: list[dt.date]  # local Mondays, oldest first
    groups: list[GroupVolume]  # most sets first

    @property
    def empty(self) -> bool:
        return not self.groups


@dataclass(frozen=True, slots=True)
class SorenessPoint:
    day: dt.date
    soreness: Decimal  # the day's mean (0..10)


@dataclass(frozen=True, slots=True)
class ProgressData:
    lifts: list[LiftTrend]
    volume: WeeklyVolume
    soreness: list[SorenessPoint]

    @property
    def empty(self) -> bool:
        return not self.lifts and self.volume.empty and not self.soreness


def _zone(timezone: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _tz_name(timezone: str) -> str:
    return _zone(timezone).key


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def local_weeks(now: dt.datetime, timezone: str, weeks: int = VOLUME_WEEKS) -> list[dt.date]:
    """The Mondays of the last ``weeks`` local weeks, the current one last."""
    current = week_start(now.astimezone(_zone(timezone)).date())
    return [current - dt.timedelta(weeks=back) for back in range(weeks - 1, -1, -1)]


def _local_midnight_utc(day: dt.date, timezone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=_zone(timezone)).astimezone(dt.UTC)


_E1RM = estimated_1rm_sql("ls.load_kg", "ls.reps")

_E1RM_TRENDS = text(
    f"""
WITH sets AS (
    SELECT ls.exercise_id, ls.session_id,
           (ls.performed_at AT TIME ZONE :tz)::date AS day,
           {_E1RM} AS e1rm
    FROM logged_set AS ls
    WHERE ls.user_id = :user_id
      AND ls.performed_at >= :since
      AND NOT ls.is_warmup
      AND {_E1RM} IS NOT NULL
), ranked AS (
    SELECT s.exercise_id,
           count(DISTINCT s.session_id) AS sessions,
           EXISTS (
               SELECT 1 FROM exercise_tag AS et JOIN tag AS t ON t.id = et.tag_id
               WHERE et.exercise_id = s.exercise_id AND t.type = 'EXERCISE'
                 AND t.code = 'COMPOUND'
           ) AS compound
    FROM sets AS s
    GROUP BY s.exercise_id
    ORDER BY compound DESC, sessions DESC, s.exercise_id
    LIMIT {MAIN_LIFTS:d}
)
SELECT r.exercise_id, coalesce(e.name_i18n ->> :locale, e.name) AS name, r.compound,
       r.sessions, s.day, max(s.e1rm) AS e1rm
FROM ranked AS r
JOIN sets AS s ON s.exercise_id = r.exercise_id
JOIN exercise AS e ON e.id = r.exercise_id
GROUP BY r.exercise_id, e.name_i18n, e.name, r.compound, r.sessions, s.day
ORDER BY r.compound DESC, r.sessions DESC, r.exercise_id, s.day
"""
)


async def e1rm_trends(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    timezone: str,
    now: dt.datetime,
    locale: str = "en",
    days: int = E1RM_DAYS,
) -> list[LiftTrend]:
    """Best e1RM per local day of up to ``MAIN_LIFTS`` lifts, the most-trained first. When the
    athlete has compound lifts only those are shown; otherwise their most-trained lifts."""
    rows = (
        await session.execute(
            _E1RM_TRENDS,
            {
                "user_id": user_id,
                "since": now - dt.timedelta(days=days),
                "tz": _tz_name(timezone),
                "locale": locale,
            },
        )
    ).all()
    trends: dict[uuid.UUID, LiftTrend] = {}
    for row in rows:
        trend = trends.get(row.exercise_id)
        if trend is None:
            trend = LiftTrend(row.exercise_id, row.name, bool(row.compound), int(row.sessions), [])
            trends[row.exercise_id] = trend
        trend.points.append(E1rmPoint(row.day, Decimal(row.e1rm)))
    lifts = list(trends.values())
    if any(lift.compound for lift in lifts):
        lifts = [lift for lift in lifts if lift.compound]
    return lifts


def _groups_values() -> str:
    return ", ".join(f"('{zone}', '{group}')" for zone, group in MUSCLE_GROUPS.items())


_WEEKLY_VOLUME = text(
    f"""
WITH groups (zone_code, group_code) AS (VALUES {_groups_values()}),
sets AS (
    SELECT ls.exercise_id,
           date_trunc('week', ls.performed_at AT TIME ZONE :tz)::date AS week,
           count(*) AS sets,
           sum(CASE WHEN ls.load_kg > 0 AND ls.reps > 0 THEN ls.load_kg * ls.reps ELSE 0 END)
               AS volume
    FROM logged_set AS ls
    WHERE ls.user_id = :user_id AND ls.performed_at >= :since AND NOT ls.is_warmup
    GROUP BY ls.exercise_id, week
), exercise_groups AS (
    SELECT DISTINCT em.exercise_id, g.group_code
    FROM exercise_muscle AS em
    JOIN muscle AS m ON m.id = em.muscle_id
    JOIN muscle_zone AS z ON z.id = m.zone_id
    JOIN groups AS g ON g.zone_code = z.code
    WHERE em.role = 'PRIMARY' AND em.exercise_id IN (SELECT exercise_id FROM sets)
)
SELECT eg.group_code, coalesce(z.name_i18n ->> :locale, z.name) AS name, s.week,
       sum(s.sets) AS sets, sum(s.volume) AS volume
FROM sets AS s
JOIN exercise_groups AS eg ON eg.exercise_id = s.exercise_id
JOIN muscle_zone AS z ON z.code = eg.group_code
GROUP BY eg.group_code, z.name_i18n, z.name, s.week
"""
)


async def weekly_volume(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    timezone: str,
    now: dt.datetime,
    locale: str = "en",
    weeks: int = VOLUME_WEEKS,
) -> WeeklyVolume:
    """Sets and volume load per muscle group for each of the last ``weeks`` local weeks."""
    mondays = local_weeks(now, timezone, weeks)
    rows = (
        await session.execute(
            _WEEKLY_VOLUME,
            {
                "user_id": user_id,
                "since": _local_midnight_utc(mondays[0], timezone),
                "tz": _tz_name(timezone),
                "locale": locale,
            },
        )
    ).all()
    position = {monday: index for index, monday in enumerate(mondays)}
    groups: dict[str, GroupVolume] = {}
    for row in rows:
        index = position.get(row.week)
        if index is None:  # a set logged in the future: not a past week
            continue
        group = groups.get(row.group_code)
        if group is None:
            group = GroupVolume(row.group_code, row.name, [0] * weeks, [Decimal(0)] * weeks)
            groups[row.group_code] = group
        group.sets[index] += int(row.sets)
        group.volume_kg[index] += Decimal(row.volume)
    ordered = sorted(groups.values(), key=lambda group: (-group.total_sets, group.code))
    return WeeklyVolume(mondays, ordered)


_SORENESS = text(
    """
SELECT (s.started_at AT TIME ZONE :tz)::date AS day, avg(s.soreness) AS soreness
FROM training_session AS s
WHERE s.user_id = :user_id AND s.started_at >= :since AND s.soreness IS NOT NULL
GROUP BY day
ORDER BY day
"""
)


async def soreness_trend(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    timezone: str,
    now: dt.datetime,
    days: int = SORENESS_DAYS,
) -> list[SorenessPoint]:
    rows = (
        await session.execute(
            _SORENESS,
            {"user_id": user_id, "since": now - dt.timedelta(days=days), "tz": _tz_name(timezone)},
        )
    ).all()
    return [SorenessPoint(row.day, Decimal(row.soreness).quantize(Decimal("0.1"))) for row in rows]


async def progress_data(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    timezone: str,
    now: dt.datetime,
    locale: str = "en",
) -> ProgressData:
    """The three series of /progress (three statements)."""
    return ProgressData(
        lifts=await e1rm_trends(session, user_id, timezone=timezone, now=now, locale=locale),
        volume=await weekly_volume(session, user_id, timezone=timezone, now=now, locale=locale),
        soreness=await soreness_trend(session, user_id, timezone=timezone, now=now),
    )


@dataclass(frozen=True, slots=True)
class ProgressReport:
    """What /progress shows: the chart series and the current records."""

    data: ProgressData
    records: list[ExerciseRecords]

    @property
    def empty(self) -> bool:
        return self.data.empty and not self.records


async def progress_report(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    timezone: str,
    now: dt.datetime,
    locale: str = "en",
    records: int = RECORDS_SHOWN,
) -> ProgressReport:
    """The series (three statements) and the records list (records.record_list, one)."""
    data = await progress_data(session, user_id, timezone=timezone, now=now, locale=locale)
    listed = await record_list(session, user_id, locale=locale, limit=records)
    return ProgressReport(data, listed)


# --------------------------------------------------------------------------------------------
# Plate calculator
# --------------------------------------------------------------------------------------------

STANDARD_BAR = {WeightUnit.KG: Decimal(20), WeightUnit.LB: Decimal(45)}
PLATES: dict[WeightUnit, tuple[Decimal, ...]] = {
    WeightUnit.KG: tuple(Decimal(p) for p in ("25", "20", "15", "10", "5", "2.5", "1.25")),
    WeightUnit.LB: tuple(Decimal(p) for p in ("45", "35", "25", "10", "5", "2.5")),
}
# Above this nobody loads a bar: refused rather than answered with a page of plates.
MAX_TARGET = {WeightUnit.KG: Decimal(1000), WeightUnit.LB: Decimal(2200)}


class InvalidPlateTarget(InvalidInput):
    """A target the calculator cannot answer. ``rule``: ``format`` (not a number),
    ``below_bar`` (lighter than the bar: ``bar``), ``too_heavy`` (above ``limit``), ``bar``
    (a bar that is not positive)."""

    code = "invalid_plate_target"

    def __init__(self, message: str, rule: str, **params: object) -> None:
        super().__init__(message, rule=rule, **params)
        self.rule = rule


@dataclass(frozen=True, slots=True)
class PlateLoad:
    """What to put on each side of the bar. ``achieved`` is the heaviest loadable weight not
    above ``target`` (== target when ``exact``); ``next_up`` the lightest loadable above it."""

    unit: WeightUnit
    target: Decimal
    bar: Decimal
    per_side: tuple[Decimal, ...]  # heaviest first
    achieved: Decimal
    next_up: Decimal
    exact: bool
    counts: tuple[tuple[Decimal, int], ...] = field(default=())  # (plate, how many per side)

    @property
    def nearest(self) -> Decimal:
        """The loadable weight closest to the target (the lighter one on a tie)."""
        if self.exact or self.target - self.achieved <= self.next_up - self.target:
            return self.achieved
        return self.next_up


def plates_for(target: Decimal, unit: WeightUnit, bar: Decimal | None = None) -> PlateLoad:
    """Plates per side for ``target`` (in ``unit``) on ``bar`` (default: 20 kg / 45 lb), with
    as many pairs of each standard plate as needed, heaviest first."""
    bar = STANDARD_BAR[unit] if bar is None else bar
    if bar <= 0:
        raise InvalidPlateTarget(f"bar {bar} is not positive", "bar", bar=bar)
    if target < bar:
        raise InvalidPlateTarget(f"{target} {unit} is below the bar", "below_bar", bar=bar)
    if target > MAX_TARGET[unit]:
        raise InvalidPlateTarget(
            f"{target} {unit} is too heavy", "too_heavy", limit=MAX_TARGET[unit]
        )
    plates = PLATES[unit]
    smallest = plates[-1]
    # Every multiple of the smallest plate is loadable per side (each plate is a multiple of
    # it), so the heaviest loadable weight not above the target is a floor to that step.
    side = ((target - bar) / 2 / smallest).to_integral_value(rounding=ROUND_FLOOR) * smallest
    per_side: list[Decimal] = []
    counts: list[tuple[Decimal, int]] = []
    remaining = side
    for plate in plates:
        count = int(remaining // plate)
        if count:
            per_side.extend([plate] * count)
            counts.append((plate, count))
            remaining -= plate * count
    achieved = bar + 2 * side
    return PlateLoad(
        unit=unit,
        target=target,
        bar=bar,
        per_side=tuple(per_side),
        achieved=tidy(achieved),
        next_up=tidy(achieved + 2 * smallest),
        exact=achieved == target,
        counts=tuple(counts),
    )


_TARGET = re.compile(r"^\s*(\d{1,5}(?:[.,]\d{1,3})?)\s*(kg|kgs|кг|lb|lbs|фунт\w*)?\s*$", re.I)


def parse_target(value: str, default_unit: WeightUnit) -> tuple[Decimal, WeightUnit]:
    """``"102.5"``, ``"102,5 kg"``, ``"225lb"`` → (load, unit); no unit means ``default_unit``."""
    match = _TARGET.match(value)
    if match is None:
        raise InvalidPlateTarget(f"not a load: {value!r}", "format")
    number, unit_text = match.groups()
    try:
        load = Decimal(number.replace(",", "."))
    except InvalidOperation as error:  # pragma: no cover - the pattern only lets numbers by
        raise InvalidPlateTarget(f"not a load: {value!r}", "format") from error
    unit = default_unit
    if unit_text:
        lowered = unit_text.lower()
        unit = WeightUnit.KG if lowered.startswith(("kg", "кг")) else WeightUnit.LB
    return load, unit
