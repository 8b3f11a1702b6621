"""data/activity.yaml: the activity types the app writes, translated, and checked when read."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.reference.activity import FILE_NAME, ActivityReference, read
from domain.reference.loader import DATA_DIR, ReferenceDataError

# Codes the services and later issues write.
REQUIRED_TYPES = {
    "WORKOUT_STARTED",
    "WORKOUT_COMPLETED",
    "FREE_LOG",
    "PR_ACHIEVED",
    "GOAL_ACHIEVED",
    "PROGRAM_STARTED",
    "PROGRAM_COMPLETED",
    "STREAK_MILESTONE",
    "RATING_POSTED",
    "FAVORITE_ADDED",
}


@pytest.fixture(scope="module")
def data() -> ActivityReference:
    return read(DATA_DIR)


def test_the_types_the_app_writes_are_there(data: ActivityReference) -> None:
    assert {item.code for item in data.activity_types} >= REQUIRED_TYPES


def test_every_text_is_translated_not_copied(data: ActivityReference) -> None:
    for item in data.activity_types:
        for text in (item.name, item.description):
            assert text.fr != text.en, item.code
            assert any("\u0400" <= ch <= "\u04ff" for ch in text.ru), item.code


def test_a_session_summary_needs_no_resource(data: ActivityReference) -> None:
    """Free logs have no planned workout; the training session is their link."""
    by_code = {item.code: item for item in data.activity_types}
    assert not by_code["WORKOUT_COMPLETED"].requires_resource
    assert not by_code["FREE_LOG"].requires_resource
    assert by_code["PR_ACHIEVED"].requires_resource


def rewrite(tmp_path: Path, change: Any) -> Path:
    shutil.copy(DATA_DIR / FILE_NAME, tmp_path / FILE_NAME)
    path = tmp_path / FILE_NAME
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(content["activity_types"])
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return tmp_path


def test_duplicate_code_is_refused(tmp_path: Path) -> None:
    directory = rewrite(tmp_path, lambda types: types.append(dict(types[0])))
    with pytest.raises(ReferenceDataError, match="duplicate activity type code"):
        read(directory)


def test_missing_translation_is_refused(tmp_path: Path) -> None:
    directory = rewrite(tmp_path, lambda types: types[2]["description"].pop("ru"))
    with pytest.raises(
        ReferenceDataError, match=r"activity\.yaml: activity_types\.2\.description\.ru"
    ):
        read(directory)


def test_lower_case_code_is_refused(tmp_path: Path) -> None:
    directory = rewrite(tmp_path, lambda types: types[0].update(code="workout_done"))
    with pytest.raises(ReferenceDataError, match=r"activity_types\.0\.code"):
        read(directory)
