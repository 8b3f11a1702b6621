"""Send-rate limits for messages the bot starts (notifications): a global rate for the bot
(Telegram: about 30 messages per second) and a minimum gap between two messages to one chat
(Telegram: about one per second).

``acquire(chat_id)`` waits until the chat is free and a global slot is due, then marks the
chat busy; ``release(chat_id)`` after Telegram answered keeps it busy for ``chat_interval``
more, so the next message to that chat leaves at least that long after the previous one was
answered. ``pause(seconds)`` pushes every later slot back (a 429's ``retry_after``).

The global rate is a GCRA (generic cell rate algorithm): slot k is due at TAT − tolerance,
where the theoretical arrival time TAT advances by 1/rate per message. A small tolerance
(``burst`` messages) lets a late event loop catch up instead of losing its lateness, while no
window of W seconds ever holds more than ``burst + W × rate`` messages.

Two implementations: ``LocalRateLimiter`` (one process) and ``RedisRateLimiter`` (every process
of the bot shares the same slots, ``REDIS_URL``): one Lua script call per message, times from
the Redis server's clock.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["LocalRateLimiter", "RateLimiter", "RedisRateLimiter", "build_limiter"]

DEFAULT_RATE = 25.0
DEFAULT_CHAT_INTERVAL = 1.0
# How often a sender waiting on a chat whose message is in flight in another process looks
# again (the in-process limiter wakes its waiters directly).
_BUSY_POLL = 0.02


def default_burst(rate: float) -> int:
    """A tenth of a second of messages (at least 1): enough to absorb scheduling jitter."""
    return max(1, math.floor(rate / 10))


class RateLimiter(Protocol):
    async def acquire(self, chat_id: int) -> None: ...

    async def release(self, chat_id: int) -> None: ...

    async def pause(self, seconds: float) -> None: ...

    async def close(self) -> None: ...


class LocalRateLimiter:
    """The limits for one process. Memory: one entry per chat used in the last
    ``chat_interval`` seconds (older entries are pruned as new ones arrive)."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        *,
        chat_interval: float = DEFAULT_CHAT_INTERVAL,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.chat_interval = chat_interval
        self._emission = 1.0 / rate
        self._tolerance = ((burst or default_burst(rate)) - 1) * self._emission
        self._clock = clock
        self._tat = -math.inf
        # chat → event set when its message in flight is answered
        self._busy: dict[int, asyncio.Event] = {}
        # chat → when it may receive again
        self._free_at: dict[int, float] = {}
        self._prune_above = 1024

    async def acquire(self, chat_id: int) -> None:
        # The chat first: a global slot taken and then left unused while the chat waits would
        # be lost to every other chat.
        while True:
            busy = self._busy.get(chat_id)
            if busy is not None:
                await busy.wait()
                continue
            wait = self._free_at.get(chat_id, -math.inf) - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            break
        self._busy[chat_id] = asyncio.Event()
        try:
            now = self._clock()
            start = max(now, self._tat - self._tolerance)
            self._tat = max(self._tat, start) + self._emission
            if start > now:
                await asyncio.sleep(start - now)
        except BaseException:
            self._busy.pop(chat_id).set()
            raise

    async def release(self, chat_id: int) -> None:
        now = self._clock()
        self._free_at[chat_id] = now + self.chat_interval
        busy = self._busy.pop(chat_id, None)
        if busy is not None:
            busy.set()
        if len(self._free_at) > self._prune_above:
            self._free_at = {chat: at for chat, at in self._free_at.items() if at > now}
            self._prune_above = max(1024, 2 * len(self._free_at))

    async def pause(self, seconds: float) -> None:
        self._tat = max(self._tat, self._clock() + seconds + self._tolerance)

    async def close(self) -> None:
        return None


