"""Webhook delivery: secret header, retries with backoff, replies in the webhook response."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import SendMessage
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.emulator import BotApiEmulator
from tests.emulator.conftest import TOKEN


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()


async def test_webhook_secret_and_retry(bot: Bot, emulator: BotApiEmulator) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    statuses = [500, 200]

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        status = statuses.pop(0) if statuses else 200
        if status != 200:
            return web.Response(status=status)
        # Telegram executes a method given in the webhook's answer.
        chat_id = (await request.json())["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "pong"})

    app = web.Application()
    app.router.add_post("/hook", hook)
    nora = emulator.user("nora")
    async with serve(app) as base:
        assert await bot.set_webhook(f"{base}/hook", secret_token="s3cr3t")
        assert emulator.webhook_url() == f"{base}/hook"
        outputs = await nora.send("hello")
        assert [m.text for m in outputs] == ["pong"]
        info = await bot.get_webhook_info()
    assert [secret for secret, _ in received] == ["s3cr3t", "s3cr3t"]
    assert received[0][1] == received[1][1]
    assert received[0][1]["message"]["text"] == "hello"
    assert info.url.endswith("/hook")
    assert info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert info.last_error_date is not None


async def test_webhook_connection_errors_are_retried(bot: Bot, emulator: BotApiEmulator) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    await bot.set_webhook(f"http://127.0.0.1:{port}/hook")
    oscar = emulator.user("oscar")
    await oscar.send("lost?", wait=False)
    for _ in range(100):
        if emulator.bot_state(TOKEN).last_error_message:
            break
        await asyncio.sleep(0.01)
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Connection refused"
    assert info.pending_update_count == 1
    # Back to polling: the undelivered update is still there.
    await bot.delete_webhook()
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None
    assert update.message.text == "lost?"


async def test_aiogram_webhook_handler_with_reply_in_response(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> SendMessage:
        # Returning the method makes aiogram answer inside the webhook response.
        return message.answer(f"echo: {message.text}")

    app = web.Application()
    SimpleRequestHandler(
        dispatcher=dp, bot=bot, handle_in_background=False, secret_token="tok"
    ).register(app, path="/tg")
    pam = emulator.user("pam")
    async with serve(app) as base:
        await bot.set_webhook(f"{base}/tg", secret_token="tok")
        outputs = await pam.send("hi")
        assert [m.text for m in outputs] == ["echo: hi"]
        # A wrong secret is refused by aiogram (401) and retried by the emulator.
        await bot.set_webhook(f"{base}/tg", secret_token="wrong")
        await pam.send("again", wait=False)
        for _ in range(100):
            if (emulator.bot_state(TOKEN).last_error_message or "").endswith("Unauthorized"):
                break
            await asyncio.sleep(0.01)
        assert emulator.bot_state(TOKEN).last_error_message == (
            "Wrong response from the webhook: 401 Unauthorized"
        )
        await bot.set_webhook(f"{base}/tg", secret_token="tok")
        late = await pam.wait_for(lambda m: m.text.startswith("echo"), timeout=5)
        assert late.text == "echo: again"
        await bot.delete_webhook(drop_pending_updates=True)
