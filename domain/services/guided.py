"""A guided session: a workout stepped through set by set.

``workout_plan`` flattens a workout (access-checked READ) into the sets to perform, in order:
each WORKOUT_SET ("block") is ``sets_count`` rounds over its exercises (one for a straight
set, several for a superset: A1 B1 A2 B2 …). Each step carries its prescription (reps or a
rep range, load, RPE, time, distance), the tempo spelled from its TEMPO phases and the rest
that follows it: the instruction's ``rest_between_seconds`` inside a round, the block's
``rest_after_seconds`` after the round's last exercise.

The rest of the module is pure arithmetic the bot needs around a step: the ± adjustments
(reps, and loads on the grid of the athlete's unit), the ``SetInput`` a button or a typed reply
logs, reading a typed reply ("8", "8 @ 62.5", "8x62.5 rpe 9", "7 rpe 9") with the set-log
grammar when the exercise is already known, and the optional "rest is over" ping (a
NOTIFICATION row the delivery tick sends, so it survives restarts).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, ResourceRef, require
from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.models.enums import ExerciseMeasurement
from domain.models.exercise import Exercise
from domain.models.notification import Notification, NotificationStatusCode
from domain.models.training_log import TrainingSession, TrainingSessionSource
from domain.models.workout import ExerciseInstruction, Workout, WorkoutSet
from domain.parsing import ParsedSet, parse_log
from domain.parsing.model import MAX_REPS, Unit
from domain.services.alternatives import SwapKind, SwapOption, swap_candidates
from domain.services.notifications import notification_type_id
from domain.services.reminder_preferences import set_type_enabled, type_preference
from domain.services.schedule_day import workouts_on
from domain.services.streaks import local_day
from domain.services.strength import LOAD_STEP, WeightUnit, from_unit, to_unit
from domain.services.tempo import tempo_texts
from domain.services.training_log import (
    NothingToUndo,
    SessionInfo,
    SessionSummary,
    SetInput,
    SetRecord,
    current_session,
    edit_last_set,
    exercise_name,
    finish_session,
    last_performance,
    log_sets,
    session_sets,
    set_notes,
    set_soreness,
    start_session,
    undo_last_set,
)

# The notification type of the "rest is over" ping (domain/reference/data/notifications.yaml).
REST_PING_TYPE = "REST_TIMER_ENDED"


@dataclass(frozen=True, slots=True)
class PlannedSet:
    """One set to perform, as the workout prescribes it."""

    step: int  # 0-based position in the flattened plan
    workout_set_id: uuid.UUID
    block: int  # 0-based position of its WORKOUT_SET in the workout
    slot: int  # 0-based position of the exercise inside the block (superset member)
    round: int  # 1-based round of the block
    rounds: int  # the block's sets_count
    exercise_id: uuid.UUID
    exercise_name: str
    measurement: ExerciseMeasurement
    is_bodyweight: bool
    reps: int | None
    reps_max: int | None
    load_kg: Decimal | None  # external load; for a bodyweight exercise the added load
    rpe: Decimal | None
    duration_seconds: int | None
    distance_m: Decimal | None
    tempo: str | None  # "3-1-1-0"
    rest_seconds: int  # rest after this step

    @property
    def swap_key(self) -> str:
        """Which exercise of the workout this is (a swap replaces it for the block's rest)."""
        return f"{self.block}.{self.slot}"

    @property
    def measurable(self) -> bool:
        """A button can log it as prescribed: it says how many reps, how long or how far."""
        return (
            self.reps is not None
            or self.duration_seconds is not None
            or self.distance_m is not None
        )


@dataclass(frozen=True, slots=True)
class ExerciseBrief:
    id: uuid.UUID
    name: str
    measurement: ExerciseMeasurement
    is_bodyweight: bool


class NotYourSession(NotAllowed):
    """A training session id of someone else."""


class OneSetAtATime(InvalidInput):
    """A typed reply with several sets or an exercise name, where one set was expected."""

    code = "one_set_at_a_time"


async def workout_plan(
    session: AsyncSession, actor_id: uuid.UUID, workout_id: uuid.UUID, *, locale: str = "en"
) -> list[PlannedSet]:
    """The workout's sets in performing order (NotAllowed unless the actor may READ it)."""
    await require(session, Actor(actor_id), Action.READ, ResourceRef("WORKOUT", workout_id))
    rows = (
        await session.execute(
            select(
                WorkoutSet.id.label("set_id"),
                WorkoutSet.sets_count,
                WorkoutSet.target_reps,
                WorkoutSet.target_reps_max,
                WorkoutSet.target_load_kg,
                WorkoutSet.target_rpe,
                WorkoutSet.target_duration_seconds,
                WorkoutSet.target_distance_m,
                WorkoutSet.rest_after_seconds,
                ExerciseInstruction.id.label("instruction_id"),
                ExerciseInstruction.exercise_id,
                ExerciseInstruction.rest_between_seconds,
                exercise_name(locale).label("exercise_name"),
                Exercise.measurement,
                Exercise.is_bodyweight,
            )
            .join(ExerciseInstruction, ExerciseInstruction.workout_set_id == WorkoutSet.id)
            .join(Exercise, Exercise.id == ExerciseInstruction.exercise_id)
            .where(WorkoutSet.workout_id == workout_id)
            .order_by(WorkoutSet.order_index, ExerciseInstruction.order_index)
        )
    ).all()
    if not rows:
        found = await session.scalar(select(Workout.id).where(Workout.id == workout_id))
        if found is None:
            raise NotFound("no such workout", workout_id=str(workout_id))
        return []
    tempos = await tempo_texts(session, [row.instruction_id for row in rows])
    blocks: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        blocks.setdefault(row.set_id, []).append(row)
    plan: list[PlannedSet] = []
    for block_index, members in enumerate(blocks.values()):
        rounds = int(members[0].sets_count)
        for round_number in range(1, rounds + 1):
            for slot, member in enumerate(members):
                last_in_round = slot == len(members) - 1
                rest = member.rest_after_seconds if last_in_round else member.rest_between_seconds
                plan.append(
                    PlannedSet(
                        step=len(plan),
                        workout_set_id=member.set_id,
                        block=block_index,
                        slot=slot,
                        round=round_number,
                        rounds=rounds,
                        exercise_id=member.exercise_id,
                        exercise_name=str(member.exercise_name),
                        measurement=ExerciseMeasurement(member.measurement),
                        is_bodyweight=bool(member.is_bodyweight),
                        reps=member.target_reps,
                        reps_max=member.target_reps_max,
                        load_kg=member.target_load_kg,
                        rpe=member.target_rpe,
                        duration_seconds=member.target_duration_seconds,
                        distance_m=member.target_distance_m,
                        tempo=tempos.get(member.instruction_id),
                        rest_seconds=int(rest),
                    )
                )
    return plan


async def exercise_brief(
    session: AsyncSession, user_id: uuid.UUID, exercise_id: uuid.UUID, *, locale: str = "en"
) -> ExerciseBrief:
    """An exercise the user may log (the catalogue or their own), named in ``locale``."""
    row = (
        await session.execute(
            select(
                Exercise.id,
                exercise_name(locale),
                Exercise.measurement,
                Exercise.is_bodyweight,
            ).where(
                Exercise.id == exercise_id,
                Exercise.is_active,
                (Exercise.owner_id.is_(None)) | (Exercise.owner_id == user_id),
            )
        )
    ).first()
    if row is None:
        raise NotFound("no such exercise", exercise_id=str(exercise_id))
    return ExerciseBrief(row[0], str(row[1]), ExerciseMeasurement(str(row[2])), bool(row[3]))


def with_exercise(planned: PlannedSet, exercise: ExerciseBrief) -> PlannedSet:
    """The step with another exercise doing its prescription (a swap)."""
    return replace(
        planned,
        exercise_id=exercise.id,
        exercise_name=exercise.name,
        measurement=exercise.measurement,
        is_bodyweight=exercise.is_bodyweight,
    )


async def own_session(
    session: AsyncSession, actor_id: uuid.UUID, session_id: uuid.UUID
) -> TrainingSession:
    """The training session behind a button, when it is the actor's own: READ is checked with
    domain/access (deny by default) and, beyond it, the session must be the actor's (a coach
    may read a client's log but never presses buttons in it)."""
    await require(session, Actor(actor_id), Action.READ, ResourceRef("TRAINING_LOG", session_id))
    row = await session.get(TrainingSession, session_id)
    if row is None:
        raise NotFound("training session not found", training_session_id=str(session_id))
    if row.user_id != actor_id:
        raise NotYourSession(
            f"{actor_id} may not drive training session {session_id}",
            training_session_id=str(session_id),
        )
    return row


async def last_time(
    session: AsyncSession,
    user_id: uuid.UUID,
    exercise_id: uuid.UUID,
    *,
    session_id: uuid.UUID,
    locale: str = "en",
) -> list[SetRecord]:
    """The sets of this exercise in the user's latest session other than ``session_id``."""
    return await last_performance(
        session, user_id, exercise_id, exclude_session=session_id, locale=locale
    )


# --------------------------------------------------------------------------------------------
# Adjusting and logging a step
# --------------------------------------------------------------------------------------------


def adjust_reps(reps: int | None, delta: int) -> int | None:
    """``reps`` ± 1, kept within 1..MAX_REPS; None stays None (nothing to count)."""
    if reps is None:
        return 1 if delta > 0 else None
    return max(1, min(MAX_REPS, reps + delta))


def adjust_load(load_kg: Decimal | None, steps: int, unit: WeightUnit) -> Decimal:
    """``load_kg`` moved by ``steps`` × the unit's step (2.5 kg / 5 lb), on that unit's grid
    (225 lb, not 220.46 + 5), never below zero. Returns kg."""
    step = LOAD_STEP[unit]
    current = to_unit(load_kg or Decimal(0), unit)
    on_grid = (current / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step
    moved = max(Decimal(0), on_grid + steps * step)
    return from_unit(moved, unit)


def set_input(
    planned: PlannedSet,
    *,
    reps: int | None,
    load_kg: Decimal | None,
    rpe: Decimal | None = None,
) -> SetInput:
    """What a button logs for a step: the (adjusted) reps and load, the prescribed time or
    distance, the RPE pressed; linked to the prescribed WORKOUT_SET."""
    bodyweight = planned.is_bodyweight
    return SetInput(
        reps=reps,
        load_kg=None if bodyweight or load_kg is None or load_kg <= 0 else load_kg,
        added_load_kg=load_kg if bodyweight and load_kg else None,
        is_bodyweight=bodyweight,
        duration_seconds=planned.duration_seconds,
        distance_m=planned.distance_m,
        rpe=rpe,
        workout_set_id=planned.workout_set_id,
    )


# A reply that starts with a bare count of reps ("8", "8 @ 62.5", "7 rpe 9", "8 62.5"): the
# grammar reads a lone number as a load, so the count is marked as reps first.
_LEADING_REPS = re.compile(r"^\s*(\d{1,3})(?![\d.,])(?=\s*(?:$|@|rpe\b|bw\b)|\s+\d)", re.IGNORECASE)
# "8x62.5", "8 x 140lb": reps x load when the second number is visibly a load (decimals or a
# unit); the grammar would read the pair as sets x reps.
_REPS_TIMES_LOAD = re.compile(
    r"^\s*(\d{1,3})\s*[x×х*]\s*(\d+[.,]\d+|\d+\s*(?:kg|kgs|lb|lbs|кг)\b)", re.IGNORECASE
)


def parse_set_reply(text: str, *, unit: WeightUnit) -> ParsedSet:
    """One set typed during a guided step, the exercise being known: "8" (reps), "8 @ 62.5",
    "8x62.5 rpe 9", "7 rpe 9", "62.5x8", "45s", or any one-set line of the log grammar.

    Raises ``ParseError`` (with the grammar's problem and position) or ``OneSetAtATime``.
    """
    rewritten = _REPS_TIMES_LOAD.sub(r"\1 reps @ \2", text, count=1)
    if rewritten == text:
        rewritten = _LEADING_REPS.sub(r"\1 reps", text, count=1)
    parsed = parse_log(rewritten, default_unit=Unit(unit.value))
    if parsed.exercise_text is not None:
        raise OneSetAtATime("an exercise name in a guided set", reason="name")
    if len(parsed.sets) != 1:
        raise OneSetAtATime("several sets in a guided set", reason="sets", count=len(parsed.sets))
    return parsed.sets[0]


def reply_input(
    parsed: ParsedSet, planned: PlannedSet, current_load_kg: Decimal | None
) -> SetInput:
    """The typed set as logged: a reply without a load did the step's current load."""
    typed = SetInput.from_parsed(parsed)
    has_load = typed.load_kg is not None or typed.added_load_kg is not None
    if not has_load and current_load_kg is not None and current_load_kg > 0:
        typed = set_input(planned, reps=typed.reps, load_kg=current_load_kg, rpe=typed.rpe)
        if parsed.duration_seconds is not None or parsed.distance_meters is not None:
            typed = replace(
                typed, duration_seconds=parsed.duration_seconds, distance_m=parsed.distance_meters
            )
        return typed
    if planned.is_bodyweight and not typed.is_bodyweight:
        typed = replace(typed, is_bodyweight=True, added_load_kg=typed.load_kg, load_kg=None)
    return replace(typed, workout_set_id=planned.workout_set_id)


# --------------------------------------------------------------------------------------------
# The "rest is over" ping
# --------------------------------------------------------------------------------------------


def rest_ping_key(session_id: uuid.UUID, step: int) -> str:
    return f"{REST_PING_TYPE}:{session_id.hex}:{step}"


async def plan_rest_ping(
    session: AsyncSession,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    *,
    step: int,
    due_at: dt.datetime,
    exercise_name: str,
) -> uuid.UUID | None:
    """A NOTIFICATION due when the rest after ``step`` ends (the delivery tick sends it);
    planning the same step twice is a no-op. Earlier pending pings of the session are
    cancelled: only the latest rest matters."""
    if due_at.tzinfo is None:
        raise InvalidInput("due_at must be timezone-aware", due_at=due_at.isoformat())
    await cancel_rest_pings(session, user_id, session_id)
    statement = (
        insert(Notification)
        .values(
            user_id=user_id,
            notification_type_id=await notification_type_id(session, REST_PING_TYPE),
            dedupe_key=rest_ping_key(session_id, step),
            due_at=due_at,
            variables={"exercise_name": exercise_name},
        )
        .on_conflict_do_nothing(index_elements=[Notification.dedupe_key])
        .returning(Notification.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def cancel_rest_pings(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID
) -> int:
    """Cancel the session's pings not sent yet (the athlete moved on before the rest ended)."""
    result = await session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.status == NotificationStatusCode.PENDING,
            Notification.dedupe_key.startswith(f"{REST_PING_TYPE}:{session_id.hex}:"),
        )
        .values(status=NotificationStatusCode.CANCELLED)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def rest_ping_enabled(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Whether the athlete wants the "rest is over" ping (off unless turned on)."""
    preference = await type_preference(session, user_id, REST_PING_TYPE, "en")
    return preference.enabled


async def set_rest_ping(session: AsyncSession, user_id: uuid.UUID, enabled: bool) -> None:
    """Turn the ping on or off (the same switch as in /reminders)."""
    await set_type_enabled(session, user_id, REST_PING_TYPE, enabled)


# --------------------------------------------------------------------------------------------
# The use cases the bot calls: one per button
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepView:
    """What the message of one step shows."""

    planned: PlannedSet  # a swap applied
    total: int  # steps in the plan
    last_time: list[SetRecord]  # this exercise in the latest other session
    ping: bool  # the rest ping is on


@dataclass(frozen=True, slots=True)
class Started:
    info: SessionInfo
    workout_name: str
    total: int
    step: int  # where to go on (0, or after the sets already logged when resumed)
    resumed: bool


@dataclass(frozen=True, slots=True)
class LoggedStep:
    record: SetRecord
    rest_seconds: int
    rest_ends_at: dt.datetime | None
    ping_planned: bool
    next: StepView | None  # None: that was the last step


class EmptyWorkout(InvalidInput):
    code = "empty_workout"


async def start_guided(
    session: AsyncSession,
    user_id: uuid.UUID,
    workout_id: uuid.UUID,
    *,
    now: dt.datetime,
    timezone: str,
    locale: str = "en",
) -> Started:
    """Open (or resume) a guided session of a workout the user may READ. The assignment it
    belongs to is today's schedule entry of that workout, if any. An open guided session of
    the same workout is resumed after its logged sets."""
    plan = await workout_plan(session, user_id, workout_id, locale=locale)
    if not plan:
        raise EmptyWorkout("the workout has no sets", workout_id=str(workout_id))
    name = await session.scalar(select(Workout.name).where(Workout.id == workout_id))
    current = await current_session(session, user_id, now=now)
    if (
        current is not None
        and current.workout_id == workout_id
        and current.source is TrainingSessionSource.GUIDED
        and current.set_count > 0
    ):
        step = min(current.set_count, len(plan))
        return Started(current, str(name), len(plan), step, resumed=True)
    local_date = local_day(now, timezone)
    assignment = next(
        (
            item.user_program_id
            for item in await workouts_on(session, user_id, local_date)
            if item.workout_id == workout_id
        ),
        None,
    )
    info = await start_session(
        session,
        user_id,
        now=now,
        source=TrainingSessionSource.GUIDED,
        workout_id=workout_id,
        user_program_id=assignment,
    )
    return Started(info, str(name), len(plan), 0, resumed=False)


async def _planned_step(
    session: AsyncSession,
    user_id: uuid.UUID,
    workout_id: uuid.UUID,
    step: int,
    swaps: Mapping[str, uuid.UUID],
    locale: str,
) -> tuple[PlannedSet | None, int]:
    plan = await workout_plan(session, user_id, workout_id, locale=locale)
    if step < 0 or step >= len(plan):
        return None, len(plan)
    planned = plan[step]
    swapped = swaps.get(planned.swap_key)
    if swapped is not None and swapped != planned.exercise_id:
        brief = await exercise_brief(session, user_id, swapped, locale=locale)
        planned = with_exercise(planned, brief)
    return planned, len(plan)


async def step_view(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    session_id: uuid.UUID,
    workout_id: uuid.UUID,
    step: int,
    swaps: Mapping[str, uuid.UUID],
    locale: str = "en",
) -> StepView | None:
    """The step's message content; None past the last step. The session must be the user's."""
    await own_session(session, user_id, session_id)
    planned, total = await _planned_step(session, user_id, workout_id, step, swaps, locale)
    if planned is None:
        return None
    previous = await last_time(
        session, user_id, planned.exercise_id, session_id=session_id, locale=locale
    )
    return StepView(planned, total, previous, await rest_ping_enabled(session, user_id))


async def log_step(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    session_id: uuid.UUID,
    workout_id: uuid.UUID,
    step: int,
    swaps: Mapping[str, uuid.UUID],
    reps: int | None = None,
    load_kg: Decimal | None = None,
    rpe: Decimal | None = None,
    typed: ParsedSet | None = None,
    now: dt.datetime,
    locale: str = "en",
) -> LoggedStep:
    """Log the step (buttons: ``reps``/``load_kg``/``rpe``; a typed reply: ``typed``, its
    missing load being ``load_kg``), plan the rest ping when wanted, and read the next step."""
    await own_session(session, user_id, session_id)
    planned, _total = await _planned_step(session, user_id, workout_id, step, swaps, locale)
    if planned is None:
        raise InvalidInput("no such step", step=step)
    if typed is not None:
        values = reply_input(typed, planned, load_kg)
    else:
        if reps is None and not planned.measurable:
            raise NothingToLog("the step says neither reps, time nor distance", step=step)
        values = set_input(planned, reps=reps, load_kg=load_kg, rpe=rpe)
    [record] = await log_sets(
        session, user_id, session_id, planned.exercise_id, [values], now=now, locale=locale
    )
    await cancel_rest_pings(session, user_id, session_id)
    following = await step_view(
        session,
        user_id,
        session_id=session_id,
        workout_id=workout_id,
        step=step + 1,
        swaps=swaps,
        locale=locale,
    )
    rest = planned.rest_seconds if following is not None else 0
    ends = now + dt.timedelta(seconds=rest) if rest > 0 else None
    pinged = False
    if ends is not None and following is not None and following.ping:
        await plan_rest_ping(
            session,
            user_id,
            session_id,
            step=step,
            due_at=ends,
            exercise_name=following.planned.exercise_name,
        )
        pinged = True
    return LoggedStep(record, rest, ends, pinged, following)


class NothingToLog(InvalidInput):
    """A button pressed on a step that prescribes nothing countable: type what was done."""

    code = "nothing_to_log"


async def undo_step(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, *, locale: str = "en"
) -> SetRecord:
    """Remove the session's last set (NothingToUndo when there is none); a pending rest ping
    goes with it."""
    await own_session(session, user_id, session_id)
    removed = await undo_last_set(session, user_id, session_id, locale=locale)
    await cancel_rest_pings(session, user_id, session_id)
    return removed


async def edit_last(
    session: AsyncSession,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    typed: ParsedSet,
    *,
    locale: str = "en",
) -> SetRecord:
    """Correct the session's last set with a typed set ("6 @ 100"): its exercise stays, a
    missing load keeps the logged one."""
    await own_session(session, user_id, session_id)
    sets = await session_sets(session, user_id, session_id, locale=locale)
    if not sets:
        raise NothingToUndo("the session has no set")
    last = sets[-1]
    changes = SetInput.from_parsed(typed)
    if changes.load_kg is None and changes.added_load_kg is None:
        changes = replace(changes, load_kg=last.load_kg, added_load_kg=last.added_load_kg)
    if last.is_bodyweight and not changes.is_bodyweight:
        changes = replace(
            changes,
            is_bodyweight=True,
            added_load_kg=changes.added_load_kg if changes.load_kg is None else changes.load_kg,
            load_kg=None,
        )
    return await edit_last_set(session, user_id, session_id, changes, locale=locale)


async def swap_options(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    session_id: uuid.UUID,
    workout_id: uuid.UUID,
    step: int,
    swaps: Mapping[str, uuid.UUID],
    locale: str = "en",
) -> tuple[PlannedSet, list[SwapOption]]:
    """The step and what could replace its exercise (accessible alternatives, variants) —
    of the workout's own exercise, whatever was swapped in since."""
    await own_session(session, user_id, session_id)
    planned, _total = await _planned_step(session, user_id, workout_id, step, {}, locale)
    if planned is None:
        raise InvalidInput("no such step", step=step)
    options = await swap_candidates(session, user_id, planned.exercise_id, locale=locale)
    current = swaps.get(planned.swap_key)
    if current is not None and current != planned.exercise_id:
        # Offer the way back to the prescribed exercise first.
        back = await exercise_brief(session, user_id, planned.exercise_id, locale=locale)
        options = [
            SwapOption(back.id, back.name, SwapKind.ACCESSIBLE, None, None, True),
            *[option for option in options if option.exercise_id != current],
        ]
    return planned, options


async def finish_guided(
    session: AsyncSession,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    *,
    now: dt.datetime,
    timezone: str,
    locale: str = "en",
) -> SessionSummary:
    """Finish the session (records, streak, activity: training_log.finish_session); pending
    rest pings are cancelled."""
    await own_session(session, user_id, session_id)
    await cancel_rest_pings(session, user_id, session_id)
    return await finish_session(
        session, user_id, session_id, now=now, timezone=timezone, locale=locale
    )


async def rate_session(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, soreness: int
) -> None:
    await own_session(session, user_id, session_id)
    await set_soreness(session, user_id, session_id, soreness)


async def note_session(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, notes: str
) -> None:
    await own_session(session, user_id, session_id)
    await set_notes(session, user_id, session_id, notes)
