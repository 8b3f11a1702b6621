"""Buttons that cross feature routers on the coaching side: a program or workout view (programs)
offers Share (sharing) and Assign to a client (clients). Each factory is handled by exactly one
router; the ids are re-checked by that router's service."""

from __future__ import annotations

import uuid

from aiogram.filters.callback_data import CallbackData


class ProgramOpen(CallbackData, prefix="pgo"):
    """Show a program's weeks → days → workouts (handled by bot/handlers/programs.py)."""

    program_id: uuid.UUID


class ShareNew(CallbackData, prefix="shn"):
    """Create a share link (handled by bot/handlers/sharing.py); kind "p" program, "w" workout."""

    kind: str
    target_id: uuid.UUID


class AssignPick(CallbackData, prefix="asp"):
    """Assign this program to one of my clients (handled by bot/handlers/clients.py)."""

    program_id: uuid.UUID
