"""In-memory records of the emulator: users, chats, messages, files, update queue, bot state.

Messages are kept as the Telegram JSON dicts the Bot API returns. An edit *replaces* the dict
(never mutates it), so events, callback queries and API responses can share one dict without
copies: the hot path stays allocation-light.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bot.emulator.ratelimit import TokenBucket

__all__ = [
    "ApiError",
    "BotState",
    "CallbackAnswer",
    "CallbackRecord",
    "ChargeRecord",
    "ChatEvent",
    "ChatState",
    "FileRecord",
    "JsonDict",
    "MessageRecord",
    "PollWaiter",
    "PreCheckoutRecord",
    "QueuedUpdate",
    "Stats",
    "Upload",
    "UserRecord",
    "bad_request",
]

JsonDict = dict[str, Any]

# Telegram leaves these out unless allowed_updates names them.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class ApiError(Exception):
    """A Bot API error answer: `{"ok": false, "error_code": code, "description": ...}`."""

    def __init__(self, code: int, description: str, parameters: JsonDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JsonDict:
        body: JsonDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


@dataclass(frozen=True, slots=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class UserRecord:
    user_id: int
    username: str
    first_name: str
    language_code: str = "en"
    last_name: str | None = None

    def as_json(self) -> JsonDict:
        user: JsonDict = {
            "id": self.user_id,
            "is_bot": False,
            "first_name": self.first_name,
            "username": self.username,
            "language_code": self.language_code,
        }
        if self.last_name:
            user["last_name"] = self.last_name
        return user

    def chat_json(self) -> JsonDict:
        chat: JsonDict = {
            "id": self.user_id,
            "type": "private",
            "first_name": self.first_name,
            "username": self.username,
        }
        if self.last_name:
            chat["last_name"] = self.last_name
        return chat


@dataclass(slots=True)
class FileRecord:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes | None
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else 0


@dataclass(slots=True)
class MessageRecord:
    """A message in a chat; `data` is its current Telegram JSON (replaced on edit)."""

    data: JsonDict
    from_bot: bool
    raw_text: str | None = None
    # Reply keyboards are not part of the Message JSON Telegram returns; kept for the driver.
    reply_keyboard: JsonDict | None = None
    deleted: bool = False
    edited: bool = False
    invoice: JsonDict | None = None


class ChatEvent(NamedTuple):
    """What the bot did in a chat: kind is "new", "edit" or "delete"; data is the message then."""

    kind: str
    data: JsonDict
    raw_text: str | None
    reply_keyboard: JsonDict | None


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass(slots=True)
class ChatState:
    """One bot's private chat with one user."""

    chat_id: int
    user: UserRecord
    messages: dict[int, MessageRecord] = field(default_factory=dict)
    last_message_id: int = 0
    events: list[ChatEvent] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    blocked: bool = False
    reply_keyboard: JsonDict | None = None
    reply_keyboard_message_id: int | None = None
    bucket: TokenBucket | None = None
    callback_answers: list[CallbackAnswer] = field(default_factory=list)

    def next_message_id(self) -> int:
        self.last_message_id += 1
        return self.last_message_id

    def add_event(self, event: ChatEvent) -> None:
        self.events.append(event)
        if self.waiters:
            waiters, self.waiters = self.waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)


@dataclass(slots=True)
class QueuedUpdate:
    update_id: int
    payload: JsonDict
    kind: str
    delivered: bool = False
    skip: bool = False


@dataclass(slots=True)
class PollWaiter:
    """A getUpdates request waiting for updates; `outcome` is set when it must end with an error."""

    future: asyncio.Future[None]
    outcome: ApiError | None = None


@dataclass(slots=True)
class CallbackRecord:
    user_id: int
    chat_id: int
    answered: bool = False


@dataclass(slots=True)
class PreCheckoutRecord:
    user_id: int
    future: asyncio.Future[tuple[bool, str | None]]


@dataclass(slots=True)
class ChargeRecord:
    user_id: int
    currency: str
    total_amount: int
    payload: str
    refunded: bool = False


@dataclass(slots=True)
class Stats:
    sent_messages: int = 0
    edited_messages: int = 0
    deleted_messages: int = 0
    rate_limited: int = 0
    forbidden: int = 0
    errors: int = 0
    updates_pushed: int = 0
    updates_processed: int = 0
    methods: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class BotState:
    """Everything the emulator keeps for one bot token."""

    token: str
    bot_id: int
    username: str
    first_name: str = "MōtriForge Test"
    queue: deque[QueuedUpdate] = field(default_factory=deque)
    # Starts at the clock in microseconds: a bot that remembers handled update ids (its
    # de-duplication store) across emulator restarts never sees an old id again.
    next_update_id: int = field(default_factory=lambda: time.time_ns() // 1000)
    # update_id → number of queued copies (the same id may be pushed twice on purpose).
    pending: dict[int, int] = field(default_factory=dict)
    processed_waiters: dict[int, list[asyncio.Future[None]]] = field(default_factory=dict)
    confirmed_offset: int = 0
    allowed_updates: frozenset[str] | None = None
    poller: PollWaiter | None = None
    webhook_url: str = ""
    webhook_secret: str | None = None
    webhook_max_connections: int = 40
    webhook_task: asyncio.Task[None] | None = None
    webhook_wakeup: asyncio.Future[None] | None = None
    webhook_reset: asyncio.Future[None] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    chats: dict[int, ChatState] = field(default_factory=dict)
    commands: dict[tuple[str, str], list[JsonDict]] = field(default_factory=dict)
    menu_button: JsonDict = field(default_factory=lambda: {"type": "default"})
    texts: dict[tuple[str, str], str] = field(default_factory=dict)
    callback_queries: dict[str, CallbackRecord] = field(default_factory=dict)
    pre_checkouts: dict[str, PreCheckoutRecord] = field(default_factory=dict)
    charges: dict[str, ChargeRecord] = field(default_factory=dict)
    bucket: TokenBucket | None = None
    stats: Stats = field(default_factory=Stats)
    inflight: int = 0
    last_activity: float = 0.0
    _bot_user: JsonDict | None = None

    @property
    def bot_user(self) -> JsonDict:
        # Cached: every message the bot sends embeds it.
        if self._bot_user is None:
            self._bot_user = {
                "id": self.bot_id,
                "is_bot": True,
                "first_name": self.first_name,
                "username": self.username,
            }
        return self._bot_user

    def rename(self, username: str) -> None:
        self.username = username
        self._bot_user = None

    def allows(self, kind: str) -> bool:
        if self.allowed_updates is None:
            return kind not in DEFAULT_EXCLUDED_UPDATES
        return kind in self.allowed_updates
