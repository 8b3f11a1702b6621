"""Goals: a goal holds subgoals, each measured by one metric target (METRIC_GOAL), with
progress computed from the training log.

Targets the bot offers (metric codes of lookups.yaml):

* ``ESTIMATED_1RM`` on one exercise (TOTAL): the best estimated one-rep max
  (``strength.estimated_1rm_sql``) of the working sets logged since ``E1RM_LOOKBACK`` before
  the goal was set — recent strength counts, a lift from years ago does not;
* ``SESSIONS_PER_WEEK`` (PER_WEEK): sessions with at least one set started this week (Monday
  to Sunday in the user's time zone);
* ``VOLUME_LOAD`` (TOTAL): load × reps of the working sets logged from the day the goal was set
  to the target date (inclusive, in the user's time zone), on one exercise or all.

Loads are stored in kg (``unit_id`` = KG); a goal is ACHIEVED as soon as every one of its
targets is met when progress is computed (``refresh_goal_status``: on /goals and when a
session ends), which writes GOAL_ACHIEVED to the activity feed. A per-week target is met by the
current week. Body weight is not offered: nothing logs it yet.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    bindparam,
    delete,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, ResourceRef, require
from domain.errors import InvalidInput, NotFound
from domain.models.access import Visibility
from domain.models.activity import ActivityResourceType
from domain.models.enums import ExerciseMeasurement, ResourceType
from domain.models.exercise import Exercise
from domain.models.goal import Goal, GoalPeriod, GoalStatus, MetricGoal, Subgoal
from domain.models.lookup import MeasurementUnit, Metric
from domain.models.user import User
from domain.services.activity import record_activity
from domain.services.alternatives import usable_sql
from domain.services.strength import WeightUnit, estimated_1rm_sql, from_unit

TITLE_MAX_LENGTH = 120
E1RM_LOOKBACK_DAYS = 56
# Dates further than this are refused as a typo (a five-year plan is not a goal in a chat).
MAX_HORIZON = dt.timedelta(days=5 * 366)
MAX_TARGETS_PER_GOAL = 8
CENT = Decimal("0.01")


class TargetKind(enum.StrEnum):
    """The metric code of a target (METRIC rows of type PROGRESSION)."""

    ESTIMATED_1RM = "ESTIMATED_1RM"
    SESSIONS_PER_WEEK = "SESSIONS_PER_WEEK"
    VOLUME_LOAD = "VOLUME_LOAD"


METRIC_TYPE = "PROGRESSION"
PERIODS = {
    TargetKind.ESTIMATED_1RM: GoalPeriod.TOTAL,
    TargetKind.SESSIONS_PER_WEEK: GoalPeriod.PER_WEEK,
    TargetKind.VOLUME_LOAD: GoalPeriod.TOTAL,
}
# Inclusive bounds of a sensible target (kg for loads, sessions for the weekly count).
BOUNDS: dict[TargetKind, tuple[Decimal, Decimal]] = {
    TargetKind.ESTIMATED_1RM: (Decimal(1), Decimal(600)),
    TargetKind.SESSIONS_PER_WEEK: (Decimal(1), Decimal(14)),
    TargetKind.VOLUME_LOAD: (Decimal(1), Decimal(10_000_000)),
}
NEEDS_DATE = {TargetKind.ESTIMATED_1RM, TargetKind.VOLUME_LOAD}
LOAD_KINDS = {TargetKind.ESTIMATED_1RM, TargetKind.VOLUME_LOAD}


class InvalidGoal(InvalidInput):
    """A goal input refused, nothing changed. ``problem``: title, not_a_number, too_low,
    too_high, not_whole, not_a_date, date_past, date_far, date_needed, exercise_needed,
    exercise_unknown, exercise_not_weighted, too_many_targets, closed."""

    code = "invalid_goal"

    def __init__(self, message: str, *, problem: str, **params: Any) -> None:
        super().__init__(message, problem=problem, **params)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """A target to set: ``value`` in kg for loads, a count for sessions per week."""

    kind: TargetKind
    value: Decimal
    exercise_id: uuid.UUID | None = None
    target_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class TargetProgress:
    subgoal_id: uuid.UUID
    kind: TargetKind
    exercise_id: uuid.UUID | None
    exercise_name: str | None
    target: Decimal  # kg or count
    current: Decimal  # kg or count
    period: GoalPeriod
    target_date: dt.date | None

    @property
    def met(self) -> bool:
        return self.current >= self.target

    @property
    def fraction(self) -> float:
        if self.target <= 0:
            return 1.0
        return max(0.0, min(1.0, float(self.current / self.target)))


@dataclass(frozen=True, slots=True)
class GoalView:
    id: uuid.UUID
    title: str
    status: GoalStatus
    target_date: dt.date | None
    created_at: dt.datetime
    achieved_at: dt.datetime | None
    targets: tuple[TargetProgress, ...] = ()

    @property
    def fraction(self) -> float:
        """Mean progress of the targets (1 when achieved)."""
        if self.status is GoalStatus.ACHIEVED:
            return 1.0
        if not self.targets:
            return 0.0
        return sum(target.fraction for target in self.targets) / len(self.targets)


@dataclass(frozen=True, slots=True)
class GoalsOverview:
    goals: list[GoalView]
    achieved_now: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ExerciseRef:
    id: uuid.UUID
    name: str
    measurement: ExerciseMeasurement


@dataclass(frozen=True, slots=True)
class ExerciseMatch:
    chosen: ExerciseRef | None
    candidates: list[ExerciseRef]


# --------------------------------------------------------------------------------------------
# Pure checks and parsing (the bot validates each step with them before the goal is written)
# --------------------------------------------------------------------------------------------


def today_in(timezone: str, now: dt.datetime) -> dt.date:
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return now.astimezone(zone).date()


def check_title(title: str) -> str:
    clean = " ".join(title.split())
    if not 1 <= len(clean) <= TITLE_MAX_LENGTH:
        raise InvalidGoal(
            f"a goal title needs 1 to {TITLE_MAX_LENGTH} characters",
            problem="title",
            max_length=TITLE_MAX_LENGTH,
        )
    return clean


def check_value(kind: TargetKind, value: Decimal) -> Decimal:
    low, high = BOUNDS[kind]
    if not value.is_finite() or value < low:
        raise InvalidGoal(f"{kind}: at least {low}", problem="too_low", low=low)
    if value > high:
        raise InvalidGoal(f"{kind}: at most {high}", problem="too_high", high=high)
    if kind is TargetKind.SESSIONS_PER_WEEK and value != value.to_integral_value():
        raise InvalidGoal("sessions per week is a whole number", problem="not_whole")
    return value


def check_date(kind: TargetKind, target_date: dt.date | None, *, today: dt.date) -> None:
    if target_date is None:
        if kind in NEEDS_DATE:
            raise InvalidGoal(f"{kind} needs a target date", problem="date_needed")
        return
    if target_date <= today:
        raise InvalidGoal("the target date must be in the future", problem="date_past")
    if target_date - today > MAX_HORIZON:
        raise InvalidGoal("the target date is too far away", problem="date_far")


_NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(kg|kgs|lb|lbs|кг|фунт\w*)?\s*$", re.IGNORECASE)


def parse_load(text: str, unit: WeightUnit) -> Decimal:
    """``140``, ``140 kg``, ``300lb``, ``102,5``: a load in kg (the user's unit when none is
    written). InvalidGoal(not_a_number) otherwise."""
    found = _NUMBER.match(text)
    if found is None:
        raise InvalidGoal(f"not a load: {text!r}", problem="not_a_number")
    value = Decimal(found.group(1).replace(",", "."))
    written = (found.group(2) or "").lower()
    if written.startswith(("lb", "фунт")):
        unit = WeightUnit.LB
    elif written in {"kg", "kgs", "кг"}:
        unit = WeightUnit.KG
    return from_unit(value, unit)


def parse_count(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise InvalidGoal(f"not a number: {text!r}", problem="not_a_number") from None
    if not value.is_finite():
        raise InvalidGoal(f"not a number: {text!r}", problem="not_a_number")
    return value


_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y")


def parse_date(text: str) -> dt.date:
    """``2026-06-30``, ``30.06.2026``, ``30/06/2026``."""
    cleaned = text.strip()
    for pattern in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(cleaned, pattern).date()  # noqa: DTZ007 - a date only
        except ValueError:
            continue
    raise InvalidGoal(f"not a date: {text!r}", problem="not_a_date")


# --------------------------------------------------------------------------------------------
# Exercises
# --------------------------------------------------------------------------------------------


async def find_exercise(
    session: AsyncSession,
    user_id: uuid.UUID,
    text_: str,
    *,
    locale: str,
    limit: int = 5,
    prefer_weighted: bool = False,
) -> ExerciseMatch:
    """Exercises the user may use whose name or alias (in ``locale`` or English) matches the
    text: exact matches first, then prefixes, then substrings (exercises measured by reps ×
    load before others with ``prefer_weighted``, as an estimated 1RM needs a load).

    TODO(lead): switch to ``domain.services.exercise_search.match_exercise`` once it lands;
    this is the simple ILIKE stand-in."""
    words = " ".join(text_.split()).lower()
    if not words:
        return ExerciseMatch(None, [])
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    statement = text(
        """
        SELECT e.id, coalesce(nullif(e.name_i18n ->> :locale, ''), e.name) AS name,
               e.measurement,
               min(CASE WHEN lower(t.term) = :words THEN 0
                        WHEN lower(t.term) LIKE :prefix THEN 1 ELSE 2 END) AS rank
        FROM exercise e
        CROSS JOIN LATERAL (
            SELECT e.name AS term
            UNION ALL SELECT value FROM jsonb_each_text(e.name_i18n)
            UNION ALL SELECT jsonb_array_elements_text(e.aliases -> :locale)
            UNION ALL SELECT jsonb_array_elements_text(e.aliases -> 'en')
        ) AS t
        WHERE e.is_active AND (e.owner_id IS NULL OR e.owner_id = :user_id)
          AND t.term ILIKE :contains
        GROUP BY e.id
        ORDER BY rank, (:prefer_weighted AND e.measurement <> 'REPS_LOAD'),
                 (e.owner_id IS NULL), length(e.name), name
        LIMIT :limit
        """
    ).bindparams(
        bindparam("user_id", type_=UUID),
        bindparam("limit", type_=Integer),
        bindparam("prefer_weighted", type_=Boolean),
    )
    rows = (
        await session.execute(
            statement,
            {
                "locale": locale,
                "words": words,
                "prefix": escaped + "%",
                "contains": "%" + escaped + "%",
                "user_id": user_id,
                "limit": limit,
                "prefer_weighted": prefer_weighted,
            },
        )
    ).all()
    candidates = [
        ExerciseRef(row.id, row.name, ExerciseMeasurement(row.measurement)) for row in rows
    ]
    exact = [ref for ref, row in zip(candidates, rows, strict=True) if row.rank == 0]
    if len(exact) == 1:
        chosen: ExerciseRef | None = exact[0]
    elif len(candidates) == 1:
        chosen = candidates[0]
    else:
        chosen = None
    return ExerciseMatch(chosen, candidates)


async def exercise_for_goal(
    session: AsyncSession, user_id: uuid.UUID, exercise_id: uuid.UUID, *, locale: str
) -> ExerciseRef:
    """An exercise a load target can be set on: usable by the user and measured in reps × load
    (InvalidGoal exercise_unknown / exercise_not_weighted otherwise)."""
    row = (
        await session.execute(
            select(
                Exercise.id,
                func.coalesce(
                    func.nullif(Exercise.name_i18n.op("->>")(literal(locale)), ""), Exercise.name
                ),
                Exercise.measurement,
            ).where(Exercise.id == exercise_id, usable_sql(user_id))
        )
    ).first()
    if row is None:
        raise InvalidGoal(f"no usable exercise {exercise_id}", problem="exercise_unknown")
    ref = ExerciseRef(row[0], row[1], row[2])
    if ref.measurement is not ExerciseMeasurement.REPS_LOAD:
        raise InvalidGoal(f"{ref.name} is not measured by load", problem="exercise_not_weighted")
    return ref


# --------------------------------------------------------------------------------------------
# Writing goals
# --------------------------------------------------------------------------------------------


async def _checked_target(
    session: AsyncSession, user_id: uuid.UUID, target: TargetSpec, *, today: dt.date
) -> TargetSpec:
    value = check_value(target.kind, target.value)
    check_date(target.kind, target.target_date, today=today)
    if target.kind is TargetKind.ESTIMATED_1RM and target.exercise_id is None:
        raise InvalidGoal("an estimated 1RM target names an exercise", problem="exercise_needed")
    if target.exercise_id is not None:
        await exercise_for_goal(session, user_id, target.exercise_id, locale="en")
    return TargetSpec(target.kind, value, target.exercise_id, target.target_date)


async def _metric_ids(
    session: AsyncSession, kind: TargetKind
) -> tuple[uuid.UUID, uuid.UUID | None]:
    metric_id = await session.scalar(
        select(Metric.id).where(Metric.type == METRIC_TYPE, Metric.code == kind.value)
    )
    if metric_id is None:
        raise NotFound(f"no {kind} metric; run `motriforge seed`", code=kind.value)
    unit_id = None
    if kind in LOAD_KINDS:
        unit_id = await session.scalar(
            select(MeasurementUnit.id).where(MeasurementUnit.code == "KG")
        )
    return metric_id, unit_id


async def _user_timezone(session: AsyncSession, user_id: uuid.UUID) -> str:
    zone = await session.scalar(select(User.timezone).where(User.id == user_id))
    if zone is None:
        raise NotFound(f"no user {user_id}", user_id=str(user_id))
    return zone


async def _add_subgoal(
    session: AsyncSession, goal: Goal, target: TargetSpec, *, title: str | None
) -> Subgoal:
    metric_id, unit_id = await _metric_ids(session, target.kind)
    subgoal = Subgoal(goal_id=goal.id, title=title, exercise_id=target.exercise_id)
    session.add(subgoal)
    await session.flush()
    session.add(
        MetricGoal(
            subgoal_id=subgoal.id,
            metric_id=metric_id,
            target_value=float(target.value),
            is_required=True,
            unit_id=unit_id,
            target_date=target.target_date,
            period=PERIODS[target.kind],
        )
    )
    if target.target_date is not None and (
        goal.target_date is None or target.target_date > goal.target_date
    ):
        goal.target_date = target.target_date
    await session.flush()
    return subgoal


async def create_goal(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    title: str,
    target: TargetSpec,
    now: dt.datetime,
) -> uuid.UUID:
    """A new ACTIVE goal of the user with its first target (GOAL_SET in the feed)."""
    clean_title = check_title(title)
    today = today_in(await _user_timezone(session, user_id), now)
    checked = await _checked_target(session, user_id, target, today=today)
    visibility_id = await session.scalar(
        select(Visibility.id).where(
            Visibility.resource_type == ResourceType.GOAL, Visibility.is_default
        )
    )
    if visibility_id is None:
        raise NotFound("no default GOAL visibility; run `motriforge seed`")
    goal = Goal(
        user_id=user_id,
        title=clean_title,
        status=GoalStatus.ACTIVE,
        visibility_id=visibility_id,
        created_at=now,
        updated_at=now,
    )
    session.add(goal)
    await session.flush()
    # Deny by default: the row exists only inside this transaction until the check passes.
    await require(session, Actor(user_id), Action.CREATE, ResourceRef("GOAL", goal.id), now=now)
    await _add_subgoal(session, goal, checked, title=None)
    await record_activity(
        session,
        user_id,
        "GOAL_SET",
        title=clean_title,
        occurred_at=now,
        resource_type=ActivityResourceType.GOAL,
        resource_id=goal.id,
    )
    return goal.id


async def _goal_for(
    session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID, action: Action
) -> Goal:
    await require(session, Actor(user_id), action, ResourceRef("GOAL", goal_id))
    goal = await session.get(Goal, goal_id, with_for_update=True)
    if goal is None:
        raise NotFound(f"no goal {goal_id}", goal_id=str(goal_id))
    return goal


async def add_target(
    session: AsyncSession,
    user_id: uuid.UUID,
    goal_id: uuid.UUID,
    target: TargetSpec,
    *,
    now: dt.datetime,
) -> uuid.UUID:
    """Add a target (a subgoal) to an ACTIVE goal the user may update; its subgoal id."""
    goal = await _goal_for(session, user_id, goal_id, Action.UPDATE)
    if goal.status is not GoalStatus.ACTIVE:
        raise InvalidGoal("the goal is closed", problem="closed")
    count = await session.scalar(
        select(func.count()).select_from(Subgoal).where(Subgoal.goal_id == goal.id)
    )
    if (count or 0) >= MAX_TARGETS_PER_GOAL:
        raise InvalidGoal("too many targets", problem="too_many_targets", max=MAX_TARGETS_PER_GOAL)
    today = today_in(await _user_timezone(session, goal.user_id), now)
    checked = await _checked_target(session, goal.user_id, target, today=today)
    subgoal = await _add_subgoal(session, goal, checked, title=None)
    return subgoal.id


async def abandon_goal(
    session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID, *, now: dt.datetime
) -> None:
    goal = await _goal_for(session, user_id, goal_id, Action.UPDATE)
    if goal.status is GoalStatus.ACTIVE:
        goal.status = GoalStatus.ABANDONED
        goal.updated_at = now
        await session.flush()


async def delete_goal(session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID) -> None:
    """Delete a goal with its subgoals and targets (its feed rows stay)."""
    goal = await _goal_for(session, user_id, goal_id, Action.DELETE)
    await session.execute(delete(Goal).where(Goal.id == goal.id))
    session.expunge(goal)


# --------------------------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------------------------


_PROGRESS = text(
    # Only our own constant (the e1RM expression) is formatted in; values are bound.
    f"""
    SELECT g.id AS goal_id, g.title, g.status, g.target_date AS goal_date, g.created_at,
           g.achieved_at, s.id AS subgoal_id, s.exercise_id,
           coalesce(nullif(e.name_i18n ->> :locale, ''), e.name) AS exercise_name,
           m.code AS metric, mg.metric_id, mg.target_value, mg.current_value, mg.period,
           mg.target_date,
           CASE m.code
           WHEN 'ESTIMATED_1RM' THEN (
               SELECT max({estimated_1rm_sql("ls.load_kg", "ls.reps")}) FROM logged_set ls
               WHERE ls.user_id = g.user_id AND ls.exercise_id = s.exercise_id
                 AND NOT ls.is_warmup
                 AND ls.performed_at >= g.created_at - make_interval(days => :lookback))
           WHEN 'SESSIONS_PER_WEEK' THEN (
               SELECT count(*) FROM training_session ts
               WHERE ts.user_id = g.user_id
                 AND ts.started_at >= (date_trunc('week', :now AT TIME ZONE u.timezone)
                                       AT TIME ZONE u.timezone)
                 AND ts.started_at <= :now
                 AND EXISTS (SELECT 1 FROM logged_set x WHERE x.session_id = ts.id))
           WHEN 'VOLUME_LOAD' THEN (
               SELECT coalesce(sum(ls.load_kg * ls.reps), 0) FROM logged_set ls
               WHERE ls.user_id = g.user_id
                 AND (s.exercise_id IS NULL OR ls.exercise_id = s.exercise_id)
                 AND NOT ls.is_warmup AND ls.performed_at >= g.created_at
                 AND (mg.target_date IS NULL OR ls.performed_at <
                      (CAST(mg.target_date + 1 AS timestamp) AT TIME ZONE u.timezone)))
           END AS current
    FROM goal g
    JOIN app_user u ON u.id = g.user_id
    LEFT JOIN subgoal s ON s.goal_id = g.id
    LEFT JOIN metric_goal mg ON mg.subgoal_id = s.id
    LEFT JOIN metric m ON m.id = mg.metric_id
    LEFT JOIN exercise e ON e.id = s.exercise_id
    WHERE g.user_id = :user_id
      AND (CAST(:goal_id AS uuid) IS NULL OR g.id = :goal_id)
      AND g.status = ANY(CAST(:statuses AS text[]))
    ORDER BY (g.status = 'ACTIVE') DESC, g.created_at DESC, g.id, s.id
    """  # noqa: S608
).bindparams(
    bindparam("user_id", type_=UUID),
    bindparam("goal_id", type_=UUID),
    bindparam("now", type_=DateTime(timezone=True)),
    bindparam("lookback", type_=Integer),
)


async def _progress(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    now: dt.datetime,
    locale: str,
    statuses: Sequence[GoalStatus],
    goal_id: uuid.UUID | None = None,
) -> list[GoalView]:
    rows = await session.execute(
        _PROGRESS,
        {
            "user_id": user_id,
            "goal_id": goal_id,
            "now": now,
            "lookback": E1RM_LOOKBACK_DAYS,
            "locale": locale,
            "statuses": [status.value for status in statuses],
        },
    )
    goals: dict[uuid.UUID, tuple[Any, list[TargetProgress]]] = {}
    stale: list[dict[str, Any]] = []
    for row in rows:
        entry = goals.setdefault(row.goal_id, (row, []))
        if row.metric is None or row.metric not in TargetKind.__members__:
            continue
        current = Decimal(row.current or 0).quantize(CENT)
        entry[1].append(
            TargetProgress(
                subgoal_id=row.subgoal_id,
                kind=TargetKind(row.metric),
                exercise_id=row.exercise_id,
                exercise_name=row.exercise_name,
                target=Decimal(str(row.target_value)),
                current=current,
                period=GoalPeriod(row.period),
                target_date=row.target_date,
            )
        )
        if row.status == GoalStatus.ACTIVE.value and row.current_value != float(current):
            stale.append(
                {
                    "subgoal_id": row.subgoal_id,
                    "metric_id": row.metric_id,
                    "current_value": float(current),
                }
            )
    if stale:
        # ORM bulk UPDATE by primary key: one executemany.
        await session.execute(update(MetricGoal), stale)
    return [
        GoalView(
            id=head.goal_id,
            title=head.title,
            status=GoalStatus(head.status),
            target_date=head.goal_date,
            created_at=head.created_at,
            achieved_at=head.achieved_at,
            targets=tuple(targets),
        )
        for head, targets in goals.values()
    ]


async def _achieve(
    session: AsyncSession, user_id: uuid.UUID, views: list[GoalView], *, now: dt.datetime
) -> tuple[list[GoalView], list[uuid.UUID]]:
    ready = [
        view.id
        for view in views
        if view.status is GoalStatus.ACTIVE
        and view.targets
        and all(target.met for target in view.targets)
    ]
    if not ready:
        return views, []
    achieved = (
        await session.execute(
            update(Goal)
            .where(Goal.id.in_(ready), Goal.user_id == user_id, Goal.status == GoalStatus.ACTIVE)
            .values(status=GoalStatus.ACHIEVED, achieved_at=now, updated_at=now)
            .returning(Goal.id, Goal.title)
            .execution_options(synchronize_session=False)
        )
    ).all()
    for goal_id, title in achieved:
        await record_activity(
            session,
            user_id,
            "GOAL_ACHIEVED",
            title=title,
            occurred_at=now,
            resource_type=ActivityResourceType.GOAL,
            resource_id=goal_id,
        )
    done = {goal_id for goal_id, _ in achieved}
    updated = [
        GoalView(
            id=view.id,
            title=view.title,
            status=GoalStatus.ACHIEVED,
            target_date=view.target_date,
            created_at=view.created_at,
            achieved_at=now,
            targets=view.targets,
        )
        if view.id in done
        else view
        for view in views
    ]
    return updated, [view.id for view in views if view.id in done]


async def refresh_goal_status(
    session: AsyncSession, user_id: uuid.UUID, *, now: dt.datetime
) -> list[uuid.UUID]:
    """Recompute the progress of the user's ACTIVE goals (stored in METRIC_GOAL.current_value)
    and mark ACHIEVED those whose every target is met (GOAL_ACHIEVED in the feed). Returns
    the goals achieved now. For the end of a session; /goals does the same on its own."""
    views = await _progress(session, user_id, now=now, locale="en", statuses=[GoalStatus.ACTIVE])
    _, achieved = await _achieve(session, user_id, views, now=now)
    return achieved


async def goals_overview(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    now: dt.datetime,
    locale: str,
    include_closed: bool = True,
) -> GoalsOverview:
    """The user's goals with fresh progress: ACTIVE first (newest first), then ACHIEVED and
    ABANDONED ones; goals met by now are marked ACHIEVED on the way."""
    statuses = list(GoalStatus) if include_closed else [GoalStatus.ACTIVE]
    views = await _progress(session, user_id, now=now, locale=locale, statuses=statuses)
    views, achieved = await _achieve(session, user_id, views, now=now)
    return GoalsOverview(views, achieved)


async def goal_detail(
    session: AsyncSession,
    user_id: uuid.UUID,
    goal_id: uuid.UUID,
    *,
    now: dt.datetime,
    locale: str,
) -> GoalView:
    """One goal the user may read, with its progress (computed for the goal's owner)."""
    await require(session, Actor(user_id), Action.READ, ResourceRef("GOAL", goal_id))
    owner = await session.scalar(select(Goal.user_id).where(Goal.id == goal_id))
    if owner is None:
        raise NotFound(f"no goal {goal_id}", goal_id=str(goal_id))
    views = await _progress(
        session, owner, now=now, locale=locale, statuses=list(GoalStatus), goal_id=goal_id
    )
    if owner == user_id:
        views, _ = await _achieve(session, owner, views, now=now)
    if not views:
        raise NotFound(f"no goal {goal_id}", goal_id=str(goal_id))
    return views[0]
