"""The free-text fast path: "squat 5x5 100" typed at any time becomes logged sets in the
athlete's current session, in one SQL statement.

``log_free_text`` finds the user's open session (unfinished, started less than
``OPEN_SESSION_HOURS`` ago; locked so that set numbers stay in order) or opens one
(source FREE_TEXT), appends the sets with ``set_index`` continuing, and reads back what the
reply needs: the sets as stored, the sets of the same exercise in the most recent *earlier*
session ("last time: 5 × 5 @ 97.5 kg") and the best estimated 1RM of every set logged before
(so the reply can say "new best" at once). The exercise is re-checked in the same statement
(an id from a button is user input: system catalogue, the user's own or their
``user_exercise_map``, active), and the sets must fit how it is measured (below); when either
fails, the statement writes nothing — not even a new session — and a domain error says why.

``log_typed`` is the handler's single call. When the text is the exact name or an alias of
exactly one exercise the user may log (the usual case: the GIN index of
domain.services.exercise_search), the same statement matches and logs. Otherwise that statement
writes nothing, and the full match (typos, vague words, a shared alias) picks the exercise or
returns choices, then ``log_free_text`` logs by id.

Round trips: when the unit of work has not touched the database yet, the statement runs on the
session's connection switched to AUTOCOMMIT, through the driver (``domain.db.fetch_statement``):
no BEGIN, no COMMIT, the statement atomic and durable on its own — a set typed by name is one
round trip (a typo three). Inside a transaction already open, it simply joins it.

What fits a measurement (``SetsDoNotFit`` otherwise):

* REPS_LOAD (squat, bench): reps; a load is optional — a set without one is logged without a
  load (empty bar, bodyweight warm-up), never guessed; no distance, no duration.
* REPS (pull-ups, push-ups): reps; a load typed on a bodyweight exercise ("pullups 3x10 10")
  is the load added to the body, as "bw+10" would be.
* DURATION (plank): a duration, no reps, no distance (a load is allowed: weighted plank).
* DISTANCE_TIME (run): a distance or a time or both, no reps, no load.
"""

# The statement is pasted together from this module's constants; values are bind parameters.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.db import DriverStatement, fetch_statement
from domain.errors import InvalidInput, NotFound
from domain.models.enums import ExerciseMeasurement
from domain.services.exercise_search import (
    EXACT_MATCHES,
    USABLE_EXERCISE,
    ExerciseChoice,
    ExerciseMatch,
    match_exercise,
    search_text,
)
from domain.services.strength import estimated_1rm, estimated_1rm_sql
from domain.services.training_log import (
    MAX_SETS_PER_SESSION,
    OPEN_SESSION_HOURS,
    SetInput,
    SetRecord,
)


class SetsDoNotFit(InvalidInput):
    """The sets are not measured the way the exercise is (reps for a run, a time for a squat).
    ``params['measurement']`` is the exercise's (REPS_LOAD, REPS, DURATION, DISTANCE_TIME)."""

    code = "sets_do_not_fit_exercise"


class TooManySets(InvalidInput):
    code = "too_many_sets_in_session"


@dataclass(frozen=True, slots=True)
class QuickLogResult:
    session_id: uuid.UUID
    session_started: bool  # these sets opened a new session
    exercise_id: uuid.UUID
    exercise_name: str  # in the caller's locale
    measurement: ExerciseMeasurement
    is_bodyweight: bool  # the exercise's
    sets: list[SetRecord]
    # The sets of this exercise in the most recent earlier session (empty: first time).
    last_time: list[SetRecord]
    # Best e1RM (kg) of every work set of this exercise logged before these; None: none yet.
    previous_best_e1rm_kg: Decimal | None

    @property
    def best_e1rm_kg(self) -> Decimal | None:
        """The best e1RM among the sets just logged (loaded, not bodyweight, 1–12 reps)."""
        values = [
            value
            for one in self.sets
            if not one.is_bodyweight and one.load_kg is not None and one.reps is not None
            for value in [estimated_1rm(one.load_kg, one.reps)]
            if value is not None
        ]
        return max(values) if values else None

    @property
    def new_best_e1rm(self) -> bool:
        """A higher e1RM than ever before (the first time an exercise is logged sets the
        baseline and is no record, as in domain.services.records)."""
        best = self.best_e1rm_kg
        previous = self.previous_best_e1rm_kg
        return best is not None and previous is not None and best > previous


