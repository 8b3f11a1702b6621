"""Metrics instruments and middlewares, without a web server in front."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import TelegramObject, Update
from prometheus_client import CollectorRegistry

from bot.metrics import Metrics
from tests.web.conftest import FakeTelegram, make_bot, message_update


def test_each_instance_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()  # would raise "Duplicated timeseries" on a shared one
    first.record_error("exception")
    assert first.registry is not second.registry
    exception = {"kind": "exception"}
    assert first.registry.get_sample_value("motriforge_errors_total", exception) == 1
    assert second.registry.get_sample_value("motriforge_errors_total", exception) is None
    shared = CollectorRegistry()
    assert Metrics(shared).registry is shared


def test_record_error_counts_by_kind() -> None:
    metrics = Metrics()
    for kind in ("exception", "timeout", "exception"):
        metrics.record_error(kind)
    value = metrics.registry.get_sample_value
    assert value("motriforge_errors_total", {"kind": "exception"}) == 2
    assert value("motriforge_errors_total", {"kind": "timeout"}) == 1


def test_render_is_prometheus_text() -> None:
    body, content_type = Metrics().render()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert b"# TYPE motriforge_updates_in_progress gauge" in body


async def test_update_middleware_counts_times_and_reraises() -> None:
    metrics = Metrics()
    middleware = metrics.update_middleware()
    update = Update.model_validate(message_update())
    seen_in_progress: list[float | None] = []

    async def failing(event: TelegramObject, data: dict[str, Any]) -> Any:
        seen_in_progress.append(metrics.registry.get_sample_value("motriforge_updates_in_progress"))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await middleware(failing, update, {})

    value = metrics.registry.get_sample_value
    assert seen_in_progress == [1]
    assert value("motriforge_updates_in_progress") == 0
    assert value("motriforge_updates_total", {"type": "message"}) == 1
    assert value("motriforge_update_seconds_count", {"type": "message"}) == 1
    # errors are the error middleware's to count, never twice
    assert value("motriforge_errors_total", {"kind": "exception"}) is None


async def test_request_middleware_counts_outcomes(telegram: FakeTelegram) -> None:
    metrics = Metrics()
    bot = make_bot(telegram.base)
    bot.session.middleware(metrics.request_middleware())
    try:
        assert (await bot.get_me()).first_name == "Forge"
        with pytest.raises(TelegramRetryAfter) as retry:
            await bot.send_message(42, "hello")
        assert retry.value.retry_after == 1
        with pytest.raises(TelegramForbiddenError):
            await bot.send_chat_action(42, "typing")
        with pytest.raises(TelegramBadRequest):
            await bot.delete_message(42, 1)
        with pytest.raises(TelegramServerError):
            await bot.get_chat(42)
    finally:
        await bot.session.close()

    value = metrics.registry.get_sample_value
    requests = "motriforge_telegram_requests_total"
    assert value(requests, {"method": "getMe", "outcome": "ok"}) == 1
    assert value(requests, {"method": "sendMessage", "outcome": "retry_after"}) == 1
    assert value(requests, {"method": "sendMessage", "outcome": "ok"}) is None
    assert value(requests, {"method": "sendChatAction", "outcome": "forbidden"}) == 1
    assert value(requests, {"method": "deleteMessage", "outcome": "bad_request"}) == 1
    assert value(requests, {"method": "getChat", "outcome": "other"}) == 1
    for method in ("getMe", "sendMessage"):
        assert value("motriforge_telegram_request_seconds_count", {"method": method}) == 1


async def test_request_middleware_counts_network_errors() -> None:
    metrics = Metrics()
    bot = make_bot()  # nothing listens there
    bot.session.middleware(metrics.request_middleware())
    try:
        with pytest.raises(TelegramNetworkError):
            await bot.get_me()
    finally:
        await bot.session.close()
    labels = {"method": "getMe", "outcome": "network"}
    assert metrics.registry.get_sample_value("motriforge_telegram_requests_total", labels) == 1
