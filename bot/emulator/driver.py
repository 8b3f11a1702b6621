"""A scripted Telegram user for the emulator: sends messages, taps buttons, pays, blocks the bot.

Every action pushes the update Telegram would send and (by default) waits until the bot has
processed it, then returns what the bot did in this chat meanwhile: new messages and edits, as
`BotMessage` snapshots in order.
"""

# ruff: noqa: ASYNC109 - every action takes a plain `timeout` (seconds), the driver's contract

from __future__ import annotations

import asyncio
import mimetypes
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bot.emulator.core import now_unix
from bot.emulator.formatting import utf16_len
from bot.emulator.state import (
    CallbackAnswer,
    CallbackRecord,
    ChargeRecord,
    ChatEvent,
    ChatState,
    JsonDict,
    MessageRecord,
    UserRecord,
)

if TYPE_CHECKING:
    from bot.emulator.core import EmulatorCore

__all__ = [
    "BotMessage",
    "Button",
    "CallbackAnswer",
    "EmulatedUser",
    "InvoiceInfo",
    "PaymentResult",
    "message_json",
    "render",
]

DEFAULT_LOCATION = (48.8566, 2.3522)
# Smallest valid JPEG-ish payload: enough for a bot that only stores or forwards the photo.
_PHOTO_BYTES = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
_VOICE_BYTES = b"OggS\x00\x02" + b"\x00" * 22
_VIDEO_BYTES = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 16
_STICKER_BYTES = b"RIFF\x00\x00\x00\x00WEBPVP8 "


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    kind: Literal["inline", "reply"] = "inline"
    callback_data: str | None = None
    url: str | None = None
    request_location: bool = False
    pay: bool = False


@dataclass(frozen=True, slots=True)
class InvoiceInfo:
    title: str
    description: str
    currency: str
    total_amount: int
    payload: str = ""
    start_parameter: str = ""


@dataclass(frozen=True, slots=True)
class BotMessage:
    """A bot message as the user sees it. `event`: "new" / "edit" for outputs of an action,
    "current" for the chat's present state (`EmulatedUser.messages`)."""

    message_id: int
    chat_id: int
    kind: str  # "text", "photo", "video", "document", "invoice", "location" or "other"
    text: str  # plain text (caption for media, title for invoices)
    raw_text: str  # as the bot sent it, markup included
    buttons: list[list[Button]] = field(default_factory=list)
    reply_keyboard: bool = False
    file_id: str | None = None
    file_name: str | None = None
    invoice: InvoiceInfo | None = None
    location: tuple[float, float] | None = None
    edited: bool = False
    deleted: bool = False
    event: str = "current"
    data: JsonDict = field(default_factory=dict, repr=False, compare=False)

    def labels(self) -> list[str]:
        """Button labels in reading order (the order `tap(int)` counts in)."""
        return [button.text for row in self.buttons for button in row]

    def flat_buttons(self) -> list[Button]:
        return [button for row in self.buttons for button in row]


class PaymentResult(list[BotMessage]):
    """The bot's outputs during a payment (it *is* that list, like other actions return) plus
    how the payment ended: `ok`, the pre-checkout `error_message`, the charge id for refunds."""

    def __init__(
        self,
        outputs: Iterable[BotMessage],
        *,
        ok: bool,
        error_message: str | None = None,
        telegram_payment_charge_id: str | None = None,
    ) -> None:
        super().__init__(outputs)
        self.ok = ok
        self.error_message = error_message
        self.telegram_payment_charge_id = telegram_payment_charge_id

    @property
    def outputs(self) -> list[BotMessage]:
        return list(self)

    def __repr__(self) -> str:
        return (
            f"PaymentResult(ok={self.ok}, error_message={self.error_message!r}, "
            f"telegram_payment_charge_id={self.telegram_payment_charge_id!r}, "
            f"outputs={list.__repr__(self)})"
        )