@dataclass(frozen=True, slots=True)
class QuickLogOutcome:
    """What ``log_typed`` did: ``logged`` when the exercise was clear, else the ``match``
    (its candidates to choose from; none: no exercise came close)."""

    match: ExerciseMatch
    logged: QuickLogResult | None


async def log_typed(
    session: AsyncSession,
    user_id: uuid.UUID,
    exercise_text: str,
    sets: Sequence[SetInput],
    *,
    now: dt.datetime,
    locale: str,
) -> QuickLogOutcome:
    """Log ``sets`` when ``exercise_text`` names one exercise. One statement when it is that
    exercise's exact name or alias (the usual case); otherwise the full match
    (domain.services.exercise_search) picks the exercise, or returns choices, and a second
    statement logs."""
    wanted = search_text(exercise_text)
    logged = await _log(
        session, _LOG_BY_EXACT_NAME, {"text": wanted}, user_id, sets, now=now, locale=locale
    )
    if logged is not None:
        choice = ExerciseChoice(
            id=logged.exercise_id,
            name=logged.exercise_name,
            measurement=logged.measurement,
            is_bodyweight=logged.is_bodyweight,
            score=1.0,
        )
        return QuickLogOutcome(
            match=ExerciseMatch(chosen=choice, candidates=[choice]), logged=logged
        )
    match = await match_exercise(session, user_id, wanted, locale=locale)
    if match.chosen is None:
        return QuickLogOutcome(match=match, logged=None)
    logged = await log_free_text(session, user_id, match.chosen.id, sets, now=now, locale=locale)
    return QuickLogOutcome(match=match, logged=logged)


_E1RM = estimated_1rm_sql("ls.load_kg", "ls.reps")


