"""Setting values are checked against their type and rules; the reference file is valid."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.models.setting import SettingDataType
from domain.reference.loader import DATA_DIR, ReferenceDataError
from domain.reference.settings import read
from domain.services.settings import InvalidSettingValue, check_value

T = SettingDataType
DAYS = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


def test_bad_time_names_the_key_and_the_rule() -> None:
    with pytest.raises(InvalidSettingValue) as caught:
        check_value("reminder_time", T.TIME, {}, "25:00")
    assert str(caught.value) == "reminder_time: expected HH:MM (24 h), got '25:00'"
    assert caught.value.key == "reminder_time"
    assert caught.value.rule == "format"
    assert caught.value.params["value"] == "25:00"


@pytest.mark.parametrize(
    ("data_type", "rules", "value"),
    [
        (T.TIME, {}, "07:00"),
        (T.TIME, {}, "23:59"),
        (T.BOOLEAN, {}, False),
        (T.INTEGER, {"min": 1, "max": 10}, 10),
        (T.FLOAT, {"min": 0}, 2.5),
        (T.ENUM, {"choices": ["kg", "lb"]}, "lb"),
        (T.STRING, {"pattern": "^[a-z]+$", "max_length": 5}, "abc"),
        (T.TIMEZONE, {}, "Europe/Paris"),
        (T.TIMEZONE, {}, "UTC"),
        (T.LIST, {"choices": DAYS}, []),
        (T.JSON, {}, {"a": [1, 2]}),
    ],
)
def test_good_values_pass_unchanged(data_type: SettingDataType, rules: Any, value: Any) -> None:
    assert check_value("k", data_type, rules, value) == value


@pytest.mark.parametrize(
    ("data_type", "rules", "value", "rule", "expected"),
    [
        (T.TIME, {}, "7:00", "format", "k: expected HH:MM (24 h), got '7:00'"),
        (T.TIME, {}, 700, "format", "k: expected HH:MM (24 h), got 700"),
        (T.BOOLEAN, {}, "yes", "type", "k: expected true or false, got 'yes'"),
        (T.INTEGER, {}, True, "type", "k: expected a whole number, got True"),
        (T.INTEGER, {"min": 1}, 0, "min", "k: expected at least 1, got 0"),
        (T.INTEGER, {"max": 10}, 11, "max", "k: expected at most 10, got 11"),
        (T.FLOAT, {}, float("nan"), "type", "k: expected a number, got nan"),
        (T.ENUM, {"choices": ["kg", "lb"]}, "stone", "choices", "k: expected one of kg, lb"),
        (T.STRING, {"max_length": 2}, "abc", "max_length", "k: expected at most 2 character"),
        (T.STRING, {"pattern": "^[a-z]+$"}, "A1", "pattern", "k: expected text matching"),
        (T.TIMEZONE, {}, "Mars/Olympus", "timezone", "k: expected an IANA timezone"),
        (T.TIMEZONE, {}, "../../etc/passwd", "timezone", "k: expected an IANA timezone"),
        (T.LIST, {}, "MON", "type", "k: expected a list of texts, got 'MON'"),
        (T.LIST, {"choices": DAYS}, ["MON", "FUNDAY"], "choices", "k: expected items among"),
        (T.LIST, {}, ["MON", "MON"], "unique", "k: expected no repeated items"),
        (T.LIST, {"max_items": 1}, ["MON", "TUE"], "max_items", "k: expected at most 1 item"),
        (T.LIST, {"min_items": 1}, [], "min_items", "k: expected at least 1 item"),
        (T.JSON, {}, {1, 2}, "type", "k: expected a JSON value"),
        (T.STRING, {}, None, "required", "k: expected a value, got None"),
    ],
)
def test_bad_values_are_refused_with_their_rule(
    data_type: SettingDataType, rules: Any, value: Any, rule: str, expected: str
) -> None:
    with pytest.raises(InvalidSettingValue) as caught:
        check_value("k", data_type, rules, value)
    assert caught.value.rule == rule
    assert str(caught.value).startswith(expected)


def test_a_list_with_choices_is_stored_in_the_choices_order() -> None:
    assert check_value("days", T.LIST, {"choices": DAYS}, ["FRI", "MON", "WED"]) == [
        "MON",
        "WED",
        "FRI",
    ]


def test_reference_file_defines_what_the_bot_needs() -> None:
    data = read(DATA_DIR)
    settings = {item.key: item for item in data.settings}
    defaults = {key: item.default for key, item in settings.items()}
    # "My equipment": a full gym by default (every equipment code), so nobody starts refused.
    equipment_default = defaults.pop("equipment")
    assert equipment_default == settings["equipment"].rules.choices
    equipment_file = yaml.safe_load((DATA_DIR / "equipment.yaml").read_text(encoding="utf-8"))
    assert set(equipment_default) == {item["code"] for item in equipment_file}
    assert defaults == {
        "locale": "en",
        "timezone": "UTC",
        "weight_unit": "kg",
        "reminder_time": "18:00",
        "reminder_days": ["MON", "WED", "FRI"],
        "quiet_hours_start": "22:00",
        "quiet_hours_end": "07:00",
        "digest_frequency": "WEEKLY",
        "coach_can_see_logs": True,
        "reminders_enabled": True,
    }
    assert settings["locale"].rules.choices == ["en", "fr", "ru"]
    assert settings["weight_unit"].rules.choices == ["kg", "lb"]
    assert settings["digest_frequency"].rules.choices == ["NONE", "WEEKLY", "MONTHLY"]
    grouped = [key for group in data.groups for key in group.settings]
    # Equipment has a screen of its own (/equipment: translated names, presets).
    on_own_screen = {"equipment"}
    assert sorted(grouped) == sorted(set(settings) - on_own_screen), (
        "every other setting is on the settings screen once"
    )
    early_bird = next(template for template in data.templates if template.code == "EARLY_BIRD")
    assert early_bird.settings["reminder_time"] == "07:00"
    assert (early_bird.settings["quiet_hours_start"], early_bird.settings["quiet_hours_end"]) == (
        "21:00",
        "06:00",
    )


def _copy_with(tmp_path: Path, old: str, new: str) -> Path:
    shutil.copy(DATA_DIR / "settings.yaml", tmp_path / "settings.yaml")
    path = tmp_path / "settings.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


def test_an_invalid_default_fails_the_read(tmp_path: Path) -> None:
    data_dir = _copy_with(tmp_path, 'default: "18:00"', 'default: "18:75"')
    with pytest.raises(ReferenceDataError, match=r"reminder_time: expected HH:MM"):
        read(data_dir)


def test_an_invalid_template_value_fails_the_read(tmp_path: Path) -> None:
    data_dir = _copy_with(tmp_path, 'reminder_time: "07:00"', 'reminder_time: "7am"')
    with pytest.raises(ReferenceDataError, match=r"template EARLY_BIRD: reminder_time"):
        read(data_dir)
