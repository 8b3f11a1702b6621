"""best e1RM: an expression index for "new best"

Every free-text set reads the athlete's best estimated 1RM on the exercise so far (the reply
says "new best" at once); ``max()`` over the whole history walked every work set of the
exercise: 4 ms per logged set for three years of squats, growing with the log
(docs/benchmarks.md, "Free-text logging"). With the expression indexed after (user, exercise),
the planner reads the last index entry instead.

The expression is ``domain.services.strength.estimated_1rm_sql("load_kg", "reps")`` as it is
today, written out: a migration must not change when the code does.

Revision ID: 0009_best_e1rm_index
Revises: 0008_program_title_search
Create Date: 2026-12-06 22:45:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_best_e1rm_index"
down_revision: str | None = "0008_program_title_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

E1RM = (
    "(CASE WHEN reps BETWEEN 1 AND 12 AND load_kg > 0 THEN "
    "CASE WHEN reps = 1 THEN load_kg ELSE "
    "(load_kg * (1 + reps / 30.0) + load_kg * 36.0 / (37 - reps)) / 2 END END)"
)


def upgrade() -> None:
    op.create_index(
        "ix_logged_set_best_e1rm",
        "logged_set",
        ["user_id", "exercise_id", sa.text(E1RM)],
        postgresql_where=sa.text("NOT is_warmup AND NOT is_bodyweight"),
    )


def downgrade() -> None:
    op.drop_index("ix_logged_set_best_e1rm", table_name="logged_set")
