"""Shared pieces for the web tests: Telegram updates and a fake Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web
from aiohttp.test_utils import TestServer

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
SECRET = "s3cret_Token-1"
NOWHERE = "http://127.0.0.1:9"  # discard port: any Bot API call fails fast


def message_update(update_id: int = 1, text: str = "hi") -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": 42, "type": "private"},
            "from": {"id": 42, "is_bot": False, "first_name": "Ana"},
            "text": text,
        },
    }


def make_bot(api_base: str = NOWHERE) -> Bot:
    return Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api_base)))


# Per Bot API method: HTTP status and body the fake server answers with.
ANSWERS: dict[str, tuple[int, dict[str, Any]]] = {
    "getMe": (
        200,
        {"ok": True, "result": {"id": 123456789, "is_bot": True, "first_name": "Forge"}},
    ),
    "setWebhook": (200, {"ok": True, "result": True}),
    "sendMessage": (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    ),
    "sendChatAction": (
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"},
    ),
    "deleteMessage": (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: message not found"},
    ),
    "getChat": (500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}),
}


@dataclass
class FakeTelegram:
    base: str
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def methods(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(base="")

    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        fake.calls.append((method, dict(await request.post())))  # type: ignore[arg-type]
        status, body = ANSWERS[method]
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", api)
    async with TestServer(app) as server:
        fake.base = str(server.make_url("")).rstrip("/")
        yield fake
