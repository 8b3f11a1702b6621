"""The webhook web app (aiohttp test server) and run_webhook_server on a real port."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiogram import BaseMiddleware, Dispatcher, F
from aiogram.types import Message, TelegramObject
from aiohttp.test_utils import TestClient, TestServer, unused_port

import bot.web
from bot.metrics import Metrics
from bot.web import build_web_app, run_webhook_server, validate_secret, webhook_target
from tests.web.conftest import SECRET, FakeTelegram, make_bot, message_update

HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class World:
    dispatcher: Dispatcher
    metrics: Metrics
    seen: list[str] = field(default_factory=list)
    handled: asyncio.Event = field(default_factory=asyncio.Event)

    def value(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels or {})


class RecordErrors(BaseMiddleware):
    """Stands in for the real error middleware: counts the error and swallows it."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        except Exception:
            self.metrics.record_error("exception")
            return None


def make_world() -> World:
    """A bare dispatcher whose handler records the text and never calls the Bot API."""
    world = World(dispatcher=Dispatcher(), metrics=Metrics())
    dp = world.dispatcher

    @dp.message(F.text == "raise")
    async def explode(message: Message) -> None:
        raise RuntimeError("handler failed")

    @dp.message()
    async def record(message: Message) -> None:
        if message.text == "slow":
            await asyncio.sleep(0.6)
        world.seen.append(message.text or "")
        world.handled.set()

    dp.update.outer_middleware(world.metrics.update_middleware())
    dp.update.middleware(RecordErrors(world.metrics))
    return world


@contextlib.asynccontextmanager
async def serve(world: World, **kwargs: Any) -> AsyncIterator[TestClient[Any, Any]]:
    bot_ = make_bot()  # points nowhere: a Bot API call would show as an error below
    bot_.session.middleware(world.metrics.request_middleware())
    kwargs.setdefault("handle_in_background", False)
    app = build_web_app(world.dispatcher, bot_, secret=SECRET, metrics=world.metrics, **kwargs)
    async with TestClient(TestServer(app)) as client:
        yield client
    assert not [m.samples for m in world.metrics.telegram_requests_total.collect() if m.samples]


async def test_right_secret_reaches_the_handler_and_is_counted() -> None:
    world = make_world()
    async with serve(world) as client:
        response = await client.post("/webhook", json=message_update(), headers={HEADER: SECRET})
        assert response.status == 200
    assert world.seen == ["hi"]
    assert world.value("motriforge_updates_total", {"type": "message"}) == 1
    assert world.value("motriforge_update_seconds_count", {"type": "message"}) == 1
    assert world.value("motriforge_updates_in_progress") == 0


async def test_background_handling_answers_first_then_handles() -> None:
    world = make_world()
    async with serve(world, handle_in_background=True, path="/tg/hook") as client:
        response = await client.post("/tg/hook", json=message_update(), headers={HEADER: SECRET})
        assert response.status == 200
        await asyncio.wait_for(world.handled.wait(), timeout=5)
    assert world.seen == ["hi"]
    assert world.value("motriforge_updates_total", {"type": "message"}) == 1


@pytest.mark.parametrize("headers", [{HEADER: "wrong-secret"}, {HEADER: ""}, {}])
async def test_wrong_or_missing_secret_is_refused(headers: dict[str, str]) -> None:
    world = make_world()
    async with serve(world) as client:
        response = await client.post("/webhook", json=message_update(), headers=headers)
        assert response.status == 401
    assert world.seen == []
    assert world.value("motriforge_updates_total", {"type": "message"}) is None


@pytest.mark.parametrize("secret", ["", "has space", "a" * 257, "näive", "line\n"])
def test_unusable_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        validate_secret(secret)
    with pytest.raises(ValueError, match="secret"):
        build_web_app(Dispatcher(), make_bot(), secret=secret, metrics=Metrics())


def test_usable_secrets() -> None:
    for secret in ("a", "A-z_09", "x" * 256):
        validate_secret(secret)


async def _failing() -> bool:
    raise ConnectionError("database down")


async def _hanging() -> bool:
    await asyncio.sleep(60)
    return True


async def _true() -> bool:
    return True


async def _false() -> bool:
    return False


@pytest.mark.parametrize(
    ("health_check", "status", "body"),
    [
        (None, 200, {"status": "ok"}),
        (_true, 200, {"status": "ok"}),
        (_false, 503, {"status": "unavailable"}),
        (_failing, 503, {"status": "unavailable"}),
        (_hanging, 503, {"status": "unavailable"}),
    ],
)
async def test_healthz(
    monkeypatch: pytest.MonkeyPatch,
    health_check: Callable[[], Awaitable[bool]] | None,
    status: int,
    body: dict[str, str],
) -> None:
    monkeypatch.setattr(bot.web, "HEALTH_TIMEOUT_SECONDS", 0.05)
    async with serve(make_world(), health_check=health_check) as client:
        response = await client.get("/healthz")
        assert response.status == status
        assert await response.json() == body


