"""tempo seconds: each TEMPO phase carries its own duration

The seed's TEMPO row names only its phase type (ECCENTRIC, PAUSE_BOTTOM …) and TEMPO_TYPES
carries one default duration per type, so "4-0-1-0" could not be written: a coach's tempo
was either lost or wrong. ``tempo.seconds`` (0–60, NULL on older rows = the type's default)
holds the phase's own time; domain/services/tempo.py reads and writes it.

Revision ID: 0007_tempo_seconds
Revises: 0006_exercise_search
Create Date: 2026-12-06 20:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_tempo_seconds"
down_revision: str | None = "0006_exercise_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tempo", sa.Column("seconds", sa.SmallInteger(), nullable=True))
    op.create_check_constraint(op.f("ck_tempo_seconds_range"), "tempo", "seconds BETWEEN 0 AND 60")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_tempo_seconds_range"), "tempo", type_="check")
    op.drop_column("tempo", "seconds")
