"""Grouping of errors: message normalization, fingerprints, reference codes, reference data."""

from __future__ import annotations

import re
import string
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.models.error import REFERENCE_CODE_ALPHABET, REFERENCE_CODE_LENGTH
from domain.reference.errors import read
from domain.reference.loader import DATA_DIR, ReferenceDataError
from domain.services.errors import (
    fingerprint,
    new_reference_code,
    normalize_message,
    normalize_reference_code,
)

# Text around an id: letters and punctuation, no digits or quotes (which are ids themselves).
_surrounding_text = st.text(alphabet=string.ascii_letters + " :,.()/=!?", max_size=40)


@given(prefix=_surrounding_text, suffix=_surrounding_text, a=st.integers(), b=st.integers())
def test_messages_differing_only_by_an_integer_share_a_fingerprint(
    prefix: str, suffix: str, a: int, b: int
) -> None:
    template = f"{prefix} {{}} {suffix}"
    assert fingerprint("UNHANDLED_EXCEPTION", "bot.x:y", template.format(a)) == fingerprint(
        "UNHANDLED_EXCEPTION", "bot.x:y", template.format(b)
    )


@given(prefix=_surrounding_text, a=st.uuids(), b=st.uuids())
def test_messages_differing_only_by_a_uuid_share_a_fingerprint(
    prefix: str, a: uuid.UUID, b: uuid.UUID
) -> None:
    assert fingerprint("DATABASE", "s", f"{prefix} {a} gone") == fingerprint(
        "DATABASE", "s", f"{prefix} {str(b).upper()} gone"
    )


@pytest.mark.parametrize(
    ("first", "second", "normalized"),
    [
        ("user 123 not found", "user 456 not found", "user <num> not found"),
        (
            "Bad Request: chat -1001234567890 not found",
            "Bad Request: chat -1009876543210 not found",
            "Bad Request: chat <num> not found",
        ),
        (
            "Too Many Requests: retry after 35",
            "Too Many Requests: retry after 7",
            "Too Many Requests: retry after <num>",
        ),
        ("KeyError: 'weight'", "KeyError: 'reps'", "KeyError: <str>"),
        ('no exercise named "squat"', 'no exercise named "bench press"', "no exercise named <str>"),
        ("object at 0x7f3a2b1c0d90", "object at 0x7f00aa11bb22", "object at <hex>"),
        ("commit 5f2b6c9a1e failed", "commit a1b2c3d4e5 failed", "commit <hex> failed"),
        (
            "file AgACAgIAAxkBAAIBY2Zz1 expired",
            "file BQACAgQAAxkDAAIC9mA8x expired",
            "file <token> expired",
        ),
        ("took 1.25 s", "took 30 s", "took <num> s"),
        ("mention @coach_anna failed", "mention @runner42 failed", "mention <username> failed"),
        ("a   b\n\tc ", "a b c", "a b c"),
    ],
)
def test_ids_numbers_and_quoted_values_become_placeholders(
    first: str, second: str, normalized: str
) -> None:
    assert normalize_message(first) == normalized
    assert normalize_message(second) == normalized


def test_apostrophes_and_words_are_kept() -> None:
    message = "can't read the user's data from feedback table"
    assert normalize_message(message) == message


def test_an_email_address_is_not_a_username() -> None:
    assert "<username>" not in normalize_message("mail to anna@example.org bounced")


def test_a_different_code_source_or_message_gives_a_different_fingerprint() -> None:
    base = fingerprint("UNHANDLED_EXCEPTION", "bot.handlers.log:log_set", "user 1 not found")
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert base != fingerprint("DATABASE", "bot.handlers.log:log_set", "user 1 not found")
    assert base != fingerprint("UNHANDLED_EXCEPTION", "bot.handlers.log:undo", "user 1 not found")
    assert base != fingerprint("UNHANDLED_EXCEPTION", "bot.handlers.log:log_set", "user gone")


def test_parts_cannot_shift_into_each_other() -> None:
    assert fingerprint("A", "b c", "d") != fingerprint("A b", "c", "d")


def test_reference_codes_are_short_readable_and_varied() -> None:
    codes = {new_reference_code() for _ in range(2000)}
    # 2,000 draws from 2**40: a repeat would mean the generator is broken.
    assert len(codes) == 2000
    allowed = set(REFERENCE_CODE_ALPHABET)
    assert all(len(code) == REFERENCE_CODE_LENGTH and set(code) <= allowed for code in codes)
    assert not allowed & set("ILOU")


def test_a_typed_reference_code_is_read_the_crockford_way() -> None:
    assert normalize_reference_code(" abcd-efgh ") == "ABCDEFGH"
    assert normalize_reference_code("o1il-0000") == "0111" + "0000"


def test_shipped_reference_data_is_valid_and_complete() -> None:
    data = read(DATA_DIR)
    severities = {item.code: item.rank for item in data.severity_levels}
    assert severities == {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
    assert {item.code for item in data.statuses} >= {
        "NEW",
        "ACKNOWLEDGED",
        "RESOLVED",
        "IGNORED",
        "REGRESSED",
    }
    critical = next(alert for alert in data.alerts if alert.code == "CRITICAL_ERROR")
    assert (critical.severity, critical.threshold_count) == ("CRITICAL", 1)
    for item in [*data.error_types, *data.severity_levels, *data.statuses, *data.categories]:
        assert all(item.name.as_dict().values()), item.code


def test_reference_data_naming_an_unknown_category_is_rejected(tmp_path: Path) -> None:
    text = (DATA_DIR / "errors.yaml").read_text(encoding="utf-8")
    (tmp_path / "errors.yaml").write_text(
        text.replace("category: CONTENT", "category: NO_SUCH_CATEGORY"), encoding="utf-8"
    )
    with pytest.raises(ReferenceDataError, match="unknown category NO_SUCH_CATEGORY"):
        read(tmp_path)


def test_reference_data_missing_a_status_code_relies_on_is_rejected(tmp_path: Path) -> None:
    text = (DATA_DIR / "errors.yaml").read_text(encoding="utf-8")
    (tmp_path / "errors.yaml").write_text(
        text.replace("code: REGRESSED", "code: COMEBACK"), encoding="utf-8"
    )
    with pytest.raises(ReferenceDataError, match="missing status REGRESSED"):
        read(tmp_path)
