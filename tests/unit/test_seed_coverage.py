"""Every seed entity of the delivered sections is a table or a row in docs/schema-decisions.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import domain.models
from domain.models import Base

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT.parent / "shared" / "seed" / "entities.json"
DECISIONS = ROOT / "docs" / "schema-decisions.md"

# Every sub-section of the seed (headings of motriforge-model.md and the permission seed).
DELIVERED_SUBSECTIONS = {
    # User
    "Core “User” and Identity",
    "User Roles & Permissions (Access Control)",
    "User Activity, Progress, and Ownership",
    # Exercise
    "Core “Exercise” Definition & Classification",
    "Composition “Variants & Accessibility”",
    "Metadata & Extensions (Versioning, Media, Equipment, User Mapping)",
    # Workout
    "Core “Workout” Definition & Classification",
    "Composition “Sets → Instructions → Tempo”",
    "Metadata & Extensions (Versions, Media, Duration)",
    # Program
    "Core “Program” Definition & Classification",
    "Schedule & Workout Composition",
    "Versions, Media & Extensions",
    # Institution
    "Core “Institution” Definition & Basic Metadata",
    "Organizational Structure (Members, Departments, Customers)",
    "Access Control, Policies & Invites",
    # Enums, Muscles, Goals, Media, Equipment, Permission
    "Enums",
    "Muscles",
    "Goals",
    "Media",
    "Equipment",
    "Permission",
    # Data model II: Activity, Favorite, Payment, Rating, Settings, Notifications, Audit, Error
    'Core "Activity" Definition & Classification',
    "Activity Context & Associations",
    "Activity History & Analytics",
    'Core "Favorite" Definition & Classification',
    "Favorite Collections & Sharing",
    "Favorite Analytics & History",
    'Core "Payment" Definition & Subscription Management',
    "Payment Events & External Integration",
    "Payment Analytics & History",
    'Core "Rating" Definition & Classification',
    "Rating Criteria & Interactions",
    "Rating Analytics & Aggregation",
    'Core "Settings" Definition & Classification',
    "Setting Values & Overrides",
    "Setting History & Validation",
    'Core "Notification" Definition & Classification',
    "Notification Preferences & Delivery",
    "Notification Analytics & History",
    'Core "Audit" Definition & Event Tracking',
    "Event Bus & Integration Tracking",
    "Audit Analytics & Retention",
    'Core "Error" Definition & Classification',
    "Error Resolution & Tracking",
    "Error Analytics & Monitoring",
}
# Referenced by those sections but never defined in the seed.
UNDEFINED_IN_SCOPE = {
    "COMPLETION_STATUS",
    "CONSTRAINT_CATEGORY",
    "INSTITUTION_ROLE",
    "SET_CATEGORY",
    "USER_PROFESSIONNAL_CUSTOMER_RELATION",
    "USER_PROGRAM_SCHEDULE",
    "SETTINGS",
}


def documented_entities() -> set[str]:
    """Seed names in the first column of the decisions tables (`| ENTITY[.field] / OTHER | …`)."""
    names: set[str] = set()
    for line in DECISIONS.read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            first_column = line.split("|")[1]
            names.update(re.findall(r"\b[A-Z][A-Z_]{2,}\b", first_column))
    return names


def test_every_seed_entity_is_a_table_or_a_decision() -> None:
    if not SEED.exists():
        pytest.skip(f"seed not found at {SEED}; nothing to compare against")
    seed = json.loads(SEED.read_text(encoding="utf-8"))
    in_scope = {e["name"] for e in seed["entities"] if e["section"] in DELIVERED_SUBSECTIONS}
    assert len(in_scope) >= 190, "the section names no longer match the seed"
    in_scope |= UNDEFINED_IN_SCOPE & set(seed["referenced_but_undefined"])

    tables = set(Base.metadata.tables)
    documented = documented_entities()
    missing = sorted(
        name for name in in_scope if name.lower() not in tables and name not in documented
    )
    assert not missing, f"neither a table nor in docs/schema-decisions.md: {missing}"


def test_models_package_registers_tables() -> None:
    assert domain.models.Base is Base
    assert "app_user" in Base.metadata.tables
