"""Tempo text ⇄ phases: four phases with their own seconds, X as the explosive one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.services.tempo import EXPLOSIVE, Phase, parse_tempo, tempo_text


def test_phases_keep_their_own_seconds() -> None:
    assert parse_tempo("4-0-1-0") == (
        Phase("ECCENTRIC", 4),
        Phase("PAUSE_BOTTOM", 0),
        Phase("CONCENTRIC", 1),
        Phase("PAUSE_TOP", 0),
    )
    assert parse_tempo("2-0-x-1")[2] == Phase(EXPLOSIVE, 0)
    assert tempo_text(parse_tempo("2-0-x-1")) == "2-0-X-1"


@pytest.mark.parametrize("text", ["", "3", "3-1-1-0-2", "a-1-1-0", "3--1-0", "61-0-1-0", "3 1 1 0"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_tempo(text)


@given(st.lists(st.one_of(st.integers(0, 60).map(str), st.just("X")), min_size=2, max_size=4))
def test_text_round_trip(parts: list[str]) -> None:
    text = "-".join(parts)
    assert tempo_text(parse_tempo(text)) == text
