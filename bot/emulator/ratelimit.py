"""Token buckets for the emulator's flood control (Telegram answers 429 with retry_after)."""

from __future__ import annotations

import math

__all__ = ["TokenBucket"]


class TokenBucket:
    """`rate` tokens per second, burst of max(1, rate); time comes from the caller's clock."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, now: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        elapsed = now - self.stamp
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.stamp = now

    def retry_after(self, now: float) -> int:
        """0 when a token is available now, else whole seconds (≥ 1) until one is."""
        self.refill(now)
        if self.tokens >= 1.0:
            return 0
        return max(1, math.ceil((1.0 - self.tokens) / self.rate))

    def take(self) -> None:
        """Consume one token; call after `retry_after` returned 0."""
        self.tokens -= 1.0
