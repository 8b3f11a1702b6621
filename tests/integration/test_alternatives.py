"""Swaps and suggestions against the seeded catalogue and the ``equipment`` setting: feasible
alternatives first, both kinds, only usable exercises, presets, institution-level lists."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models.access import Visibility
from domain.models.enums import ResourceType
from domain.models.exercise import Exercise, ExerciseAccessibility
from domain.models.institution import Institution, InstitutionMember
from domain.models.lookup import DifficultyLevel
from domain.reference.loader import DATA_DIR
from domain.services.alternatives import (
    SwapKind,
    apply_equipment_preset,
    can_do,
    equipment_choices,
    equipment_presets,
    my_equipment,
    set_my_equipment,
    suggest_exercises,
    swap_candidates,
    toggle_my_equipment,
)
from domain.services.settings import InvalidSettingValue, set_institution_setting
from tests.factories import exercise_id, make_user


async def ids(session: AsyncSession, *codes: str) -> dict[str, uuid.UUID]:
    return {code: await exercise_id(session, code) for code in codes}


def test_setting_choices_are_the_equipment_catalogue() -> None:
    catalogue = [item["code"] for item in yaml.safe_load((DATA_DIR / "equipment.yaml").read_text())]
    settings = yaml.safe_load(Path(DATA_DIR / "settings.yaml").read_text())
    equipment = next(item for item in settings["settings"] if item["key"] == "equipment")
    assert sorted(equipment["rules"]["choices"]) == sorted(catalogue)
    assert sorted(equipment["default"]) == sorted(catalogue)


async def test_new_user_has_a_full_gym(session: AsyncSession) -> None:
    ann = await make_user(session)
    assert len(await my_equipment(session, ann.id)) == 40
    found = await ids(session, "barbell_bench_press", "machine_chest_press", "push_up")
    assert await can_do(session, ann.id, list(found.values())) == dict.fromkeys(
        found.values(), True
    )


async def test_bench_press_with_dumbbells_only(session: AsyncSession) -> None:
    ben = await make_user(session)
    await set_my_equipment(session, ben.id, ["dumbbell", "flat_bench"])
    bench = await exercise_id(session, "barbell_bench_press")
    options = await swap_candidates(session, ben.id, bench, locale="en", limit=10)
    names = [option.name for option in options]
    feasible = [option.name for option in options if option.feasible]
    # Accessible alternatives the user can do come first, in the catalogue's order.
    assert feasible[:3] == ["Dumbbell Bench Press", "Push-Up", "Dumbbell Floor Press"]
    assert names[: len(feasible)] == feasible
    first = options[0]
    assert first.kind is SwapKind.ACCESSIBLE
    assert first.note == "No spotter needed and a freer shoulder path"
    assert first.difficulty_delta is None
    # The machine press is offered, after the feasible ones, marked as not feasible.
    machine = next(option for option in options if option.name == "Machine Chest Press")
    assert not machine.feasible
    # Variants of the barbell press (barbell needed) are there and not feasible.
    variants = [option for option in options if option.kind is SwapKind.VARIANT]
    assert variants
    assert all(option.difficulty_delta is not None for option in variants)
    assert not any(option.feasible for option in variants)
    checked = await can_do(
        session, ben.id, [bench, first.exercise_id, machine.exercise_id, uuid.uuid4()]
    )
    assert checked == {bench: False, first.exercise_id: True, machine.exercise_id: False}


async def test_notes_and_names_follow_the_locale(session: AsyncSession) -> None:
    cleo = await make_user(session, locale="fr")
    await set_my_equipment(session, cleo.id, [])
    found = await ids(session, "barbell_bench_press", "push_up")
    options = await swap_candidates(
        session, cleo.id, found["barbell_bench_press"], locale="fr", limit=3
    )
    assert len(options) == 3
    # With no equipment at all, only the push-up is feasible: it comes first.
    assert [option.feasible for option in options] == [True, False, False]
    assert options[0].exercise_id == found["push_up"]
    assert options[0].note == "Aucun matériel"
    push_up_fr = await session.scalar(
        select(Exercise.name_i18n["fr"].astext).where(Exercise.id == found["push_up"])
    )
    assert options[0].name == push_up_fr


async def test_variants_count_both_ways(session: AsyncSession) -> None:
    dan = await make_user(session)
    found = await ids(session, "knee_push_up", "push_up")
    options = await swap_candidates(session, dan.id, found["knee_push_up"], locale="en", limit=20)
    by_id = {option.exercise_id: option for option in options}
    assert found["push_up"] in by_id
    # Each candidate appears once.
    assert len(by_id) == len(options)


async def test_only_usable_exercises_are_offered(session: AsyncSession) -> None:
    eve = await make_user(session)
    mallory = await make_user(session)
    bench = await exercise_id(session, "barbell_bench_press")
    level = await session.scalar(
        select(DifficultyLevel.id).where(DifficultyLevel.code == "BEGINNER")
    )
    private = await session.scalar(
        select(Visibility.id).where(
            Visibility.resource_type == ResourceType.EXERCISE, Visibility.code == "PRIVATE"
        )
    )
    assert level is not None
    assert private is not None
    theirs = Exercise(
        owner_id=mallory.id,
        name="Mallory's press",
        description="x",
        instructions="x",
        difficulty_level_id=level,
        visibility_id=private,
    )
    session.add(theirs)
    await session.flush()
    session.add(
        ExerciseAccessibility(exercise_id=bench, alternative_exercise_id=theirs.id, order_index=0)
    )
    await session.flush()
    assert theirs.id not in {
        option.exercise_id
        for option in await swap_candidates(session, eve.id, bench, locale="en", limit=50)
    }
    assert theirs.id in {
        option.exercise_id
        for option in await swap_candidates(session, mallory.id, bench, locale="en", limit=50)
    }
    # Another person's exercise as the source: nothing.
    assert await swap_candidates(session, eve.id, theirs.id, locale="en") == []


async def test_suggestions_prefer_what_i_can_do(session: AsyncSession) -> None:
    fay = await make_user(session)
    await set_my_equipment(session, fay.id, ["dumbbell"])
    suggestions = await suggest_exercises(
        session, fay.id, muscle_code="pectoralis_major_sternal", locale="en", limit=5
    )
    assert len(suggestions) == 5
    assert all(item.feasible for item in suggestions)
    allowed = await can_do(session, fay.id, [item.exercise_id for item in suggestions])
    assert all(allowed.values())
    anything = await suggest_exercises(session, fay.id, locale="en", limit=3)
    assert len(anything) == 3
    assert all(item.feasible for item in anything)


async def test_unknown_equipment_code_changes_nothing(session: AsyncSession) -> None:
    gus = await make_user(session)
    await set_my_equipment(session, gus.id, ["dumbbell"])
    with pytest.raises(InvalidSettingValue):
        await set_my_equipment(session, gus.id, ["dumbbell", "time_machine"])
    assert await my_equipment(session, gus.id) == ["dumbbell"]
    assert await toggle_my_equipment(session, gus.id, "barbell") is True
    assert await my_equipment(session, gus.id) == ["barbell", "dumbbell"]
    assert await toggle_my_equipment(session, gus.id, "dumbbell") is False
    assert await my_equipment(session, gus.id) == ["barbell"]


async def test_presets_and_choices(session: AsyncSession) -> None:
    hal = await make_user(session)
    presets = await equipment_presets(session, locale="ru")
    assert [preset.code for preset in presets] == [
        "EQUIPMENT_HOME_BODYWEIGHT",
        "EQUIPMENT_HOME_DUMBBELLS",
        "EQUIPMENT_FULL_GYM",
    ]
    assert presets[0].name == "Дома (собственный вес)"
    stored = await apply_equipment_preset(session, hal.id, "EQUIPMENT_HOME_DUMBBELLS")
    assert "dumbbell" in stored
    assert "barbell" not in stored
    choices = await equipment_choices(session, hal.id, locale="fr")
    assert len(choices) == 40
    owned = {choice.code for choice in choices if choice.owned}
    assert owned == set(stored)
    barbell = next(choice for choice in choices if choice.code == "barbell")
    assert barbell.name == "Barre olympique"
    assert barbell.category_code == "FREE_WEIGHT"
    with pytest.raises(Exception, match="preset"):
        await apply_equipment_preset(session, hal.id, "EARLY_BIRD")


async def test_a_gym_sets_its_members_equipment(session: AsyncSession) -> None:
    ida = await make_user(session)
    visibility = await session.scalar(
        select(Visibility.id).where(
            Visibility.resource_type == ResourceType.INSTITUTION, Visibility.is_default
        )
    )
    assert visibility is not None
    gym = Institution(name=f"Garage gym {uuid.uuid4().hex[:6]}", visibility_id=visibility)
    session.add(gym)
    await session.flush()
    session.add(InstitutionMember(institution_id=gym.id, user_id=ida.id))
    await session.flush()
    await set_institution_setting(session, gym.id, "equipment", ["kettlebell", "pull_up_bar"])
    assert await my_equipment(session, ida.id) == ["kettlebell", "pull_up_bar"]
    bench = await exercise_id(session, "barbell_bench_press")
    assert await can_do(session, ida.id, [bench]) == {bench: False}