def _snapshot(
    data: JsonDict,
    raw_text: str | None,
    reply_keyboard: JsonDict | None,
    *,
    event: str,
    edited: bool,
    deleted: bool,
    invoice: JsonDict | None = None,
) -> BotMessage:
    kind = "other"
    text = ""
    file_id: str | None = None
    file_name: str | None = None
    info: InvoiceInfo | None = None
    location: tuple[float, float] | None = None
    if "text" in data:
        kind, text = "text", data["text"]
    elif "photo" in data:
        kind, file_id = "photo", data["photo"][-1]["file_id"]
    elif "video" in data:
        kind, file_id = "video", data["video"]["file_id"]
    elif "document" in data:
        kind, file_id = "document", data["document"]["file_id"]
        file_name = data["document"].get("file_name")
    elif "invoice" in data:
        raw = data["invoice"]
        kind, text = "invoice", raw["title"]
        info = InvoiceInfo(
            title=raw["title"],
            description=raw["description"],
            currency=raw["currency"],
            total_amount=raw["total_amount"],
            payload=(invoice or {}).get("payload", ""),
            start_parameter=raw.get("start_parameter", ""),
        )
    elif "location" in data:
        kind = "location"
        location = (data["location"]["latitude"], data["location"]["longitude"])
    if kind != "text" and "caption" in data:
        text = data["caption"]
    buttons: list[list[Button]] = []
    inline = data.get("reply_markup")
    if inline:
        buttons = [
            [
                Button(
                    text=b["text"],
                    callback_data=b.get("callback_data"),
                    url=b.get("url"),
                    pay=bool(b.get("pay")),
                )
                for b in row
            ]
            for row in inline["inline_keyboard"]
        ]
    elif reply_keyboard:
        buttons = [
            [
                Button(
                    text=b["text"],
                    kind="reply",
                    request_location=bool(b.get("request_location")),
                )
                for b in row
            ]
            for row in reply_keyboard["keyboard"]
        ]
    return BotMessage(
        message_id=data["message_id"],
        chat_id=data["chat"]["id"],
        kind=kind,
        text=text,
        raw_text=raw_text if raw_text is not None else text,
        buttons=buttons,
        reply_keyboard=reply_keyboard is not None,
        file_id=file_id,
        file_name=file_name,
        invoice=info,
        location=location,
        edited=edited,
        deleted=deleted,
        event=event,
        data=data,
    )


def event_message(event: ChatEvent) -> BotMessage:
    return _snapshot(
        event.data,
        event.raw_text,
        event.reply_keyboard,
        event=event.kind,
        edited=event.kind == "edit" or "edit_date" in event.data,
        deleted=event.kind == "delete",
    )


def record_message(record: MessageRecord) -> BotMessage:
    return _snapshot(
        record.data,
        record.raw_text,
        record.reply_keyboard,
        event="current",
        edited=record.edited,
        deleted=record.deleted,
        invoice=record.invoice,
    )


def message_json(message: BotMessage) -> JsonDict:
    """A BotMessage as plain JSON (the control API's shape)."""
    return asdict(message)


def _find_button(rows: list[list[Button]], key: int | str) -> Button | None:
    flat = [button for row in rows for button in row]
    if isinstance(key, int):
        return flat[key - 1] if 1 <= key <= len(flat) else None
    for button in flat:
        if button.text == key:
            return button
    folded = key.casefold()
    for button in flat:
        if button.text.casefold() == folded:
            return button
    prefixed = [button for button in flat if button.text.casefold().startswith(folded)]
    return prefixed[0] if len(prefixed) == 1 else None