# KEYS[1]: the bot's TAT (µs, Redis clock); KEYS[2]: the chat ("b" = in flight, "s" = spacing).
# ARGV[1]: emission interval µs; ARGV[2]: tolerance µs; ARGV[3]: how long a claim on a chat
# lasts if its sender dies before releasing it (ms).
# Returns {0, µs to wait for the global slot} or {1, ms the chat stays taken, in flight 0/1}.
_ACQUIRE = """
local chat_ttl = redis.call('PTTL', KEYS[2])
if chat_ttl > 0 then
  local in_flight = 0
  if redis.call('GET', KEYS[2]) == 'b' then in_flight = 1 end
  return {1, chat_ttl, in_flight}
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local emission = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(now, tat - tonumber(ARGV[2]))
local new_tat = math.max(tat, start) + emission
local keep = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', keep)
redis.call('SET', KEYS[2], 'b', 'PX', tonumber(ARGV[3]))
return {0, string.format('%.0f', start - now)}
"""

# KEYS[1]: the bot's TAT; ARGV[1]: pause µs; ARGV[2]: tolerance µs.
_PAUSE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local new_tat = math.max(tat, now + tonumber(ARGV[1]) + tonumber(ARGV[2]))
redis.call('SET', KEYS[1], string.format('%.0f', new_tat),
           'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 1
"""


class RedisRateLimiter:
    """The limits shared by every process of one bot through Redis (keys under ``prefix``)."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        rate: float = DEFAULT_RATE,
        *,
        chat_interval: float = DEFAULT_CHAT_INTERVAL,
        burst: int | None = None,
        in_flight_timeout: float = 90.0,
        owns_client: bool = False,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.chat_interval = chat_interval
        self._redis = redis
        self._owns_client = owns_client
        self._global_key = f"{prefix}:global"
        self._chat_prefix = f"{prefix}:chat:"
        self._emission_us = round(1_000_000 / rate)
        self._tolerance_us = ((burst or default_burst(rate)) - 1) * self._emission_us
        # A sender that dies mid-request frees its chat after this (longer than a request).
        self._in_flight_ms = round(in_flight_timeout * 1000)
        self._acquire = redis.register_script(_ACQUIRE)
        self._pause = redis.register_script(_PAUSE)

    async def acquire(self, chat_id: int) -> None:
        keys = [self._global_key, f"{self._chat_prefix}{chat_id}"]
        args = [self._emission_us, self._tolerance_us, self._in_flight_ms]
        while True:
            answer = await self._acquire(keys=keys, args=args)
            if int(answer[0]) == 0:
                wait = int(answer[1]) / 1_000_000
                if wait > 0:
                    try:
                        await asyncio.sleep(wait)
                    except BaseException:
                        # Cancelled while waiting: free the chat now, not when the claim lapses.
                        await self._redis.delete(keys[1])
                        raise
                return
            chat_wait, in_flight = int(answer[1]) / 1000, int(answer[2])
            await asyncio.sleep(_BUSY_POLL if in_flight else chat_wait)

    async def release(self, chat_id: int) -> None:
        key = f"{self._chat_prefix}{chat_id}"
        await self._redis.set(key, "s", px=max(1, round(self.chat_interval * 1000)))

    async def pause(self, seconds: float) -> None:
        await self._pause(
            keys=[self._global_key], args=[round(seconds * 1_000_000), self._tolerance_us]
        )

    async def close(self) -> None:
        if self._owns_client:
            await self._redis.aclose()


def build_limiter(
    redis_url: str | None,
    *,
    bot_id: int,
    rate: float = DEFAULT_RATE,
    chat_interval: float = DEFAULT_CHAT_INTERVAL,
    burst: int | None = None,
    prefix: str = "motriforge:sendrate",
) -> RateLimiter:
    """Redis-shared limits when ``redis_url`` is set (every sender of the bot counts against
    one rate), else this process's own."""
    if redis_url is None:
        return LocalRateLimiter(rate, chat_interval=chat_interval, burst=burst)
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    return RedisRateLimiter(
        client,
        f"{prefix}:{bot_id}",
        rate,
        chat_interval=chat_interval,
        burst=burst,
        owns_client=True,
    )
