"""Notification templates without a database: placeholder syntax, rendering, escaping, the
missing-variable error, locale fallback, and the shipped reference templates."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.config import SUPPORTED_LOCALES
from domain.errors import InvalidInput, NotFound
from domain.reference import notifications as reference
from domain.reference.loader import DATA_DIR, ReferenceDataError
from domain.services.notification_templates import (
    FALLBACK_LOCALE,
    InvalidTemplate,
    MissingTemplateVariable,
    TemplateText,
    choose_template,
    placeholders,
    render_template,
)

EXPECTED_VARIABLES = {
    "WORKOUT_REMINDER": ["first_name", "workout_name", "time"],
    "MISSED_WORKOUT": ["first_name", "workout_name"],
    "CLIENT_INACTIVE": ["client_name", "days"],
    "STREAK_AT_RISK": ["first_name", "streak_days"],
    "INVITE_EXPIRING": ["invite_name", "hours"],
    "PROGRAM_ASSIGNED": ["coach_name", "program_title", "start_date"],
    "WEEKLY_DIGEST": ["first_name", "sessions", "volume", "prs", "streak_days"],
}

REMINDER = TemplateText(
    type_code="WORKOUT_REMINDER",
    locale="en",
    subject="Workout today",
    body="Hi {first_name}, <b>{workout_name}</b> at {time}.",
    action_button_text="Start {workout_name}",
    action_url="https://example.org/w?name={workout_name}",
)
VALUES = {"first_name": "Ada", "workout_name": "Leg day", "time": "18:30"}


def shipped() -> reference.NotificationsData:
    return reference.read(DATA_DIR)


def as_template(code: str, locale: str, item: reference.TemplateItem) -> TemplateText:
    return TemplateText(
        type_code=code,
        locale=locale,
        body=item.body,
        subject=item.subject,
        action_button_text=item.button,
    )


def test_placeholders_are_listed_in_order_once() -> None:
    assert placeholders("{b} and {a}, again {b}; {{literal}}") == ["b", "a"]


@pytest.mark.parametrize(
    "text",
    ["{user.name}", "{items[0]}", "{0}", "{}", "{name!r}", "{name:>10}", "{name", "name}"],
)
def test_anything_but_plain_names_is_rejected(text: str) -> None:
    with pytest.raises(InvalidTemplate):
        placeholders(text)


def test_render_fills_every_part() -> None:
    rendered = render_template(REMINDER, {**VALUES, "workout_id": "ignored extra"})
    assert rendered.subject == "Workout today"
    assert rendered.body == "Hi Ada, <b>Leg day</b> at 18:30."
    assert rendered.action_button_text == "Start Leg day"
    assert rendered.action_url == "https://example.org/w?name=Leg%20day"
    assert rendered.html == "<b>Workout today</b>\nHi Ada, <b>Leg day</b> at 18:30."
    assert rendered.locale == "en"


def test_values_are_html_escaped_in_text_but_not_in_the_button() -> None:
    rendered = render_template(
        REMINDER, {**VALUES, "first_name": "<b>Eve</b> & co", "workout_name": "A<B"}
    )
    assert rendered.body == "Hi &lt;b&gt;Eve&lt;/b&gt; &amp; co, <b>A&lt;B</b> at 18:30."
    assert "<b>Eve" not in rendered.html
    # Telegram shows button labels verbatim: escaping would print "&lt;".
    assert rendered.action_button_text == "Start A<B"


@pytest.mark.parametrize("missing", ["first_name", "workout_name", "time"])
def test_a_missing_variable_raises_and_names_it_and_the_template(missing: str) -> None:
    values = {name: value for name, value in VALUES.items() if name != missing}
    with pytest.raises(MissingTemplateVariable) as caught:
        render_template(REMINDER, values)
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.variable == missing
    assert caught.value.template == "WORKOUT_REMINDER[en]"
    assert missing in str(caught.value)
    assert "WORKOUT_REMINDER[en]" in str(caught.value)
    assert caught.value.params == {"variable": missing, "template": "WORKOUT_REMINDER[en]"}


def test_none_counts_as_missing() -> None:
    with pytest.raises(MissingTemplateVariable, match="time"):
        render_template(REMINDER, {**VALUES, "time": None})


def test_locale_without_template_falls_back_to_english() -> None:
    french = TemplateText(type_code="X", locale="fr", body="Bonjour")
    english = TemplateText(type_code="X", locale="en", body="Hello")
    templates = {"fr": french, "en": english}
    assert choose_template(templates, "X", "fr") is french
    assert choose_template(templates, "X", "de") is english
    assert FALLBACK_LOCALE == "en"
    with pytest.raises(NotFound, match="X"):
        choose_template({"fr": french}, "X", "ru")


def test_every_shipped_type_has_en_fr_ru_templates_rendering_with_its_variables() -> None:
    types = {item.code: item for item in shipped().notification_types}
    assert set(types) >= set(EXPECTED_VARIABLES)
    for code, variables in EXPECTED_VARIABLES.items():
        item = types[code]
        assert item.variables == variables, code
        assert set(item.templates) == set(SUPPORTED_LOCALES), code
        values = {name: f"<{name}>" for name in variables}
        for locale, template in item.templates.items():
            rendered = render_template(as_template(code, locale, template), values)
            for name in variables:
                # Each declared variable appears, escaped, in the subject or body.
                assert f"&lt;{name}&gt;" in rendered.html, (code, locale, name)
            assert "{" not in rendered.html
            assert "}" not in rendered.html
            assert rendered.subject
            assert rendered.action_button_text


def test_shipped_translations_differ_from_english() -> None:
    for item in shipped().notification_types:
        bodies = {locale: template.body for locale, template in item.templates.items()}
        assert len(set(bodies.values())) == len(SUPPORTED_LOCALES), item.code


def test_shipped_types_declare_channel_priority_and_configurability() -> None:
    types = {item.code: item for item in shipped().notification_types}
    assert {item.channel for item in types.values()} == {"TELEGRAM"}
    assert types["PROGRAM_ASSIGNED"].user_configurable is False
    assert types["WORKOUT_REMINDER"].user_configurable is True
    assert types["WEEKLY_DIGEST"].default_days_of_week == [7]
    assert str(types["STREAK_AT_RISK"].default_local_time) == "18:00:00"


def _broken_copy(tmp_path: Path, change: Callable[[Any], None]) -> Path:
    target = tmp_path / "data"
    target.mkdir()
    shutil.copy(DATA_DIR / reference.FILE_NAME, target / reference.FILE_NAME)
    path = target / reference.FILE_NAME
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


def test_a_translation_dropping_a_variable_is_rejected(tmp_path: Path) -> None:
    def drop_time(data: Any) -> None:
        data["notification_types"][0]["templates"]["fr"]["body"] = (
            "Bonjour {first_name}, séance {workout_name}."
        )

    target = _broken_copy(tmp_path, drop_time)
    with pytest.raises(ReferenceDataError, match=r"WORKOUT_REMINDER.*fr: does not use \['time'\]"):
        reference.read(target)


def test_a_missing_locale_is_rejected(tmp_path: Path) -> None:
    def drop_russian(data: Any) -> None:
        del data["notification_types"][1]["templates"]["ru"]

    with pytest.raises(ReferenceDataError, match="MISSED_WORKOUT"):
        reference.read(_broken_copy(tmp_path, drop_russian))


def test_an_unquoted_time_is_rejected(tmp_path: Path) -> None:
    def unquote(data: Any) -> None:
        data["notification_types"][0]["default_local_time"] = 1080  # what YAML makes of 18:00

    with pytest.raises(ReferenceDataError, match="HH:MM"):
        reference.read(_broken_copy(tmp_path, unquote))


def test_a_status_code_the_senders_rely_on_is_required(tmp_path: Path) -> None:
    def drop_pending(data: Any) -> None:
        data["notification_statuses"] = [
            status for status in data["notification_statuses"] if status["code"] != "PENDING"
        ]

    with pytest.raises(ReferenceDataError, match="missing notification status PENDING"):
        reference.read(_broken_copy(tmp_path, drop_pending))
