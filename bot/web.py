"""The webhook web server: Telegram updates on POST, plus /healthz and /metrics."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.metrics import Metrics

log = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[bool]]

# Telegram's rule for X-Telegram-Bot-Api-Secret-Token (setWebhook secret_token).
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
# A hung dependency must turn into a 503, not a hung probe.
HEALTH_TIMEOUT_SECONDS = 5.0
# Updates already answered with 200 are finished before the bot session closes on shutdown;
# bounded so that a stuck handler cannot hold a deploy forever.
DRAIN_TIMEOUT_SECONDS = 20.0


def validate_secret(secret: str) -> None:
    """Raise ValueError unless `secret` is a usable webhook secret token."""
    if not secret:
        # aiogram skips the check when the secret is empty: anyone could post updates.
        msg = "the webhook secret is empty; set one so that forged updates are refused"
        raise ValueError(msg)
    if not _SECRET_RE.fullmatch(secret):
        msg = "the webhook secret must be 1-256 characters of A-Z, a-z, 0-9, '_' and '-'"
        raise ValueError(msg)


async def _is_healthy(health_check: HealthCheck | None) -> bool:
    if health_check is None:
        return True
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS):
            return bool(await health_check())
    except Exception:
        log.warning("health check failed", exc_info=True)
        return False


def build_web_app(
    dispatcher: Dispatcher,
    bot: Bot,
    *,
    secret: str,
    metrics: Metrics,
    path: str = "/webhook",
    handle_in_background: bool = True,
    health_check: HealthCheck | None = None,
    **workflow_data: Any,
) -> web.Application:
    """An aiohttp app serving the webhook at `path`, GET /healthz and GET /metrics.

    A wrong or missing X-Telegram-Bot-Api-Secret-Token gets 401 (aiogram's check). The
    dispatcher's startup and shutdown run with the app's; shutdown closes the bot session.
    """
    validate_secret(secret)
    if not path.startswith("/"):
        msg = f"the webhook path must start with '/': {path!r}"
        raise ValueError(msg)

    app = web.Application()
    handler = SimpleRequestHandler(
        dispatcher,
        bot,
        handle_in_background=handle_in_background,
        secret_token=secret,
        **workflow_data,
    )

    async def drain(_: web.Application) -> None:
        # aiogram does not wait for its background tasks; registered before the handler's own
        # shutdown hook (which closes the bot session) so that they can still call the API.
        pending = set(handler._background_feed_update_tasks)
        if pending:
            log.info("waiting for %d update(s) still being handled", len(pending))
            await asyncio.wait(pending, timeout=DRAIN_TIMEOUT_SECONDS)

    # on_shutdown runs in this order: drain, dispatcher shutdown, then the bot session closes.
    app.on_shutdown.append(drain)
    setup_application(app, dispatcher, bot=bot, **workflow_data)
    handler.register(app, path=path)

    async def healthz(_: web.Request) -> web.Response:
        if await _is_healthy(health_check):
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "unavailable"}, status=503)

    async def metrics_view(_: web.Request) -> web.Response:
        body, content_type = metrics.render()
        # Set as a header: aiohttp's content_type= argument rejects the parameters it carries.
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    return app


def webhook_target(webhook_url: str, path: str) -> str:
    """The URL given to Telegram: `webhook_url`, with `path` appended unless already there."""
    base = webhook_url.rstrip("/")
    return base if base.endswith(path.rstrip("/")) else base + path


async def run_webhook_server(
    dispatcher: Dispatcher,
    bot: Bot,
    *,
    secret: str,
    webhook_url: str,
    host: str,
    port: int,
    metrics: Metrics,
    path: str = "/webhook",
    health_check: HealthCheck | None = None,
    drop_pending_updates: bool = False,
    stop_event: asyncio.Event | None = None,
    **workflow_data: Any,
) -> None:
    """Serve the webhook until `stop_event` is set (or the task is cancelled).

    The webhook is registered once listening, so Telegram's first delivery finds the server up.
    It is left registered on exit: another worker behind the load balancer may still serve it.
    """
    app = build_web_app(  # validates the secret first
        dispatcher,
        bot,
        secret=secret,
        metrics=metrics,
        path=path,
        health_check=health_check,
        **workflow_data,
    )
    runner = web.AppRunner(app)
    await runner.setup()  # runs the dispatcher's startup
    try:
        await web.TCPSite(runner, host, port).start()
        await bot.set_webhook(
            webhook_target(webhook_url, path),
            secret_token=secret,
            allowed_updates=dispatcher.resolve_used_update_types(),
            drop_pending_updates=drop_pending_updates,
        )
        log.info("webhook server listening on %s:%d%s", host, port, path)
        await (stop_event or asyncio.Event()).wait()
    finally:
        await runner.cleanup()  # drains updates, dispatcher shutdown, closes the bot session
