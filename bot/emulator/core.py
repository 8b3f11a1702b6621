"""The emulator's state machine without HTTP: bots, users, chats, files, the update queue.

`BotApiMethods` (methods.py) adds the Bot API methods on top and `BotApiEmulator` (server.py)
the HTTP server; the driver talks to the helpers in the "driver support" section below.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from types import EllipsisType
from typing import Any

from bot.emulator.ratelimit import TokenBucket
from bot.emulator.state import (
    ApiError,
    BotState,
    ChargeRecord,
    ChatEvent,
    ChatState,
    FileRecord,
    JsonDict,
    MessageRecord,
    PollWaiter,
    PreCheckoutRecord,
    QueuedUpdate,
    UserRecord,
)

__all__ = ["TOKEN_RE", "EmulatorCore", "chat_not_found", "now_unix", "scope_key"]

TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]{30,}$")
DEFAULT_BOT_USERNAME = "motriforge_test_bot"
FIRST_USER_ID = 100_000_001
MAX_GET_FILE_SIZE = 20 * 1024 * 1024
CallRecord = tuple[str, str, JsonDict]


def now_unix() -> int:
    return int(time.time())


def chat_not_found() -> ApiError:
    return ApiError(400, "Bad Request: chat not found")


class EmulatorCore:
    """State shared by the API methods, the HTTP layer and the driver."""

    # Well-formed but fake: only this emulator accepts it.
    default_token = "123456789:AAEmulatorTokenForTestsOnly_0123456"  # noqa: S105

    def __init__(
        self,
        *,
        send_rate: float | None = None,
        per_chat_rate: float | None = None,
        webhook_retry_base: float = 0.05,
        webhook_retry_max: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        max_calls: int | None = None,
        settle_time: float = 0.0,
    ) -> None:
        self.send_rate = send_rate
        self.per_chat_rate = per_chat_rate
        self.webhook_retry_base = webhook_retry_base
        self.webhook_retry_max = webhook_retry_max
        self.clock = clock
        # After an update is processed the driver also waits until the bot has made no API call
        # for this long: covers dispatchers that confirm updates before handling them.
        self.settle_time = settle_time
        self._bots: dict[str, BotState] = {}
        self._usernames: dict[str, str] = {}
        self._users_by_name: dict[str, UserRecord] = {}
        self._users_by_id: dict[int, UserRecord] = {}
        self._next_user_id = FIRST_USER_ID
        self._files: dict[str, FileRecord] = {}
        self._files_by_path: dict[str, FileRecord] = {}
        self._file_seq = itertools.count(1)
        self._seq = itertools.count(1)
        self._calls: deque[CallRecord] = deque(maxlen=max_calls)

    # --- configuration ----------------------------------------------------------------------------

    def configure(
        self,
        *,
        send_rate: float | EllipsisType | None = ...,
        per_chat_rate: float | EllipsisType | None = ...,
    ) -> None:
        """Change flood limits at run time (None = off, omitted = unchanged); buckets refill."""
        if not isinstance(send_rate, EllipsisType):
            self.send_rate = send_rate
        if not isinstance(per_chat_rate, EllipsisType):
            self.per_chat_rate = per_chat_rate
        for state in self._bots.values():
            state.bucket = None
            for chat in state.chats.values():
                chat.bucket = None

    def set_bot_username(self, token: str, username: str) -> None:
        self._usernames[token] = username
        if token in self._bots:
            self._bots[token].rename(username)

    # --- bots ---------------------------------------------------------------------------------

    def bot_state(self, token: str) -> BotState:
        """The state of `token`, created on first use; a malformed token is a 401."""
        state = self._bots.get(token)
        if state is not None:
            return state
        match = TOKEN_RE.match(token)
        if match is None:
            raise ApiError(401, "Unauthorized")
        state = BotState(
            token=token,
            bot_id=int(match.group(1)),
            username=self._usernames.get(token, DEFAULT_BOT_USERNAME),
        )
        self._bots[token] = state
        return state

    def bot_username(self, token: str | None = None) -> str:
        return self.bot_state(token or self.default_token).username

    # --- users and chats ------------------------------------------------------------------------

    def user_record(
        self,
        username: str,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        user_id: int | None = None,
    ) -> UserRecord:
        """Create or get a user; given fields update an existing one."""
        username = username.removeprefix("@")
        record = self._users_by_name.get(username)
        if record is None:
            if user_id is None:
                while self._next_user_id in self._users_by_id:
                    self._next_user_id += 1
                user_id = self._next_user_id
                self._next_user_id += 1
            elif user_id in self._users_by_id:
                raise ValueError(f"user id {user_id} is taken by @{self._users_by_id[user_id]}")
            record = UserRecord(
                user_id=user_id,
                username=username,
                first_name=first_name or username.capitalize(),
                language_code=language_code or "en",
            )
            self._users_by_name[username] = record
            self._users_by_id[user_id] = record
            return record
        if user_id is not None and user_id != record.user_id:
            raise ValueError(f"@{username} already has id {record.user_id}")
        if first_name is not None:
            record.first_name = first_name
        if language_code is not None:
            record.language_code = language_code
        return record

    def chat_state(self, token: str, chat_id: int) -> ChatState:
        """The private chat of bot `token` with user `chat_id` (created on first use)."""
        return self._chat(self.bot_state(token), chat_id)

    def _chat(self, state: BotState, chat_id: int) -> ChatState:
        chat = state.chats.get(chat_id)
        if chat is None:
            user = self._users_by_id.get(chat_id)
            if user is None:
                raise chat_not_found()
            chat = ChatState(chat_id=chat_id, user=user)
            state.chats[chat_id] = chat
        return chat

    # --- the update queue -----------------------------------------------------------------------

    def push_update(self, token: str, update: JsonDict) -> int:
        """Queue an update for the bot; returns its update_id (assigned unless given)."""
        state = self.bot_state(token)
        update_id = update.get("update_id")
        if update_id is None:
            update_id = state.next_update_id
            state.next_update_id += 1
            payload = {"update_id": update_id, **update}
        else:
            update_id = int(update_id)
            if update_id >= state.next_update_id:
                state.next_update_id = update_id + 1
            payload = {**update, "update_id": update_id}
        kind = next((key for key in payload if key != "update_id"), "")
        if kind == "message":
            self._note_incoming(state, payload["message"])
        state.stats.updates_pushed += 1
        if not state.allows(kind):
            # Telegram does not even store updates of types the bot did not ask for.
            return update_id
        state.queue.append(QueuedUpdate(update_id, payload, kind))
        state.pending[update_id] = state.pending.get(update_id, 0) + 1
        poller = state.poller
        if poller is not None and not poller.future.done():
            poller.future.set_result(None)
        wakeup = state.webhook_wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)
        return update_id

    def _note_incoming(self, state: BotState, message: Any) -> None:
        """Remember a user's message pushed as a raw update so replies/deletes can find it."""
        if not isinstance(message, dict):
            return
        chat_id = message.get("chat", {}).get("id")
        message_id = message.get("message_id")
        if not isinstance(chat_id, int) or not isinstance(message_id, int):
            return
        try:
            chat = self._chat(state, chat_id)
        except ApiError:
            return
        if message_id not in chat.messages:
            chat.messages[message_id] = MessageRecord(data=message, from_bot=False)
            chat.last_message_id = max(chat.last_message_id, message_id)

    # A plain `timeout` argument is the contract tests and the driver rely on.
    async def wait_processed(
        self,
        token: str,
        update_id: int,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> None:
        """Until every queued copy of `update_id` is processed (polling: confirmed by a later
        offset; webhook: its POST answered 2xx). Raises TimeoutError."""
        state = self.bot_state(token)
        if update_id not in state.pending:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        state.processed_waiters.setdefault(update_id, []).append(future)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            mode = f"webhook {state.webhook_url}" if state.webhook_url else "polling"
            raise TimeoutError(
                f"update {update_id} was not processed within {timeout}s ({mode}; "
                f"{len(state.queue)} pending, confirmed offset {state.confirmed_offset})"
            ) from None

    async def settle(self, token: str) -> None:
        """With `settle_time` > 0: until the bot has been idle (no API call) for that long."""
        if self.settle_time <= 0:
            return
        state = self.bot_state(token)
        while True:
            idle = time.monotonic() - state.last_activity
            if state.inflight == 0 and idle >= self.settle_time:
                return
            await asyncio.sleep(max(0.001, self.settle_time - idle))

    def _processed(self, state: BotState, entry: QueuedUpdate) -> None:
        state.stats.updates_processed += 1
        update_id = entry.update_id
        left = state.pending.get(update_id, 1) - 1
        if left > 0:
            state.pending[update_id] = left
            return
        state.pending.pop(update_id, None)
        for waiter in state.processed_waiters.pop(update_id, ()):
            if not waiter.done():
                waiter.set_result(None)

    def _confirm(self, state: BotState, offset: int) -> None:
        """getUpdates' offset: forget delivered updates with a smaller id."""
        queue = state.queue
        if offset < 0:
            # Telegram: "-N" keeps the last N updates and forgets the others.
            while len(queue) > -offset:
                self._processed(state, queue.popleft())
            return
        if offset > state.confirmed_offset:
            state.confirmed_offset = offset
        # Only delivered ones: a re-pushed old update_id must still reach the bot once.
        while queue and (queue[0].skip or (queue[0].delivered and queue[0].update_id < offset)):
            self._processed(state, queue.popleft())

    def _collect(self, state: BotState, limit: int) -> list[JsonDict]:
        """The next batch for getUpdates (ids strictly increasing, so one offset confirms it)."""
        batch: list[JsonDict] = []
        last_id = -1
        for entry in state.queue:
            if entry.skip:
                continue
            if not state.allows(entry.kind):
                entry.skip = True
                continue
            if entry.update_id <= last_id:
                break
            entry.delivered = True
            batch.append(entry.payload)
            last_id = entry.update_id
            if len(batch) >= limit:
                break
        queue = state.queue
        while queue and queue[0].skip:
            self._processed(state, queue.popleft())
        return batch

    def _drop_pending(self, state: BotState) -> None:
        while state.queue:
            self._processed(state, state.queue.popleft())

    def _end_poll(self, state: BotState, outcome: ApiError | None) -> None:
        """Wake the waiting getUpdates: with `outcome` it answers that error, else []."""
        poller: PollWaiter | None = state.poller
        if poller is None:
            return
        state.poller = None
        poller.outcome = outcome
        if not poller.future.done():
            poller.future.set_result(None)

    def _webhook_changed(self, state: BotState) -> None:
        """Hook for the HTTP layer, which owns webhook delivery."""

    # --- flood control --------------------------------------------------------------------------

    def _check_rate(self, state: BotState, chat: ChatState) -> None:
        if self.send_rate is None and self.per_chat_rate is None:
            return
        now = self.clock()
        wait = 0
        bucket = state.bucket
        if self.send_rate is not None:
            if bucket is None:
                bucket = state.bucket = TokenBucket(self.send_rate, now)
            wait = bucket.retry_after(now)
        chat_bucket = chat.bucket
        if self.per_chat_rate is not None:
            if chat_bucket is None:
                chat_bucket = chat.bucket = TokenBucket(self.per_chat_rate, now)
            wait = max(wait, chat_bucket.retry_after(now))
        if wait:
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        if bucket is not None and self.send_rate is not None:
            bucket.take()
        if chat_bucket is not None and self.per_chat_rate is not None:
            chat_bucket.take()

    # --- files ----------------------------------------------------------------------------------

    def store_file(
        self,
        data: bytes | None,
        *,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> FileRecord:
        n = next(self._file_seq)
        folder = {"photo": "photos", "voice": "voice", "sticker": "stickers"}.get(kind, "documents")
        suffix = ""
        if file_name and "." in file_name:
            suffix = "." + file_name.rsplit(".", 1)[1]
        elif kind == "photo":
            suffix = ".jpg"
        record = FileRecord(
            file_id=f"EMU{kind[:3].upper()}{n:08d}AgAD",
            file_unique_id=f"AgADu{n:06d}",
            kind=kind,
            data=data,
            file_path=f"{folder}/file_{n}{suffix}",
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[record.file_id] = record
        self._files_by_path[record.file_path] = record
        return record

    def file(self, file_id: str) -> FileRecord | None:
        return self._files.get(file_id)

    def file_by_path(self, file_path: str) -> FileRecord | None:
        return self._files_by_path.get(file_path)

    # --- inspection -----------------------------------------------------------------------------

    @property
    def calls(self) -> list[CallRecord]:
        """(token, method, params) of every API call, oldest first (bounded by max_calls)."""
        return list(self._calls)

    def clear_calls(self) -> None:
        self._calls.clear()

    def calls_to(self, method: str, token: str | None = None) -> list[JsonDict]:
        """Params of the calls to `method` (case-insensitive), optionally for one token."""
        wanted = method.lower()
        return [
            params
            for call_token, name, params in self._calls
            if name.lower() == wanted and (token is None or call_token == token)
        ]

    def webhook_url(self, token: str | None = None) -> str:
        """The bot's webhook URL ("" while it polls)."""
        return self.bot_state(token or self.default_token).webhook_url

    def commands(
        self,
        token: str | None = None,
        scope: str | JsonDict = "default",
        language_code: str = "",
    ) -> list[JsonDict]:
        """The commands set for (scope, language_code), exactly as getMyCommands answers."""
        state = self.bot_state(token or self.default_token)
        key = scope_key(scope if isinstance(scope, dict) else {"type": scope})
        return list(state.commands.get((key, language_code), []))

    def stats(self, token: str | None = None) -> JsonDict:
        state = self.bot_state(token or self.default_token)
        s = state.stats
        return {
            "sent_messages": s.sent_messages,
            "edited_messages": s.edited_messages,
            "deleted_messages": s.deleted_messages,
            "rate_limited": s.rate_limited,
            "forbidden": s.forbidden,
            "errors": s.errors,
            "updates_pushed": s.updates_pushed,
            "updates_processed": s.updates_processed,
            "updates_pending": len(state.queue),
            "methods": dict(s.methods),
        }

    def message_records(self, chat_id: int, token: str | None = None) -> Iterator[MessageRecord]:
        state = self.bot_state(token or self.default_token)
        chat = state.chats.get(chat_id)
        if chat is None:
            return iter(())
        return (record for record in chat.messages.values() if record.from_bot)

    # --- driver support -------------------------------------------------------------------------

    def next_id(self) -> int:
        """A process-unique number for query ids and charge ids."""
        return next(self._seq)

    def incoming_message(self, token: str, user: UserRecord, content: JsonDict) -> JsonDict:
        """Store a message from `user` to the bot and return its JSON (not yet pushed)."""
        chat = self.chat_state(token, user.user_id)
        data = {
            "message_id": chat.next_message_id(),
            "from": user.as_json(),
            "chat": user.chat_json(),
            "date": now_unix(),
            **content,
        }
        chat.messages[data["message_id"]] = MessageRecord(data=data, from_bot=False)
        return data

    def expect_pre_checkout(
        self, token: str, query_id: str, user_id: int
    ) -> asyncio.Future[tuple[bool, str | None]]:
        future: asyncio.Future[tuple[bool, str | None]] = asyncio.get_running_loop().create_future()
        self.bot_state(token).pre_checkouts[query_id] = PreCheckoutRecord(user_id, future)
        return future

    def record_charge(self, token: str, charge_id: str, charge: ChargeRecord) -> None:
        self.bot_state(token).charges[charge_id] = charge

    def _bot_event(self, chat: ChatState, kind: str, record: MessageRecord) -> None:
        chat.add_event(ChatEvent(kind, record.data, record.raw_text, record.reply_keyboard))


def scope_key(scope: JsonDict) -> str:
    """A BotCommandScope as a dict key: its type, plus chat/user for the narrow scopes."""
    kind = str(scope.get("type", "default"))
    if "chat_id" in scope:
        kind += f":{scope['chat_id']}"
    if "user_id" in scope:
        kind += f":{scope['user_id']}"
    return kind