class EmulatedUser:
    """One Telegram user talking to one bot (token) of the emulator."""

    def __init__(self, emulator: EmulatorCore, token: str, record: UserRecord) -> None:
        self._emulator = emulator
        self._token = token
        self._record = record
        self._cursor = 0

    def __repr__(self) -> str:
        return f"EmulatedUser(@{self.username}, id={self.user_id})"

    # --- identity -------------------------------------------------------------------------------

    @property
    def token(self) -> str:
        return self._token

    @property
    def user_id(self) -> int:
        return self._record.user_id

    @property
    def chat_id(self) -> int:
        return self._record.user_id

    @property
    def username(self) -> str:
        return self._record.username

    @property
    def first_name(self) -> str:
        return self._record.first_name

    @first_name.setter
    def first_name(self, value: str) -> None:
        self._record.first_name = value

    @property
    def last_name(self) -> str | None:
        return self._record.last_name

    @last_name.setter
    def last_name(self, value: str | None) -> None:
        self._record.last_name = value

    @property
    def language_code(self) -> str:
        return self._record.language_code

    @language_code.setter
    def language_code(self, value: str) -> None:
        self._record.language_code = value

    def as_json(self) -> JsonDict:
        """The user as a Telegram User object."""
        return self._record.as_json()

    def _chat(self) -> ChatState:
        return self._emulator.chat_state(self._token, self.user_id)

    # --- what the bot did -----------------------------------------------------------------------

    @property
    def messages(self) -> list[BotMessage]:
        """Every bot message in this chat, in its current state (deleted ones flagged)."""
        return [
            record_message(record)
            for record in self._emulator.message_records(self.chat_id, self._token)
        ]

    @property
    def last(self) -> BotMessage | None:
        """The bot's last message still in the chat."""
        for record in reversed(self._chat().messages.values()):
            if record.from_bot and not record.deleted:
                return record_message(record)
        return None

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        return list(self._chat().callback_answers)

    @property
    def blocked(self) -> bool:
        return self._chat().blocked

    def checkpoint(self) -> int:
        """A position in this chat's event log, for `outputs_since`."""
        return len(self._chat().events)

    def outputs_since(self, checkpoint: int) -> list[BotMessage]:
        """New messages and edits of the bot in this chat after `checkpoint`, in order."""
        return [
            event_message(event)
            for event in self._chat().events[checkpoint:]
            if event.kind != "delete"
        ]

    async def wait_for(
        self, predicate: Callable[[BotMessage], bool] | None = None, timeout: float = 5
    ) -> BotMessage:
        """The next bot message or edit (matching `predicate`) not yet returned by an action."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        chat = self._chat()
        while True:
            events = chat.events
            while self._cursor < len(events):
                event = events[self._cursor]
                self._cursor += 1
                if event.kind == "delete":
                    continue
                message = event_message(event)
                if predicate is None or predicate(message):
                    return message
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"@{self.username}: no matching bot message within {timeout}s")
            waiter: asyncio.Future[None] = loop.create_future()
            chat.waiters.append(waiter)
            await asyncio.wait({waiter}, timeout=remaining)
            if not waiter.done():
                waiter.cancel()
                chat.waiters.remove(waiter)

    # --- actions --------------------------------------------------------------------------------

    async def push(
        self, update: JsonDict, *, wait: bool = True, timeout: float = 10
    ) -> list[BotMessage]:
        """Push any update; with `wait`, return the bot's outputs in this chat once processed."""
        start = self.checkpoint()
        update_id = self._emulator.push_update(self._token, update)
        if not wait:
            return []
        await self._emulator.wait_processed(self._token, update_id, timeout)
        await self._emulator.settle(self._token)
        self._cursor = self.checkpoint()
        return self.outputs_since(start)

    async def send_message(
        self, content: JsonDict, *, wait: bool = True, timeout: float = 10
    ) -> list[BotMessage]:
        """Send a message with arbitrary content (text, photo, document, location, ...)."""
        data = self._emulator.incoming_message(self._token, self._record, content)
        return await self.push({"message": data}, wait=wait, timeout=timeout)

    async def send(self, text: str, *, wait: bool = True, timeout: float = 10) -> list[BotMessage]:
        content: JsonDict = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        return await self.send_message(content, wait=wait, timeout=timeout)

    async def open_link(
        self, payload: str, *, wait: bool = True, timeout: float = 10
    ) -> list[BotMessage]:
        """Open t.me/<bot>?start=<payload>: the client sends "/start <payload>"."""
        return await self.send(f"/start {payload}", wait=wait, timeout=timeout)

    async def share_location(
        self, latitude: float, longitude: float, *, wait: bool = True, timeout: float = 10
    ) -> list[BotMessage]:
        location = {"latitude": latitude, "longitude": longitude}
        return await self.send_message({"location": location}, wait=wait, timeout=timeout)

    async def upload(
        self,
        path_or_bytes: bytes | str | Path,
        *,
        filename: str | None = None,
        caption: str | None = None,
        mime_type: str | None = None,
        wait: bool = True,
        timeout: float = 10,
    ) -> list[BotMessage]:
        """Send a document; the file is stored so the bot can getFile and download it."""
        if isinstance(path_or_bytes, bytes):
            data, name = path_or_bytes, filename or "file.bin"
        else:
            path = Path(path_or_bytes)
            data = await asyncio.to_thread(path.read_bytes)
            name = filename or path.name
        mime = mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        file = self._emulator.store_file(data, kind="document", file_name=name, mime_type=mime)
        content: JsonDict = {
            "document": {
                "file_id": file.file_id,
                "file_unique_id": file.file_unique_id,
                "file_name": name,
                "mime_type": mime,
                "file_size": file.size,
            }
        }
        if caption:
            content["caption"] = caption
        return await self.send_message(content, wait=wait, timeout=timeout)

    async def send_photo(
        self,
        photo: bytes | str | Path | None = None,
        *,
        caption: str | None = None,
        width: int = 1280,
        height: int = 960,
        wait: bool = True,
        timeout: float = 10,
    ) -> list[BotMessage]:
        if photo is None:
            data = _PHOTO_BYTES
        elif isinstance(photo, bytes):
            data = photo
        else:
            data = await asyncio.to_thread(Path(photo).read_bytes)
        file = self._emulator.store_file(data, kind="photo", mime_type="image/jpeg")
        sizes = [
            {
                "file_id": file.file_id,
                "file_unique_id": file.file_unique_id,
                "file_size": file.size,
                "width": width,
                "height": height,
            }
        ]
        content: JsonDict = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return await self.send_message(content, wait=wait, timeout=timeout)

    async def send_video(
        self,
        video: bytes | None = None,
        *,
        caption: str | None = None,
        duration: int = 5,
        wait: bool = True,
        timeout: float = 10,
    ) -> list[BotMessage]:
        file = self._emulator.store_file(
            video or _VIDEO_BYTES, kind="video", file_name="clip.mp4", mime_type="video/mp4"
        )
        clip: JsonDict = {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "width": 1280,
            "height": 720,
            "duration": duration,
            "file_name": "clip.mp4",
            "mime_type": "video/mp4",
            "file_size": file.size,
        }
        content: JsonDict = {"video": clip}
        if caption:
            content["caption"] = caption
        return await self.send_message(content, wait=wait, timeout=timeout)

    async def send_sticker(
        self, emoji: str = "👍", *, wait: bool = True, timeout: float = 10
    ) -> list[BotMessage]:
        file = self._emulator.store_file(_STICKER_BYTES, kind="sticker", mime_type="image/webp")
        sticker = {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": file.size,
        }
        return await self.send_message({"sticker": sticker}, wait=wait, timeout=timeout)

    async def send_voice(
        self, duration: int = 2, *, wait: bool = True, timeout: float = 10
    ) -> list[BotMessage]:
        file = self._emulator.store_file(_VOICE_BYTES, kind="voice", mime_type="audio/ogg")
        voice = {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": file.size,
        }
        return await self.send_message({"voice": voice}, wait=wait, timeout=timeout)

    async def press_data(
        self,
        data: str,
        *,
        message: BotMessage | None = None,
        wait: bool = True,
        timeout: float = 10,
    ) -> list[BotMessage]:
        """Send a callback query with arbitrary `data` from `message` (default: the last bot
        message): what a forged or stale client could send, for tests of the bot's checks."""
        chat = self._chat()
        target = message or self.last
        if target is None:
            raise LookupError(f"no bot message in @{self.username}'s chat to press on")
        record = chat.messages.get(target.message_id)
        if record is None or not record.from_bot:
            raise LookupError(f"message {target.message_id} is not a bot message in the chat")
        return await self._callback(chat, record, data, wait, timeout)

    async def tap(
        self,
        button: int | str,
        *,
        message: BotMessage | None = None,
        wait: bool = True,
        timeout: float = 10,
    ) -> list[BotMessage]:
        """Press a button: int = 1-based position in reading order, str = label (exact, then
        case-insensitive, then unique prefix). Default: the newest keyboard in the chat, inline
        or reply; a label not found there is looked up in the other one."""
        chat = self._chat()
        sources = self._keyboards(chat, message)
        found: tuple[Button, MessageRecord] | None = None
        for index, (record, rows) in enumerate(sources):
            if isinstance(button, int) and index > 0:
                break
            hit = _find_button(rows, button)
            if hit is not None:
                found = (hit, record)
                break
        if found is None:
            labels = [b.text for _, rows in sources for row in rows for b in row]
            raise LookupError(f"no button {button!r} for @{self.username}; available: {labels}")
        hit, record = found
        if hit.kind == "reply":
            if hit.request_location:
                return await self.share_location(*DEFAULT_LOCATION, wait=wait, timeout=timeout)
            return await self.send(hit.text, wait=wait, timeout=timeout)
        if hit.callback_data is not None:
            return await self._callback(chat, record, hit.callback_data, wait, timeout)
        if hit.pay:
            return await self.pay(message=record_message(record), timeout=timeout)
        if hit.url:
            payload = self._start_payload(hit.url)
            if payload is not None:
                return await self.open_link(payload, wait=wait, timeout=timeout)
        # URL, web app, copy-text buttons: the client handles them, the bot sees nothing.
        return []

    def _keyboards(
        self, chat: ChatState, message: BotMessage | None
    ) -> list[tuple[MessageRecord, list[list[Button]]]]:
        if message is not None:
            record = chat.messages.get(message.message_id)
            if record is None or record.deleted or not record.from_bot:
                raise LookupError(f"message {message.message_id} is not in the chat any more")
            return [(record, record_message(record).buttons)]
        sources: list[tuple[int, MessageRecord, list[list[Button]]]] = []
        for record in reversed(chat.messages.values()):
            if record.from_bot and not record.deleted and record.data.get("reply_markup"):
                sources.append((record.data["message_id"], record, record_message(record).buttons))
                break
        keyboard_id = chat.reply_keyboard_message_id
        if chat.reply_keyboard is not None and keyboard_id is not None:
            record = chat.messages[keyboard_id]
            rows = record_message(record).buttons
            sources.append((keyboard_id, record, rows))
        sources.sort(key=lambda source: source[0], reverse=True)
        return [(record, rows) for _, record, rows in sources]

    def _start_payload(self, url: str) -> str | None:
        username = re.escape(self._emulator.bot_username(self._token))
        match = re.match(rf"^(?:https?://)?t\.me/{username}\?start=([\w-]*)$", url, re.IGNORECASE)
        return match.group(1) if match else None

    async def _callback(
        self, chat: ChatState, record: MessageRecord, data: str, wait: bool, timeout: float
    ) -> list[BotMessage]:
        state = self._emulator.bot_state(self._token)
        query_id = f"{self.user_id}{self._emulator.next_id():06d}"
        state.callback_queries[query_id] = CallbackRecord(self.user_id, chat.chat_id)
        query = {
            "id": query_id,
            "from": self._record.as_json(),
            "message": record.data,
            "chat_instance": str((state.bot_id * 1_000_003 + chat.chat_id) % 10**18),
            "data": data,
        }
        return await self.push({"callback_query": query}, wait=wait, timeout=timeout)

    async def pay(self, *, message: BotMessage | None = None, timeout: float = 10) -> PaymentResult:
        """Pay an invoice (default: the newest one): pre-checkout, then successful_payment."""
        chat = self._chat()
        record: MessageRecord | None = None
        if message is not None:
            record = chat.messages.get(message.message_id)
        else:
            for candidate in reversed(chat.messages.values()):
                if candidate.invoice is not None and not candidate.deleted:
                    record = candidate
                    break
        if record is None or record.invoice is None or record.deleted:
            raise LookupError(f"no invoice to pay for @{self.username}")
        invoice = record.invoice
        start = self.checkpoint()
        query_id = f"{self.user_id}{self._emulator.next_id():06d}"
        answer = self._emulator.expect_pre_checkout(self._token, query_id, self.user_id)
        query = {
            "id": query_id,
            "from": self._record.as_json(),
            "currency": invoice["currency"],
            "total_amount": invoice["total_amount"],
            "invoice_payload": invoice["payload"],
        }
        update_id = self._emulator.push_update(self._token, {"pre_checkout_query": query})
        try:
            ok, error_message = await asyncio.wait_for(answer, timeout)
        except TimeoutError:
            self._emulator.bot_state(self._token).pre_checkouts.pop(query_id, None)
            ok, error_message = False, "pre-checkout query was not answered in time"
        else:
            await self._emulator.wait_processed(self._token, update_id, timeout)
        if not ok:
            await self._emulator.settle(self._token)
            self._cursor = self.checkpoint()
            return PaymentResult(self.outputs_since(start), ok=False, error_message=error_message)
        charge_id = f"stxEMU{self._emulator.next_id():08d}"
        self._emulator.record_charge(
            self._token,
            charge_id,
            ChargeRecord(
                user_id=self.user_id,
                currency=invoice["currency"],
                total_amount=invoice["total_amount"],
                payload=invoice["payload"],
            ),
        )
        payment = {
            "currency": invoice["currency"],
            "total_amount": invoice["total_amount"],
            "invoice_payload": invoice["payload"],
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": ""
            if invoice["currency"] == "XTR"
            else f"prov_{charge_id}",
        }
        await self.send_message({"successful_payment": payment}, timeout=timeout)
        return PaymentResult(
            self.outputs_since(start), ok=True, telegram_payment_charge_id=charge_id
        )

    def _member_update(self, old: str, new: str) -> int:
        bot_user = self._emulator.bot_state(self._token).bot_user
        new_member: JsonDict = {"user": bot_user, "status": new}
        if new == "kicked":
            new_member["until_date"] = 0
        old_member: JsonDict = {"user": bot_user, "status": old}
        if old == "kicked":
            old_member["until_date"] = 0
        update = {
            "my_chat_member": {
                "chat": self._record.chat_json(),
                "from": self._record.as_json(),
                "date": now_unix(),
                "old_chat_member": old_member,
                "new_chat_member": new_member,
            }
        }
        return self._emulator.push_update(self._token, update)

    def block(self) -> int:
        """Block the bot: sends then fail with 403; the bot gets my_chat_member (kicked)."""
        self._chat().blocked = True
        return self._member_update("member", "kicked")

    def unblock(self) -> int:
        self._chat().blocked = False
        return self._member_update("kicked", "member")


def _describe(message: BotMessage) -> str:
    if message.kind == "text":
        return message.text
    if message.kind == "invoice" and message.invoice is not None:
        inv = message.invoice
        return f"[invoice] {inv.title}: {inv.description} ({inv.total_amount} {inv.currency})"
    if message.kind == "location" and message.location is not None:
        return f"[location {message.location[0]}, {message.location[1]}]"
    label = f"{message.kind} {message.file_name}" if message.file_name else message.kind
    return f"[{label}] {message.text}".rstrip()


def render(outputs: Iterable[BotMessage], username: str) -> str:
    """Outputs as the shell prints them: `<- @username: text` (`(edited)` for edits), then the
    buttons as `[N] label`, one keyboard row a line, N counting in reading order."""
    name = username.removeprefix("@")
    lines: list[str] = []
    for message in outputs:
        suffix = " (edited)" if message.event == "edit" else ""
        lines.append(f"<- @{name}{suffix}: {_describe(message)}")
        number = 0
        for row in message.buttons:
            cells = []
            for button in row:
                number += 1
                cells.append(f"[{number}] {button.text}")
            lines.append("   " + "  ".join(cells))
    return "\n".join(lines)