def _log_statement(chosen_exercise: str) -> TextClause:
    """The logging statement for the exercise ``chosen_exercise`` (SQL: CTEs ending in one
    named ``chosen``, at most one row) names."""
    return text(
        f"""
WITH {chosen_exercise},
ex AS (
    SELECT e.id, e.measurement, e.is_bodyweight,
           coalesce(e.name_i18n ->> :locale, e.name_i18n ->> 'en', e.name) AS name
    FROM exercise AS e
    WHERE e.id = (SELECT id FROM chosen) AND {USABLE_EXERCISE}
),
incoming AS (
    SELECT v.*
    FROM unnest(
        CAST(:reps AS int[]), CAST(:load_kg AS numeric[]), CAST(:added_load_kg AS numeric[]),
        CAST(:is_bodyweight AS boolean[]), CAST(:duration_seconds AS int[]),
        CAST(:distance_m AS numeric[]), CAST(:rpe AS numeric[])
    ) WITH ORDINALITY AS v(reps, load_kg, added_load_kg, is_bodyweight, duration_seconds,
                           distance_m, rpe, ord)
),
fits AS (
    SELECT coalesce(bool_and(CASE ex.measurement
        WHEN 'REPS_LOAD' THEN v.reps IS NOT NULL AND v.duration_seconds IS NULL
                              AND v.distance_m IS NULL
        WHEN 'REPS' THEN v.reps IS NOT NULL AND v.duration_seconds IS NULL
                         AND v.distance_m IS NULL
        WHEN 'DURATION' THEN v.duration_seconds IS NOT NULL AND v.reps IS NULL
                             AND v.distance_m IS NULL
        WHEN 'DISTANCE_TIME' THEN (v.distance_m IS NOT NULL OR v.duration_seconds IS NOT NULL)
                                  AND v.reps IS NULL AND v.load_kg IS NULL
                                  AND v.added_load_kg IS NULL
        ELSE false END), false) AS ok
    FROM ex, incoming AS v
),
existing AS (
    SELECT s.id, s.started_at
    FROM training_session AS s
    WHERE s.user_id = :user_id AND s.finished_at IS NULL AND s.started_at > :since
    ORDER BY s.started_at DESC
    LIMIT 1
    FOR UPDATE
),
counted AS (
    SELECT coalesce(max(ls.set_index) + 1, 0) AS next_index, count(*) AS set_count
    FROM logged_set AS ls
    WHERE ls.session_id = (SELECT id FROM existing)
),
allowed AS (
    SELECT (SELECT ok FROM fits)
           AND (SELECT set_count FROM counted) + :count <= :max_sets AS ok
),
created AS (
    INSERT INTO training_session (user_id, started_at, source)
    SELECT :user_id, :now, 'FREE_TEXT'
    WHERE NOT EXISTS (SELECT 1 FROM existing) AND (SELECT ok FROM allowed)
    RETURNING id, started_at
),
target AS (
    SELECT id, false AS started FROM existing WHERE (SELECT ok FROM allowed)
    UNION ALL
    SELECT id, true FROM created
),
inserted AS (
    INSERT INTO logged_set (session_id, user_id, exercise_id, performed_at, set_index, reps,
                            load_kg, added_load_kg, is_bodyweight, duration_seconds,
                            distance_m, rpe)
    SELECT t.id, :user_id, ex.id, :now, c.next_index + v.ord - 1, v.reps,
           CASE WHEN ex.is_bodyweight AND NOT v.is_bodyweight THEN NULL ELSE v.load_kg END,
           CASE WHEN ex.is_bodyweight AND NOT v.is_bodyweight THEN v.load_kg
                ELSE v.added_load_kg END,
           v.is_bodyweight OR ex.is_bodyweight,
           v.duration_seconds, v.distance_m, v.rpe
    FROM target AS t, ex, counted AS c, incoming AS v
    RETURNING id, session_id, set_index, reps, load_kg, added_load_kg, is_bodyweight,
              duration_seconds, distance_m, rpe, performed_at
),
previous AS (
    SELECT ls.id, ls.session_id, ls.set_index, ls.reps, ls.load_kg, ls.added_load_kg,
           ls.is_bodyweight, ls.duration_seconds, ls.distance_m, ls.rpe, ls.performed_at,
           ls.workout_set_id
    FROM logged_set AS ls
    WHERE ls.user_id = :user_id AND ls.exercise_id = (SELECT id FROM ex)
      AND ls.session_id = (
          SELECT p.session_id FROM logged_set AS p
          WHERE p.user_id = :user_id AND p.exercise_id = (SELECT id FROM ex)
            AND p.session_id IS DISTINCT FROM (SELECT id FROM existing)
          ORDER BY p.performed_at DESC
          LIMIT 1)
),
best AS (
    SELECT max({_E1RM}) AS e1rm
    FROM logged_set AS ls
    WHERE ls.user_id = :user_id AND ls.exercise_id = (SELECT id FROM ex)
      AND NOT ls.is_warmup AND NOT ls.is_bodyweight
)
SELECT 'set' AS kind, i.id, i.session_id, i.set_index, i.reps, i.load_kg, i.added_load_kg,
       i.is_bodyweight, i.duration_seconds, i.distance_m, i.rpe, i.performed_at,
       NULL::uuid AS workout_set_id,
       NULL::text AS name, NULL::text AS measurement, NULL::boolean AS fits,
       NULL::boolean AS started, NULL::numeric AS best_e1rm
FROM inserted AS i
UNION ALL
SELECT 'previous', p.id, p.session_id, p.set_index, p.reps, p.load_kg, p.added_load_kg,
       p.is_bodyweight, p.duration_seconds, p.distance_m, p.rpe, p.performed_at,
       p.workout_set_id, NULL, NULL, NULL, NULL, NULL
FROM previous AS p
UNION ALL
SELECT 'meta', ex.id, (SELECT id FROM target), NULL, NULL, NULL, NULL, ex.is_bodyweight,
       NULL, NULL, NULL, NULL, NULL, ex.name, ex.measurement, (SELECT ok FROM fits),
       (SELECT started FROM target), (SELECT e1rm FROM best)
FROM (SELECT 1) AS one LEFT JOIN ex ON true
ORDER BY 1, 4, 12
"""
    )


# An exercise chosen by id (a button, a pick: user input, re-checked in ``ex``).
_LOG_BY_ID = DriverStatement(_log_statement("chosen AS (SELECT CAST(:exercise_id AS uuid) AS id)"))
# An exercise named by text, when exactly one exercise has that exact name or alias.
_LOG_BY_EXACT_NAME = DriverStatement(
    _log_statement(
        f"""matches AS ({EXACT_MATCHES}
),
chosen AS (SELECT id FROM matches WHERE (SELECT count(*) FROM matches) = 1)"""
    )
)


