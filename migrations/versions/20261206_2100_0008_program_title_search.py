"""program title search: a trigram index for /programs

``title ILIKE '%…%'`` (domain/services/program_library.py) has no index to use: a search that
matches few programs walked ``ix_program_created_at`` through the whole table (100 ms for
100,000 programs, growing with the table, docs/benchmarks.md "Coaching screens"). pg_trgm is
installed by 0006.

Revision ID: 0008_program_title_search
Revises: 0007_tempo_seconds
Create Date: 2026-12-06 21:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_program_title_search"
down_revision: str | None = "0007_tempo_seconds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_program_title_trgm",
        "program",
        ["title"],
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_program_title_trgm", table_name="program")
