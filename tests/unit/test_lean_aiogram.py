"""The lean aiogram import defers schema building and loses nothing: every deferred model
still builds (with the namespace aiogram gave it) and validates like the shipped one."""

from __future__ import annotations

import subprocess
import sys

from bot import lean_aiogram


def test_lean_import_is_active_in_a_fresh_process() -> None:
    code = (
        "import bot\nfrom bot.lean_aiogram import deferred_models\nprint(len(deferred_models()))\n"
    )
    deferred = int(subprocess.check_output([sys.executable, "-c", code], text=True).strip())
    assert deferred > 300


def test_every_aiogram_model_still_builds() -> None:
    for cls in lean_aiogram.deferred_models():
        cls.model_rebuild()
        assert cls.__pydantic_complete__, cls.__name__


def test_update_validates_and_dumps() -> None:
    from aiogram.methods.base import Response
    from aiogram.types import Update

    update = Update.model_validate(
        {
            "update_id": 5,
            "callback_query": {
                "id": "q",
                "from": {"id": 1, "is_bot": False, "first_name": "A"},
                "chat_instance": "c",
                "data": "set:locale",
                "message": {
                    "message_id": 3,
                    "date": 1,
                    "chat": {"id": 1, "type": "private"},
                    "text": "hello",
                    "reply_markup": {
                        "inline_keyboard": [[{"text": "x", "callback_data": "set:locale"}]]
                    },
                },
            },
        }
    )
    assert update.callback_query is not None
    assert update.callback_query.data == "set:locale"
    assert update.model_dump(exclude_none=True)["callback_query"]["message"]["text"] == "hello"
    # A generic response type aiogram parametrizes at run time builds too.
    response = Response[list[Update]].model_validate({"ok": True, "result": [{"update_id": 7}]})
    assert response.result is not None
    assert response.result[0].update_id == 7
