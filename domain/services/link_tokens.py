"""Secrets behind deep links (`inv_`, `shr_`, `cli_`): issued, stored hashed, checked in
constant time, and redemption attempts rate-limited per user.

The link carries ``secrets.token_urlsafe(32)`` (256 random bits, 43 characters, so
``inv_<token>`` fits Telegram's 64-character start parameter). The database keeps only
``digest(token)``: SHA-256, URL-safe base64 without padding — also 43 characters, so the
existing ``token`` / ``invite_token`` columns and their format checks hold it unchanged.
A leaked database therefore leaks no usable link. Lookup is by digest (an index probe on a
hash reveals nothing about the secret); ``matches`` then compares in constant time.

Failed redemptions (unknown, expired, revoked, used-up links) leave a LINK_REDEMPTION_FAILED
security event; after ``MAX_FAILED_REDEMPTIONS`` of them in ``REDEMPTION_WINDOW`` a user's
further attempts are refused without looking at the token (guessing is pointless anyway at
256 bits, but the trail and the brake cost nothing).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import Conflict
from domain.models.audit import EventTypeCode
from domain.services.audit import count_security_events, record_security_event

TOKEN_BYTES = 32
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_FAILED_REDEMPTIONS = 10
REDEMPTION_WINDOW = dt.timedelta(minutes=10)


class LinkKind(StrEnum):
    INVITE = "inv"
    SHARE = "shr"
    CLIENT = "cli"


class LinkProblem(StrEnum):
    """Why a link cannot be used; the bot has one localized sentence per member."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED_UP = "used_up"
    RATE_LIMITED = "rate_limited"
    OWN_LINK = "own_link"  # a coach opening their own client link …
    ALREADY_DONE = "already_done"  # already a member / already linked / already answered


class LinkRefused(Conflict):
    """A deep link that cannot be redeemed; ``problem`` says why. Nothing was changed."""

    code = "link_refused"

    def __init__(self, problem: LinkProblem, message: str | None = None) -> None:
        super().__init__(message or f"link refused: {problem.value}", problem=problem.value)
        self.problem = problem


@dataclass(frozen=True)
class IssuedToken:
    """A new secret: ``token`` goes into the link (shown once), ``stored`` into the row."""

    token: str
    stored: str

    def link_payload(self, kind: LinkKind) -> str:
        return f"{kind.value}_{self.token}"


def digest(token: str) -> str:
    """What the database stores for ``token``."""
    raw = hashlib.sha256(token.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def issue() -> IssuedToken:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return IssuedToken(token=token, stored=digest(token))


def well_formed(token: str) -> bool:
    return TOKEN_PATTERN.fullmatch(token) is not None


def matches(stored: str, presented: str) -> bool:
    """Constant-time comparison of a stored digest with a presented token."""
    return hmac.compare_digest(stored.encode("ascii"), digest(presented).encode("ascii"))


def deep_link(bot_username: str | None, kind: LinkKind, token: str) -> str:
    """``https://t.me/<bot>?start=<kind>_<token>``, or the bare ``/start`` command when the
    bot's name is unknown (CLI without a token)."""
    payload = f"{kind.value}_{token}"
    if bot_username:
        return f"https://t.me/{bot_username}?start={payload}"
    return f"/start {payload}"


async def check_rate(session: AsyncSession, user_id: uuid.UUID, now: dt.datetime) -> None:
    """Raise ``LinkRefused(RATE_LIMITED)`` when the user failed too often lately."""
    failures = await count_security_events(
        session,
        user_id=user_id,
        event_type_code=EventTypeCode.LINK_REDEMPTION_FAILED,
        since=now - REDEMPTION_WINDOW,
    )
    if failures >= MAX_FAILED_REDEMPTIONS:
        raise LinkRefused(LinkProblem.RATE_LIMITED)


async def refuse(
    session: AsyncSession,
    user_id: uuid.UUID,
    kind: LinkKind,
    problem: LinkProblem,
    *,
    resource_type: str | None = None,
    resource_id: uuid.UUID | None = None,
) -> LinkRefused:
    """Record a failed redemption (in the caller's transaction; the caller commits it after
    rolling back anything else) and return the error to raise."""
    await record_security_event(
        session,
        EventTypeCode.LINK_REDEMPTION_FAILED,
        user_id=user_id,
        resource_type=resource_type,
        resource_id=resource_id,
        action="REDEEM",
        details={"link": kind.value, "problem": problem.value},
    )
    return LinkRefused(problem)
