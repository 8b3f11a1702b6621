"""The reference data files: complete, translated, consistent, and checked before loading."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from domain.reference.loader import DATA_DIR, ReferenceDataError, read_reference_data


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return read_reference_data()


def test_catalogue_sizes(data) -> None:  # type: ignore[no-untyped-def]
    assert len(data.muscles) >= 60
    assert len(data.exercises) >= 150
    assert len(data.equipment) >= 25
    assert {r.code for r in data.roles} >= {
        "ADMIN",
        "GUEST",
        "TRAINER",
        "PHYSIOTHERAPIST",
        "COACH",
        "MEMBER",
        "CUSTOMER",
    }


def test_every_exercise_is_complete(data) -> None:  # type: ignore[no-untyped-def]
    for item in data.exercises:
        for locale in ("en", "fr", "ru"):
            assert getattr(item.name, locale).strip(), item.code
            assert getattr(item.description, locale).strip(), item.code
            assert len(getattr(item.instructions, locale)) >= 2, item.code
        assert item.primary_muscles, item.code


def test_translations_are_not_copies(data) -> None:  # type: ignore[no-untyped-def]
    """Russian names are in Cyrillic; most French names differ from the English ones."""
    for item in data.exercises + data.muscles:
        assert any("\u0400" <= ch <= "\u04ff" for ch in item.name.ru), item.code
    same = [item.code for item in data.exercises if item.name.fr == item.name.en]
    assert len(same) < len(data.exercises) // 5


def test_units_cover_what_athletes_log(data) -> None:  # type: ignore[no-untyped-def]
    units = {m.code for m in data.lookups.metrics if m.type == "UNIT"}
    assert {"KG", "LB", "REPS", "SECONDS", "METRES", "RPE", "RIR", "SORENESS"} <= units
    pound = next(m for m in data.lookups.metrics if m.code == "LB")
    assert float(pound.to_base_factor) == pytest.approx(0.45359237)


def test_permission_catalogue_covers_the_bot(data) -> None:  # type: ignore[no-untyped-def]
    resources = {p.resource for p in data.permissions.permissions}
    assert {
        "WORKOUT",
        "PROGRAM",
        "EXERCISE",
        "TRAINING_LOG",
        "CLIENT_LOG",
        "INSTITUTION",
        "INSTITUTION_INVITE",
        "GOAL",
        "SETTING",
    } <= resources
    assert all(
        p.scope in {None, "OWN", "INSTITUTION", "PUBLIC", "RESOURCE_ID"}
        for p in data.permissions.permissions
    )


def copy_data(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def test_unknown_muscle_is_refused_before_writing(tmp_path: Path) -> None:
    target = copy_data(tmp_path)
    path = sorted(target.glob("exercises-*.yaml"))[0]
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    items[0]["primary_muscles"] = ["no_such_muscle"]
    path.write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="unknown muscle no_such_muscle"):
        read_reference_data(target)


def test_missing_translation_is_refused(tmp_path: Path) -> None:
    target = copy_data(tmp_path)
    path = target / "muscles.yaml"
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    del items[3]["name"]["fr"]
    path.write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=r"muscles.yaml: 3\.name\.fr"):
        read_reference_data(target)


def test_role_cycle_is_refused(tmp_path: Path) -> None:
    target = copy_data(tmp_path)
    path = target / "roles.yaml"
    roles = yaml.safe_load(path.read_text(encoding="utf-8"))
    by_code = {role["code"]: role for role in roles}
    by_code["GUEST"]["parent"] = "ADMIN"
    path.write_text(yaml.safe_dump(roles, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="cycle"):
        read_reference_data(target)
