"""The audit/events reference file (domain/reference/data/events.yaml) is complete and checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from domain.models.audit import EventCategory, EventTypeCode
from domain.reference import events
from domain.reference.loader import DATA_DIR, ReferenceDataError
from domain.services.audit import AUDITED_TABLES


def test_the_shipped_file_is_valid_and_complete() -> None:
    data = events.read(DATA_DIR)
    codes = {item.code for item in data.event_types}
    assert {code.value for code in EventTypeCode} <= codes
    # Every category has at least one type, so every analytics row can be non-zero.
    assert {item.category for item in data.event_types} == set(EventCategory)
    for item in data.event_types:
        for text in (item.name, item.description):
            # French and Russian are translations, not copies of the English.
            assert text.fr != text.en
            assert text.ru != text.en
    defaults = {item.action for item in data.retention_policies if item.entity_type == "*"}
    assert len(defaults) == 5  # one default per audit action
    assert all(
        item.entity_type in AUDITED_TABLES
        for item in data.retention_policies
        if item.entity_type != "*"
    )


def write_variant(tmp_path: Path, change: dict[str, object]) -> Path:
    raw = yaml.safe_load((DATA_DIR / events.FILE_NAME).read_text(encoding="utf-8"))
    raw.update(change)
    (tmp_path / events.FILE_NAME).write_text(yaml.safe_dump(raw), encoding="utf-8")
    return tmp_path


def test_a_missing_code_that_code_relies_on_is_rejected(tmp_path: Path) -> None:
    raw = yaml.safe_load((DATA_DIR / events.FILE_NAME).read_text(encoding="utf-8"))
    kept = [item for item in raw["event_types"] if item["code"] != "PERMISSION_DENIED"]
    with pytest.raises(ReferenceDataError, match="missing event type PERMISSION_DENIED"):
        events.read(write_variant(tmp_path, {"event_types": kept}))


def test_a_policy_for_a_table_that_is_not_audited_is_rejected(tmp_path: Path) -> None:
    policies = [{"entity_type": "logged_set", "action": "UPDATE", "retention_days": 30}]
    with pytest.raises(ReferenceDataError, match="logged_set: not an audited table"):
        events.read(write_variant(tmp_path, {"retention_policies": policies}))


def test_compression_must_come_before_deletion(tmp_path: Path) -> None:
    policies = [
        {
            "entity_type": "*",
            "action": "UPDATE",
            "retention_days": 30,
            "compression_after_days": 30,
        }
    ]
    with pytest.raises(ReferenceDataError, match="compression_after_days"):
        events.read(write_variant(tmp_path, {"retention_policies": policies}))
