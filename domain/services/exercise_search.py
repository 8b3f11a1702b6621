"""Which exercise did the athlete mean? Free text ("squat", "développé couché", "жим лёжа",
"sqaut") → the exercise, or a short list to choose from, in one SQL statement.

Searched: the exercises this user may log — the system catalogue (``owner_id`` NULL), their
own, and those in their ``user_exercise_map`` — active ones only. Text is compared folded
(case, accents, ё/е, spaces and punctuation: ``exercise_search_fold``, migration 0006), so
"Pull-Ups", "pull ups" and "pullups" are the same word.

The rule:

1. **Exact**: the folded text equals a folded name or alias of an exercise, in any shipped
   language (``ix_exercise_search_terms``, a GIN index: no scan of the catalogue). One such
   exercise wins outright; several (two exercises sharing an alias) are offered as choices.
2. **Near**: otherwise every usable exercise is scored against its name, its name in the
   user's language and in English, and its aliases in both: the best of trigram similarity
   (pg_trgm) and, within ``MAX_EDITS`` edits, ``1 − edits / length`` (fuzzystrmatch: a
   swapped pair of letters costs 2 edits, which trigrams punish far more). The top one is
   chosen when it scores at least ``CHOSEN_SCORE`` and leads the second by ``CHOSEN_GAP``;
   otherwise those scoring at least ``CANDIDATE_SCORE`` (up to ``MAX_CANDIDATES``) are the
   choices; none → no match.

The near path reads every usable exercise (a few hundred rows, some milliseconds); it only
runs when no exact name or alias matched, i.e. on typos and vague words.
"""

# The statements are pasted together from this module's constants (S608); values are bind
# parameters.
# ruff: noqa: S608

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models.enums import ExerciseMeasurement

MAX_CANDIDATES = 6
CHOSEN_SCORE = 0.55
CHOSEN_GAP = 0.15
CANDIDATE_SCORE = 0.4
# A typo is one or two edits ("sqaut": a swapped pair); more is another word.
MAX_EDITS = 2
# Longer text cannot be an exercise name (names are at most 50 characters).
MAX_QUERY_LENGTH = 100


@dataclass(frozen=True, slots=True)
class ExerciseChoice:
    id: uuid.UUID
    name: str  # in the caller's locale (English, then the canonical name, when missing)
    measurement: ExerciseMeasurement
    is_bodyweight: bool
    score: float  # 1.0 for an exact name or alias


@dataclass(frozen=True, slots=True)
class ExerciseMatch:
    """``chosen`` when the text names one exercise unambiguously, else ``candidates`` to
    choose from (empty: nothing close)."""

    chosen: ExerciseChoice | None
    candidates: list[ExerciseChoice] = field(default_factory=list)


# The terms a near match is scored against: name, name in the locale and in English, aliases
# in the locale and in English (aliases that are not a JSON array are ignored).
# Usable by :user_id: the system catalogue, their own, their user_exercise_map; active.
USABLE_EXERCISE = """e.is_active
      AND (e.owner_id IS NULL
           OR e.owner_id = :user_id
           OR e.id IN (SELECT m.exercise_id FROM user_exercise_map AS m
                       WHERE m.user_id = :user_id))"""

# The exercises whose folded name or an alias equals the folded :text (the GIN index
# ix_exercise_search_terms: no scan), usable by :user_id. Rule 1 above; also the first CTE of
# the free-text fast path (domain.services.quick_log), which logs when exactly one matches.
EXACT_MATCHES = f"""
    SELECT e.id
    FROM exercise AS e
    WHERE exercise_search_terms(e.name, e.name_i18n, e.aliases)
          @> ARRAY[exercise_search_fold(CAST(:text AS text))]
      AND {USABLE_EXERCISE}"""