async def test_metrics_endpoint_shows_updates_latency_and_errors() -> None:
    world = make_world()
    async with serve(world) as client:
        for update_id, text in enumerate(["hi", "raise"], start=1):
            response = await client.post(
                "/webhook", json=message_update(update_id, text), headers={HEADER: SECRET}
            )
            assert response.status == 200
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = await response.text()
    assert 'motriforge_updates_total{type="message"} 2.0' in text
    assert 'motriforge_update_seconds_bucket{le="0.001",type="message"}' in text
    assert 'motriforge_update_seconds_bucket{le="10.0",type="message"} 2.0' in text
    assert 'motriforge_errors_total{kind="exception"} 1.0' in text
    assert "motriforge_updates_in_progress 0.0" in text
    assert world.seen == ["hi"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://bot.example", "https://bot.example/webhook"),
        ("https://bot.example/", "https://bot.example/webhook"),
        ("https://bot.example/webhook", "https://bot.example/webhook"),
        ("https://bot.example/webhook/", "https://bot.example/webhook"),
        ("https://bot.example/tg", "https://bot.example/tg/webhook"),
    ],
)
def test_webhook_target(url: str, expected: str) -> None:
    assert webhook_target(url, "/webhook") == expected


async def _wait_listening(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.02)
    raise AssertionError(f"{url} never answered")


async def test_run_webhook_server_registers_serves_and_stops(telegram: FakeTelegram) -> None:
    world = make_world()
    lifecycle: list[str] = []
    world.dispatcher.startup.register(lambda: lifecycle.append("startup"))
    world.dispatcher.shutdown.register(lambda: lifecycle.append("shutdown"))
    bot_ = make_bot(telegram.base)
    bot_.session.middleware(world.metrics.request_middleware())
    port, stop = unused_port(), asyncio.Event()
    server = asyncio.create_task(
        run_webhook_server(
            world.dispatcher,
            bot_,
            secret=SECRET,
            webhook_url="https://bot.example/",
            host="127.0.0.1",
            port=port,
            metrics=world.metrics,
            drop_pending_updates=True,
            stop_event=stop,
        )
    )
    base = f"http://127.0.0.1:{port}"
    await _wait_listening(f"{base}/healthz")
    # "slow" is still being handled when the stop comes: it must be finished, not dropped
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base}/webhook", json=message_update(text="slow"), headers={HEADER: SECRET}
        ) as response,
    ):
        assert response.status == 200
    stop.set()
    await asyncio.wait_for(server, timeout=10)

    assert world.seen == ["slow"]
    assert lifecycle == ["startup", "shutdown"]
    assert telegram.methods() == ["setWebhook"]  # and no deleteWebhook on the way out
    params = telegram.calls[0][1]
    assert params["url"] == "https://bot.example/webhook"
    assert params["secret_token"] == SECRET
    assert json.loads(params["allowed_updates"]) == ["message"]
    assert params["drop_pending_updates"] == "true"
    labels = {"method": "setWebhook", "outcome": "ok"}
    assert world.value("motriforge_telegram_requests_total", labels) == 1
    assert bot_.session._session is None or bot_.session._session.closed  # type: ignore[attr-defined]
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get_once(f"{base}/healthz")


async def _get_once(url: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(url):
        pass


async def test_run_webhook_server_cleans_up_when_cancelled(telegram: FakeTelegram) -> None:
    world = make_world()
    lifecycle: list[str] = []
    world.dispatcher.shutdown.register(lambda: lifecycle.append("shutdown"))
    port = unused_port()
    server = asyncio.create_task(
        run_webhook_server(
            world.dispatcher,
            make_bot(telegram.base),
            secret=SECRET,
            webhook_url="https://bot.example/webhook",
            host="127.0.0.1",
            port=port,
            metrics=world.metrics,
        )
    )
    await _wait_listening(f"http://127.0.0.1:{port}/healthz")
    server.cancel()
    with pytest.raises(asyncio.CancelledError):
        await server
    assert lifecycle == ["shutdown"]
    assert telegram.methods() == ["setWebhook"]
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get_once(f"http://127.0.0.1:{port}/healthz")


async def test_run_webhook_server_refuses_a_bad_secret_before_anything(
    telegram: FakeTelegram,
) -> None:
    for secret in ("", "not valid!"):
        with pytest.raises(ValueError, match="secret"):
            await run_webhook_server(
                Dispatcher(),
                make_bot(telegram.base),
                secret=secret,
                webhook_url="https://bot.example",
                host="127.0.0.1",
                port=unused_port(),
                metrics=Metrics(),
            )
    assert telegram.calls == []
