"""Alembic environment and revisions (imports domain.models only)."""
