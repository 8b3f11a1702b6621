"""Prometheus instruments for the bot: updates handled, errors and Bot API calls.

Wiring (done by the app, for polling and webhook alike)::

    dp.update.outer_middleware(metrics.update_middleware())
    bot.session.middleware(metrics.request_middleware())
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update
from aiogram.types.update import UpdateTypeLookupError
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

# Handlers and Bot API calls range from a cache hit (~1 ms) to a slow upload (~10 s).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Most specific first: TelegramRetryAfter etc. all derive from TelegramAPIError.
_OUTCOMES: tuple[tuple[type[Exception], str], ...] = (
    (TelegramRetryAfter, "retry_after"),
    (TelegramForbiddenError, "forbidden"),
    (TelegramBadRequest, "bad_request"),
    (TelegramNetworkError, "network"),
)


def _outcome(error: Exception) -> str:
    for error_type, outcome in _OUTCOMES:
        if isinstance(error, error_type):
            return outcome
    return "other"


class Metrics:
    """All instruments on one registry; a fresh registry per instance unless one is given."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # Own registry so tests and several apps in one process never register a name twice.
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.updates_total = Counter(
            "motriforge_updates_total", "Updates received, by type.", ["type"], registry=r
        )
        self.update_seconds = Histogram(
            "motriforge_update_seconds",
            "Time spent handling an update, by type.",
            ["type"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.updates_in_progress = Gauge(
            "motriforge_updates_in_progress", "Updates being handled right now.", registry=r
        )
        self.errors_total = Counter(
            "motriforge_errors_total",
            "Errors while handling updates, by kind.",
            ["kind"],
            registry=r,
        )
        self.telegram_requests_total = Counter(
            "motriforge_telegram_requests_total",
            "Bot API calls, by method and outcome.",
            ["method", "outcome"],
            registry=r,
        )
        self.telegram_request_seconds = Histogram(
            "motriforge_telegram_request_seconds",
            "Bot API call latency, by method.",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # labels() takes a lock and builds a tuple on every call; the label sets are small and
        # bounded (update types, error kinds, API methods), so children are cached here.
        self._update_children: dict[str, tuple[Counter, Histogram]] = {}
        self._error_children: dict[str, Counter] = {}
        self._request_counters: dict[tuple[str, str], Counter] = {}
        self._request_timers: dict[str, Histogram] = {}

    def _children_for(self, update_type: str) -> tuple[Counter, Histogram]:
        children = self._update_children.get(update_type)
        if children is None:
            children = (
                self.updates_total.labels(update_type),
                self.update_seconds.labels(update_type),
            )
            self._update_children[update_type] = children
        return children

    def record_error(self, kind: str) -> None:
        child = self._error_children.get(kind)
        if child is None:
            child = self._error_children[kind] = self.errors_total.labels(kind)
        child.inc()

    def _record_request(self, method: str, outcome: str, seconds: float) -> None:
        counter = self._request_counters.get((method, outcome))
        if counter is None:
            counter = self.telegram_requests_total.labels(method, outcome)
            self._request_counters[(method, outcome)] = counter
        counter.inc()
        timer = self._request_timers.get(method)
        if timer is None:
            timer = self._request_timers[method] = self.telegram_request_seconds.labels(method)
        timer.observe(seconds)

    def update_middleware(self) -> BaseMiddleware:
        """Outer middleware for ``dp.update``: counts, times and tracks every update."""
        return _UpdateMiddleware(self)

    def request_middleware(self) -> BaseRequestMiddleware:
        """Middleware for ``bot.session.middleware(...)``: counts and times Bot API calls."""
        return _RequestMiddleware(self)

    def render(self) -> tuple[bytes, str]:
        """Body and content type of the classic text format, which every Prometheus reads."""
        return generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4


class _UpdateMiddleware(BaseMiddleware):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._in_progress = metrics.updates_in_progress

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            update_type = event.event_type if isinstance(event, Update) else "unknown"
        except UpdateTypeLookupError:  # an update type newer than this aiogram
            update_type = "unknown"
        total, seconds = self._metrics._children_for(update_type)
        total.inc()
        self._in_progress.inc()
        start = perf_counter()
        try:
            return await handler(event, data)
        finally:
            # Errors are counted by the error middleware (record_error), not here, so that an
            # error is never counted twice; this only makes sure a failing update is timed.
            seconds.observe(perf_counter() - start)
            self._in_progress.dec()


class _RequestMiddleware(BaseRequestMiddleware):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        start = perf_counter()
        try:
            response = await make_request(bot, method)
        except Exception as error:
            self._metrics._record_request(name, _outcome(error), perf_counter() - start)
            raise
        self._metrics._record_request(name, "ok", perf_counter() - start)
        return response