_SEARCH = sql(
    f"""
WITH query AS (
    SELECT exercise_search_fold(CAST(:text AS text)) AS q
),
exact AS ({EXACT_MATCHES}
),
near_terms AS MATERIALIZED (
    SELECT e.id, exercise_search_fold(term.value) AS folded
    FROM exercise AS e
    CROSS JOIN LATERAL jsonb_array_elements_text(
        jsonb_build_array(e.name, e.name_i18n -> :locale, e.name_i18n -> 'en')
        || CASE WHEN jsonb_typeof(e.aliases -> :locale) = 'array'
                THEN e.aliases -> :locale ELSE '[]' END
        || CASE WHEN jsonb_typeof(e.aliases -> 'en') = 'array'
                THEN e.aliases -> 'en' ELSE '[]' END
    ) AS term(value)
    WHERE NOT EXISTS (SELECT 1 FROM exact) AND {USABLE_EXERCISE}
),
near AS (
    SELECT t.id,
           max(greatest(
               similarity(t.folded, query.q),
               CASE WHEN levenshtein_less_equal(t.folded, query.q, :edits) <= :edits
                    THEN 1 - levenshtein_less_equal(t.folded, query.q, :edits)::real
                             / greatest(length(t.folded), length(query.q), 1)
                    ELSE 0 END)) AS score
    FROM near_terms AS t, query
    WHERE t.folded <> ''
    GROUP BY t.id
),
found AS (
    SELECT id, 1.0::float8 AS score, true AS exact FROM exact
    UNION ALL
    SELECT id, score::float8, false FROM near WHERE score >= :floor
)
SELECT e.id,
       coalesce(e.name_i18n ->> :locale, e.name_i18n ->> 'en', e.name) AS name,
       e.measurement, e.is_bodyweight, found.score, found.exact
FROM found JOIN exercise AS e ON e.id = found.id
ORDER BY found.score DESC, name, e.id
LIMIT :limit
"""
)


async def match_exercise(
    session: AsyncSession, user_id: uuid.UUID, text: str, *, locale: str
) -> ExerciseMatch:
    """The exercise ``text`` names for this user (one statement; see the module's rule)."""
    wanted = search_text(text)
    if not wanted:
        return ExerciseMatch(chosen=None)
    rows = (
        await session.execute(
            _SEARCH,
            {
                "text": wanted,
                "user_id": user_id,
                "locale": locale,
                "floor": CANDIDATE_SCORE,
                "edits": MAX_EDITS,
                # one more than shown: the gap rule needs the runner-up
                "limit": MAX_CANDIDATES + 1,
            },
        )
    ).all()
    choices = [
        ExerciseChoice(
            id=row.id,
            name=row.name,
            measurement=ExerciseMeasurement(row.measurement),
            is_bodyweight=row.is_bodyweight,
            score=float(row.score),
        )
        for row in rows
    ]
    exact = [choice for choice, row in zip(choices, rows, strict=True) if row.exact]
    if len(exact) == 1:
        return ExerciseMatch(chosen=exact[0], candidates=exact)
    if exact:
        return ExerciseMatch(chosen=None, candidates=exact[:MAX_CANDIDATES])
    if choices and _clear_winner(choices):
        return ExerciseMatch(chosen=choices[0], candidates=choices[:1])
    return ExerciseMatch(chosen=None, candidates=choices[:MAX_CANDIDATES])


def search_text(text: str) -> str:
    """What is searched for: spaces collapsed, cut at MAX_QUERY_LENGTH."""
    return " ".join(text.split())[:MAX_QUERY_LENGTH]


def _clear_winner(choices: list[ExerciseChoice]) -> bool:
    top = choices[0].score
    runner_up = choices[1].score if len(choices) > 1 else 0.0
    return top >= CHOSEN_SCORE and top - runner_up >= CHOSEN_GAP


async def usable_exercise(
    session: AsyncSession, user_id: uuid.UUID, exercise_id: uuid.UUID, *, locale: str
) -> ExerciseChoice | None:
    """One exercise by id if this user may log it (an id from a button is user input)."""
    row = (
        await session.execute(
            sql(
                f"""
SELECT e.id, coalesce(e.name_i18n ->> :locale, e.name_i18n ->> 'en', e.name) AS name,
       e.measurement, e.is_bodyweight
FROM exercise AS e
WHERE e.id = :exercise_id AND {USABLE_EXERCISE}
"""
            ),
            {"exercise_id": exercise_id, "user_id": user_id, "locale": locale},
        )
    ).one_or_none()
    if row is None:
        return None
    return ExerciseChoice(
        id=row.id,
        name=row.name,
        measurement=ExerciseMeasurement(row.measurement),
        is_bodyweight=row.is_bodyweight,
        score=1.0,
    )
