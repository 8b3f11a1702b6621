"""`motriforge webhook` mode end to end: the emulator POSTs updates to the aiohttp server with
the secret header; a wrong secret is refused with 401 and nothing is handled."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy.engine import URL

from bot.emulator.server import BotApiEmulator
from bot.runtime import run_webhook
from domain.config import load_settings

SECRET = "right-secret_123"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def webhook_bot(database_url: URL) -> AsyncIterator[tuple[BotApiEmulator, str]]:
    emulator = BotApiEmulator(webhook_retry_base=0.05, webhook_retry_max=0.2)
    base_url = await emulator.start()
    port = free_port()
    settings = load_settings(
        database_url=database_url.set(drivername="postgresql").render_as_string(
            hide_password=False
        ),
        bot_token=BotApiEmulator.default_token,
        telegram_api_base=base_url,
        webhook_url=f"http://127.0.0.1:{port}",
        webhook_secret=SECRET,
        redis_url=None,
    )
    stop = asyncio.Event()
    server = asyncio.create_task(
        run_webhook(settings, host="127.0.0.1", port=port, stop_event=stop, scheduler=False)
    )
    try:
        for _ in range(100):  # until the server registered its webhook
            if emulator.webhook_url(BotApiEmulator.default_token):
                break
            await asyncio.sleep(0.05)
        yield emulator, f"http://127.0.0.1:{port}/webhook"
    finally:
        stop.set()
        await asyncio.wait_for(server, timeout=30)
        await emulator.stop()


async def test_webhook_right_secret_serves_updates(database_url: URL) -> None:
    async with webhook_bot(database_url) as (emulator, url):
        assert emulator.webhook_url(BotApiEmulator.default_token) == url
        wes = emulator.user("wes_webhook", language_code="fr", user_id=810_000_001)
        await wes.send("/start", wait=False)
        reply = await wes.wait_for(lambda m: "quelle langue" in m.text, timeout=10)
        assert [b.text for b in reply.flat_buttons()] == ["English", "Français", "Русский"]
        async with aiohttp.ClientSession() as http:
            health = await http.get(url.replace("/webhook", "/healthz"))
            assert health.status == 200
            metrics = await (await http.get(url.replace("/webhook", "/metrics"))).text()
        assert 'motriforge_updates_total{type="message"}' in metrics
        assert "motriforge_update_seconds_bucket" in metrics
        assert 'motriforge_telegram_requests_total{method="sendMessage",outcome="ok"}' in metrics


async def test_webhook_wrong_secret_is_refused(database_url: URL) -> None:
    async with webhook_bot(database_url) as (emulator, url):
        token = BotApiEmulator.default_token
        # Someone re-points the webhook with a wrong secret: deliveries get 401, no reply.
        intruder = Bot(
            token, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
        )
        try:
            await intruder.set_webhook(url, secret_token="wrong-secret")
            mia = emulator.user("mia_webhook", user_id=810_000_002)
            await mia.send("/start", wait=False)
            for _ in range(100):
                info = await intruder.get_webhook_info()
                if info.last_error_message:
                    break
                await asyncio.sleep(0.05)
            assert info.last_error_message is not None
            assert "401" in info.last_error_message
            assert info.pending_update_count >= 1
            assert mia.messages == []
        finally:
            await intruder.session.close()
        async with aiohttp.ClientSession() as http:
            forged = await http.post(
                url, json={"update_id": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
            )
            assert forged.status == 401
            missing = await http.post(url, json={"update_id": 2})
            assert missing.status == 401


def test_webhook_refuses_to_start_without_secret() -> None:
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        asyncio.run(
            run_webhook(
                load_settings(bot_token=BotApiEmulator.default_token, webhook_secret=None),
                host="127.0.0.1",
                port=free_port(),
            )
        )
