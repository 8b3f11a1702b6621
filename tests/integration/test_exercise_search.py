"""Matching typed exercise names against the seeded catalogue (en/fr/ru), with typos,
ambiguity, nonsense and other people's private exercises."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models.enums import ExerciseMeasurement
from domain.models.exercise import Exercise, UserExerciseMap
from domain.services.exercise_search import MAX_CANDIDATES, match_exercise, usable_exercise
from tests.factories import exercise_id, make_user


async def chosen_code(session: AsyncSession, user_id: uuid.UUID, text: str, locale: str) -> str:
    match = await match_exercise(session, user_id, text, locale=locale)
    assert match.chosen is not None, (text, match.candidates)
    code = await session.scalar(select(Exercise.code).where(Exercise.id == match.chosen.id))
    assert code is not None
    return code


@pytest.mark.parametrize(
    ("text", "locale", "code"),
    [
        ("squat", "en", "back_squat"),
        ("bench", "en", "barbell_bench_press"),
        ("deadlift", "en", "conventional_deadlift"),
        ("pullups", "en", "pull_up"),
        ("Pull-Ups", "en", "pull_up"),
        ("pull ups", "en", "pull_up"),
        ("plank", "en", "plank"),
        ("run", "en", "running"),
        ("BACK SQUAT", "en", "back_squat"),
        ("développé couché", "fr", "barbell_bench_press"),
        ("developpe couche", "fr", "barbell_bench_press"),
        ("tractions", "fr", "pull_up"),
        ("жим лёжа", "ru", "barbell_bench_press"),
        ("жим лежа", "ru", "barbell_bench_press"),
        ("Жим штанги лёжа", "ru", "barbell_bench_press"),
        ("подтягивания", "ru", "pull_up"),
        ("бег", "ru", "running"),
        # an English name in a French or Russian chat still wins outright
        ("squat", "ru", "back_squat"),
        # typos: a swapped pair, a swapped pair inside a longer word
        ("sqaut", "en", "back_squat"),
        ("deadlfit", "en", "conventional_deadlift"),
    ],
)
async def test_one_exercise_is_chosen(
    session: AsyncSession, text: str, locale: str, code: str
) -> None:
    user = await make_user(session, locale=locale)
    assert await chosen_code(session, user.id, text, locale) == code


async def test_the_chosen_exercise_carries_its_name_in_the_locale_and_measurement(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    bench = await match_exercise(session, user.id, "bench", locale="ru")
    assert bench.chosen is not None
    assert bench.chosen.name == "Жим штанги лёжа"
    assert bench.chosen.measurement is ExerciseMeasurement.REPS_LOAD
    assert bench.chosen.score == 1.0
    run = await match_exercise(session, user.id, "run", locale="fr")
    assert run.chosen is not None
    assert (run.chosen.name, run.chosen.measurement) == (
        "Course à pied",
        ExerciseMeasurement.DISTANCE_TIME,
    )
    pullups = await match_exercise(session, user.id, "pullups", locale="en")
    assert pullups.chosen is not None
    assert pullups.chosen.is_bodyweight


async def test_a_vague_word_offers_several_candidates(session: AsyncSession) -> None:
    user = await make_user(session)
    match = await match_exercise(session, user.id, "press", locale="en")
    assert match.chosen is None
    assert 2 <= len(match.candidates) <= MAX_CANDIDATES
    assert all("Press" in c.name or c.score < 1 for c in match.candidates)
    assert sum("Press" in c.name for c in match.candidates) >= 2
    scores = [c.score for c in match.candidates]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("text", ["xyzzy", "qwertyuiop", "  ", "zzzz zzzz", "12345"])
async def test_nonsense_matches_nothing(session: AsyncSession, text: str) -> None:
    user = await make_user(session)
    match = await match_exercise(session, user.id, text, locale="en")
    assert match.chosen is None
    assert match.candidates == []


async def own_exercise(session: AsyncSession, owner: uuid.UUID, name: str) -> uuid.UUID:
    template = await session.get(Exercise, await exercise_id(session, "back_squat"))
    assert template is not None
    exercise = Exercise(
        owner_id=owner,
        name=name,
        name_i18n={"en": name},
        description="mine",
        instructions="do it",
        aliases={"en": ["zercher walk"]},
        measurement=ExerciseMeasurement.REPS_LOAD,
        difficulty_level_id=template.difficulty_level_id,
        visibility_id=template.visibility_id,
    )
    session.add(exercise)
    await session.flush()
    return exercise.id


async def test_own_exercises_match_other_peoples_never(session: AsyncSession) -> None:
    ann = await make_user(session, first_name="Ann")
    bob = await make_user(session, first_name="Bob")
    mine = await own_exercise(session, ann.id, "Zercher Carry Hold")

    match = await match_exercise(session, ann.id, "zercher carry hold", locale="en")
    assert match.chosen is not None
    assert match.chosen.id == mine
    alias = await match_exercise(session, ann.id, "Zercher walk", locale="fr")
    assert alias.chosen is not None
    assert alias.chosen.id == mine
    typo = await match_exercise(session, ann.id, "zercher cary hold", locale="en")
    assert typo.chosen is not None
    assert typo.chosen.id == mine

    for text in ("zercher carry hold", "zercher walk", "zercher cary hold"):
        theirs = await match_exercise(session, bob.id, text, locale="en")
        assert theirs.chosen is None or theirs.chosen.id != mine
        assert mine not in [c.id for c in theirs.candidates]
    assert await usable_exercise(session, bob.id, mine, locale="en") is None
    assert await usable_exercise(session, ann.id, mine, locale="en") is not None


async def test_an_exercise_in_the_users_list_matches(session: AsyncSession) -> None:
    ann = await make_user(session, first_name="Ann")
    bob = await make_user(session, first_name="Bob")
    shared = await own_exercise(session, ann.id, "Zercher Carry Hold")
    session.add(UserExerciseMap(user_id=bob.id, exercise_id=shared))
    await session.flush()
    match = await match_exercise(session, bob.id, "zercher carry hold", locale="en")
    assert match.chosen is not None
    assert match.chosen.id == shared
    assert await usable_exercise(session, bob.id, shared, locale="en") is not None


async def test_archived_exercises_are_not_matched(session: AsyncSession) -> None:
    ann = await make_user(session)
    mine = await own_exercise(session, ann.id, "Zercher Carry Hold")
    row = await session.get(Exercise, mine)
    assert row is not None
    row.is_active = False
    await session.flush()
    match = await match_exercise(session, ann.id, "zercher carry hold", locale="en")
    assert match.chosen is None
    assert mine not in [c.id for c in match.candidates]


async def test_two_exercises_sharing_an_alias_are_both_offered(session: AsyncSession) -> None:
    ann = await make_user(session)
    first = await own_exercise(session, ann.id, "Zercher Carry Hold")
    second = await own_exercise(session, ann.id, "Zercher Squat Hold")
    match = await match_exercise(session, ann.id, "zercher walk", locale="en")
    assert match.chosen is None
    assert {c.id for c in match.candidates} == {first, second}
    assert all(c.score == 1.0 for c in match.candidates)
