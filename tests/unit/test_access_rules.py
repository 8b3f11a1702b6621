"""The policy rule document (domain/access/rules.py) and the engine's small value types."""

from __future__ import annotations

import json
import re
import typing
import uuid
from pathlib import Path

import pytest

from domain.access import Action, Actor, ResourceRef, parse_rule, rule_error
from domain.access.rules import (
    ACTION_NAMES,
    RESOURCE_TYPE_NAMES,
    ActionName,
    PolicyRule,
    ResourceTypeName,
    hour_in,
)

DOCS = Path(__file__).parents[2] / "docs" / "access.md"

VALID = {
    "effect": "deny",
    "actions": ["READ", "UPDATE"],
    "resource_types": ["PROGRAM"],
    "when": {"visibility_in": ["INSTITUTION"], "actor_is_owner": False},
}


def with_(**changes: object) -> dict[str, object]:
    return {**VALID, **changes}


def test_the_example_of_the_specification_is_valid() -> None:
    example = re.search(r"```json\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert example is not None
    rule = parse_rule(json.loads(example.group(1)))
    assert rule.effect == "deny"
    assert rule.covers("READ", "PROGRAM")
    assert not rule.covers("DELETE", "PROGRAM")
    assert not rule.covers("READ", "WORKOUT")


def test_literal_names_match_the_enums() -> None:
    assert (
        set(typing.get_args(ActionName)) == set(ACTION_NAMES) == {a.value for a in Action} | {"*"}
    )
    assert set(typing.get_args(ResourceTypeName)) == set(RESOURCE_TYPE_NAMES)


@pytest.mark.parametrize(
    "document",
    [
        VALID,
        with_(when=None),
        {k: v for k, v in VALID.items() if k != "when"},
        with_(actions=["*"], resource_types=["*"]),
        with_(when={}),
        with_(when={"hours_utc": [22, 6]}),
        with_(when={"hours_utc": [0, 24], "actor_is_guest": True}),
        with_(when={"resource_in_institution": False, "visibility_in": None}),
        with_(effect="allow", actions=["MANAGE", "READ", "READ"]),
    ],
)
def test_valid_documents(document: dict[str, object]) -> None:
    assert rule_error(document) is None


@pytest.mark.parametrize(
    ("document", "where"),
    [
        (with_(effect="permit"), "effect"),
        (with_(effect="DENY"), "effect"),
        (with_(actions=[]), "actions"),
        (with_(actions="READ"), "actions"),
        (with_(actions=["read"]), "actions"),
        (with_(resource_types=["USER"]), "resource_types"),
        (with_(when={"visibility_in": []}), "when.visibility_in"),
        (with_(when={"visibility_in": ["private"]}), "when.visibility_in"),
        (with_(when={"actor_is_owner": "false"}), "when.actor_is_owner"),
        (with_(when={"actor_is_owner": 0}), "when.actor_is_owner"),
        (with_(when={"hours_utc": [22]}), "when.hours_utc"),
        (with_(when={"hours_utc": [22.0, 6]}), "when.hours_utc"),
        (with_(when={"hours_utc": [24, 6]}), "when.hours_utc"),
        (with_(when={"hours_utc": [1, 25]}), "when.hours_utc"),
        (with_(when={"hours_utc": [True, 6]}), "when.hours_utc"),
        (with_(when={"weekday": 1}), "when.weekday"),
        (with_(when=[]), "when"),
        ({**VALID, "priority": 1}, "priority"),
        ({"effect": "deny", "actions": ["READ"]}, "resource_types"),
        (None, "document"),
        ([VALID], "document"),
        ("deny", "document"),
    ],
)
def test_invalid_documents_say_where(document: object, where: str) -> None:
    error = rule_error(document)
    assert error is not None
    assert error.startswith(where)


@pytest.mark.parametrize(
    ("hour", "start", "end", "inside"),
    [
        (12, 10, 14, True),
        (14, 10, 14, False),
        (10, 10, 14, True),
        (23, 22, 6, True),
        (0, 22, 6, True),
        (5, 22, 6, True),
        (6, 22, 6, False),
        (12, 22, 6, False),
        (3, 5, 5, False),
        (23, 0, 24, True),
    ],
)
def test_hours_are_half_open_and_wrap(hour: int, start: int, end: int, inside: bool) -> None:
    assert hour_in(hour, start, end) is inside


def test_a_rule_is_frozen() -> None:
    rule = parse_rule(VALID)
    assert isinstance(rule, PolicyRule)
    with pytest.raises(Exception, match="frozen"):
        rule.effect = "allow"  # type: ignore[misc]


def test_resource_refs() -> None:
    ident = uuid.uuid4()
    assert ResourceRef("workout", ident).type == "WORKOUT"
    assert ResourceRef.parse(f"program:{ident}") == ResourceRef("PROGRAM", ident)
    assert str(ResourceRef("GOAL", ident)) == f"GOAL:{ident}"
    with pytest.raises(ValueError, match="unknown resource type"):
        ResourceRef("USER", ident)
    with pytest.raises(ValueError, match="TYPE:ID"):
        ResourceRef.parse("WORKOUT")
    with pytest.raises(ValueError, match="not a UUID"):
        ResourceRef.parse("WORKOUT:42")


def test_actors() -> None:
    assert Actor.guest().user_id is None
    assert Actor.guest().is_anonymous
    assert str(Actor.guest()) == "guest"
    ident = uuid.uuid4()
    assert Actor.user(ident) == Actor(ident)
    assert not Actor(ident).is_anonymous
