"""Ratings and billing reference files: complete, translated, and refused when inconsistent."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.models.payment import FREE_PLAN_CODE
from domain.models.rating import RatingStatusCode, ReportStatusCode
from domain.reference import billing, ratings
from domain.reference.loader import DATA_DIR, ReferenceDataError


def edited(tmp_path: Path, name: str, change: Any) -> Path:
    """A copy of the data directory where `change(content)` edited one file."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    path = target / name
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(content)
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return target


def test_ratings_file_has_every_code_the_service_needs() -> None:
    data = ratings.read(DATA_DIR)
    assert {s.code for s in data.rating_statuses} == set(RatingStatusCode)
    assert {s.code for s in data.report_statuses} == set(ReportStatusCode)
    assert {r.code for r in data.report_reasons} == {
        "SPAM",
        "OFFENSIVE",
        "OFF_TOPIC",
        "FAKE",
        "OTHER",
    }
    criteria = {c.code: set(c.applicable_to) for c in data.criteria_types}
    assert {"CLARITY", "EFFECTIVENESS", "DIFFICULTY_FIT", "COACH_RESPONSIVENESS"} <= set(criteria)
    assert criteria["COACH_RESPONSIVENESS"] == {"COACH"}
    for item in [*data.rating_statuses, *data.criteria_types, *data.report_reasons]:
        assert any("\u0400" <= ch <= "\u04ff" for ch in item.name.ru), item.code
        assert item.description is not None
        assert item.description.fr != item.description.en, item.code


def test_ratings_file_without_a_needed_status_is_refused(tmp_path: Path) -> None:
    def drop_published(content: dict[str, Any]) -> None:
        content["rating_statuses"] = [
            s for s in content["rating_statuses"] if s["code"] != "PUBLISHED"
        ]

    with pytest.raises(ReferenceDataError, match="missing rating status PUBLISHED"):
        ratings.read(edited(tmp_path, ratings.FILE_NAME, drop_published))


def test_ratings_file_with_a_duplicate_or_unknown_type_is_refused(tmp_path: Path) -> None:
    def duplicate_reason(content: dict[str, Any]) -> None:
        content["report_reasons"].append(content["report_reasons"][0])

    with pytest.raises(ReferenceDataError, match="duplicate report reason SPAM"):
        ratings.read(edited(tmp_path, ratings.FILE_NAME, duplicate_reason))

    def unknown_type(content: dict[str, Any]) -> None:
        content["criteria_types"][0]["applicable_to"] = ["PLANET"]

    with pytest.raises(ReferenceDataError, match="applicable_to"):
        ratings.read(edited(tmp_path / "again", ratings.FILE_NAME, unknown_type))


def test_plans_are_free_coach_pro_and_gym_with_the_same_feature_keys() -> None:
    data = billing.read(DATA_DIR)
    plans = {plan.code: plan for plan in data.plans}
    assert set(plans) == {FREE_PLAN_CODE, "COACH_PRO", "GYM"}
    assert plans["FREE"].price_minor == 0
    assert plans["FREE"].features["max_clients"] == 3
    assert (plans["COACH_PRO"].price_minor, plans["COACH_PRO"].currency) == (999, "EUR")
    assert plans["COACH_PRO"].features["max_clients"] == 30
    assert plans["COACH_PRO"].features["client_charts"] is True
    assert plans["GYM"].features["max_members"] == 500
    granting = {s.code for s in data.subscription_statuses if s.grants_access}
    assert granting == {"TRIALING", "ACTIVE", "PAST_DUE", "CANCELLED"}


def test_billing_file_without_free_plan_or_with_uneven_features_is_refused(
    tmp_path: Path,
) -> None:
    def drop_free(content: dict[str, Any]) -> None:
        content["plans"] = [p for p in content["plans"] if p["code"] != "FREE"]

    with pytest.raises(ReferenceDataError, match="missing plan FREE"):
        billing.read(edited(tmp_path, billing.FILE_NAME, drop_free))

    def forget_a_feature(content: dict[str, Any]) -> None:
        del content["plans"][1]["features"]["client_charts"]

    with pytest.raises(ReferenceDataError, match=r"COACH_PRO: features differ.*client_charts"):
        billing.read(edited(tmp_path / "again", billing.FILE_NAME, forget_a_feature))

    def quoted_number(content: dict[str, Any]) -> None:
        content["plans"][1]["features"]["max_clients"] = "30"

    with pytest.raises(ReferenceDataError, match="max_clients"):
        billing.read(edited(tmp_path / "third", billing.FILE_NAME, quoted_number))