async def log_free_text(
    session: AsyncSession,
    user_id: uuid.UUID,
    exercise_id: uuid.UUID,
    sets: Sequence[SetInput],
    *,
    now: dt.datetime,
    locale: str,
) -> QuickLogResult:
    """Append ``sets`` of one exercise to the user's current session (opened if none), in one
    statement; see the module docstring for what is checked."""
    result = await _log(
        session, _LOG_BY_ID, {"exercise_id": exercise_id}, user_id, sets, now=now, locale=locale
    )
    if result is None:
        raise NotFound("no such exercise", exercise_id=str(exercise_id))
    return result


def log_values(
    user_id: uuid.UUID,
    sets: Sequence[SetInput],
    *,
    now: dt.datetime,
    locale: str,
    **chosen: Any,
) -> dict[str, Any]:
    """The bind values of a logging statement: the sets column by column (unnested in SQL),
    the user, the instant, and what chooses the exercise (``exercise_id=`` or ``text=``)."""
    values = [one.values() for one in sets]
    params: dict[str, Any] = {
        column: [value[column] for value in values]
        for column in (
            "reps",
            "load_kg",
            "added_load_kg",
            "is_bodyweight",
            "duration_seconds",
            "distance_m",
            "rpe",
        )
    }
    params.update(
        chosen,
        user_id=user_id,
        locale=locale,
        now=now,
        since=now - dt.timedelta(hours=OPEN_SESSION_HOURS),
        count=len(sets),
        max_sets=MAX_SETS_PER_SESSION,
    )
    return params


async def _log(
    session: AsyncSession,
    statement: DriverStatement,
    chosen: dict[str, Any],
    user_id: uuid.UUID,
    sets: Sequence[SetInput],
    *,
    now: dt.datetime,
    locale: str,
) -> QuickLogResult | None:
    """Run a logging statement; None when it chose no exercise (and so wrote nothing)."""
    if now.tzinfo is None:
        raise ValueError("a naive datetime where an instant (UTC) was expected")
    if not sets:
        raise InvalidInput("no set to log")
    if len(sets) > MAX_SETS_PER_SESSION:
        raise TooManySets("too many sets in one session", limit=MAX_SETS_PER_SESSION)
    params = log_values(user_id, sets, now=now, locale=locale, **chosen)
    rows = await fetch_statement(session, statement, params)
    meta = next(row for row in rows if row["kind"] == "meta")
    name: str | None = meta["name"]
    if name is None:
        return None
    exercise_id: uuid.UUID = meta["id"]
    measurement = ExerciseMeasurement(meta["measurement"])
    if not meta["fits"]:
        raise SetsDoNotFit(
            "the sets do not fit how the exercise is measured",
            measurement=measurement.value,
            exercise=name,
        )
    if meta["session_id"] is None:
        raise TooManySets("too many sets in one session", limit=MAX_SETS_PER_SESSION)

    def record(row: Mapping[str, Any]) -> SetRecord:
        return SetRecord(
            id=row["id"],
            session_id=row["session_id"],
            exercise_id=exercise_id,
            exercise_name=name,
            set_index=row["set_index"],
            reps=row["reps"],
            load_kg=row["load_kg"],
            added_load_kg=row["added_load_kg"],
            is_bodyweight=row["is_bodyweight"],
            duration_seconds=row["duration_seconds"],
            distance_m=row["distance_m"],
            rpe=row["rpe"],
            performed_at=row["performed_at"],
            workout_set_id=row["workout_set_id"],
        )

    return QuickLogResult(
        session_id=meta["session_id"],
        session_started=bool(meta["started"]),
        exercise_id=exercise_id,
        exercise_name=name,
        measurement=measurement,
        is_bodyweight=bool(meta["is_bodyweight"]),
        sets=[record(row) for row in rows if row["kind"] == "set"],
        last_time=[record(row) for row in rows if row["kind"] == "previous"],
        previous_best_e1rm_kg=meta["best_e1rm"],
    )
