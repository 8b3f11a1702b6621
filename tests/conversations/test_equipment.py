"""/equipment through the emulator: the full-gym default, toggles by category with translated
names, presets, and forged codes refused with nothing changed."""

from __future__ import annotations

import uuid

import pytest
import yaml
from sqlalchemy import select

from bot.emulator.driver import EmulatedUser
from bot.handlers.equipment import EquipmentCategoryOpen, EquipmentPresetPick, EquipmentToggle
from domain.models.user import User
from domain.reference.loader import DATA_DIR
from domain.services.alternatives import my_equipment
from tests.conversations.conftest import Harness


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


async def stored(harness: Harness, person: EmulatedUser) -> list[str]:
    async with harness.session_factory() as session:
        user_id = await session.scalar(
            select(User.id).where(User.telegram_user_id == person.user_id)
        )
        assert isinstance(user_id, uuid.UUID)
        return await my_equipment(session, user_id)


async def test_full_gym_by_default_then_toggle_and_presets(harness: Harness) -> None:
    amy = harness.user("amy")
    replies = await amy.send("/equipment")
    screen = replies[-1]
    assert "🏋️ My equipment" in screen.text
    assert "You have 40 of 40." in screen.text
    assert "⚡ Home (bodyweight)" in screen.labels()
    free_weights = next(label for label in screen.labels() if label.startswith("Free weight"))
    assert free_weights.endswith("6/6")
    replies = await amy.tap(free_weights)
    assert "✅ Barbell" in replies[-1].labels()
    replies = await amy.tap("✅ Barbell")
    assert "▫️ Barbell" in replies[-1].labels()
    assert "barbell" not in await stored(harness, amy)
    assert len(await stored(harness, amy)) == 39
    replies = await amy.tap("▫️ Barbell")
    assert "✅ Barbell" in replies[-1].labels()
    assert len(await stored(harness, amy)) == 40
    replies = await amy.tap("⬅️ My equipment")
    replies = await amy.tap("⚡ Home with dumbbells")
    assert replies[-1].text.startswith("Saved.")
    assert "You have 4 of 40." in replies[-1].text
    assert await stored(harness, amy) == ["dumbbell", "flat_bench", "adjustable_bench", "yoga_mat"]
    replies = await amy.tap("⚡ Home (bodyweight)")
    assert "You have 1 of 40." in replies[-1].text
    assert await stored(harness, amy) == ["yoga_mat"]


async def test_names_in_my_language(harness: Harness) -> None:
    ben = harness.user("ben", language_code="fr")
    replies = await ben.send("/equipment")
    assert "Barre olympique" in replies[-1].text


@pytest.mark.parametrize(
    "data",
    [
        EquipmentToggle(code="time_machine").pack(),
        EquipmentPresetPick(code="EARLY_BIRD").pack(),
        EquipmentPresetPick(code="EQUIPMENT_NOPE").pack(),
        EquipmentCategoryOpen(code="SPACESHIP").pack(),
    ],
)
async def test_forged_callback_data_changes_nothing(harness: Harness, data: str) -> None:
    cy = harness.user("cy")
    await cy.send("/equipment")
    before = await stored(harness, cy)
    await cy.press_data(data)
    assert cy.callback_answers[-1].text == "That is not one of the choices."
    assert cy.callback_answers[-1].show_alert
    assert await stored(harness, cy) == before


def test_callback_data_fits_telegram_limit() -> None:
    catalogue = yaml.safe_load((DATA_DIR / "equipment.yaml").read_text(encoding="utf-8"))
    for item in catalogue:
        assert len(EquipmentToggle(code=item["code"]).pack().encode()) <= 64, item["code"]
    for code in ("EQUIPMENT_HOME_BODYWEIGHT", "EQUIPMENT_HOME_DUMBBELLS", "EQUIPMENT_FULL_GYM"):
        assert len(EquipmentPresetPick(code=code).pack().encode()) <= 64
