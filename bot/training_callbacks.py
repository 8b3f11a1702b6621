"""Callback data shared by the training features: a free-text log reply (bot.handlers.log)
offers the same "undo the last set" and "finish" buttons as a guided set
(bot.handlers.workout_session), and one router answers them.

The session id inside is user input like any callback data: the service re-checks that the
session belongs to whoever pressed (domain/access, TRAINING_LOG)."""

from __future__ import annotations

import enum
import uuid

from aiogram.filters.callback_data import CallbackData


class SessionStep(enum.StrEnum):
    UNDO = "u"  # remove the last logged set
    FINISH = "f"  # close the session: summary, records, soreness, notes, rating


class SessionAction(CallbackData, prefix="ts"):
    step: SessionStep
    session: str  # training_session id as 32 hex digits (fits the 64-byte limit)

    @classmethod
    def of(cls, step: SessionStep, session_id: uuid.UUID) -> SessionAction:
        return cls(step=step, session=session_id.hex)

    def session_id(self) -> uuid.UUID | None:
        """The id, or None when the payload was tampered with."""
        try:
            return uuid.UUID(hex=self.session)
        except ValueError:
            return None
