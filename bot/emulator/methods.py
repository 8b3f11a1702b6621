"""Bot API methods of the emulator, with Telegram's validation rules and error texts."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.emulator.core import (
    MAX_GET_FILE_SIZE,
    EmulatorCore,
    chat_not_found,
    now_unix,
    scope_key,
)
from bot.emulator.formatting import EntityParseError, parse_text
from bot.emulator.state import (
    ApiError,
    BotState,
    CallbackAnswer,
    ChatState,
    FileRecord,
    JsonDict,
    MessageRecord,
    PollWaiter,
    Upload,
    bad_request,
)

__all__ = ["METHOD_NAMES", "BotApiMethods"]

log = logging.getLogger(__name__)

Handler = Callable[[BotState, JsonDict], Awaitable[Any]]

METHOD_NAMES = (
    "getMe",
    "logOut",
    "close",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "deleteMessage",
    "answerCallbackQuery",
    "sendChatAction",
    "sendPhoto",
    "sendVideo",
    "sendDocument",
    "sendLocation",
    "getFile",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "setMyDescription",
    "getMyDescription",
    "setMyShortDescription",
    "getMyShortDescription",
    "setMyName",
    "getMyName",
    "setChatMenuButton",
    "getChatMenuButton",
    "sendInvoice",
    "answerPreCheckoutQuery",
    "refundStarPayment",
    "getChat",
)
# Calls that are not the bot "doing something": excluded from in-flight tracking.
_PASSIVE = frozenset({"getUpdates"})

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
WEBHOOK_CONFLICT = ApiError(
    409,
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first",
)
POLL_CONFLICT = ApiError(
    409,
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
)
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_BUTTON_URL_RE = re.compile(r"^(?:https?|tg)://\S+$|^t\.me/\S+$", re.IGNORECASE)
_PARSE_MODES = frozenset({"html", "markdown", "markdownv2"})
_INT_RE = re.compile(r"^-?\d+$")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_ALL_GIFTS = {
    "unlimited_gifts": True,
    "limited_gifts": True,
    "unique_gifts": True,
    "premium_subscription": True,
    "gifts_from_channels": True,
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# --- parameter access (values arrive as strings from forms, typed from JSON bodies) ------------


def _opt_str(p: JsonDict, key: str) -> str | None:
    value = p.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise bad_request(f"parameter {key} must be a string")


def _opt_int(p: JsonDict, key: str) -> int | None:
    value = p.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad_request(f"parameter {key} must be a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value)
    raise bad_request(f"parameter {key} must be a number")


def _opt_float(p: JsonDict, key: str) -> float | None:
    value = p.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad_request(f"parameter {key} must be a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise bad_request(f"parameter {key} must be a number") from None


def _flag(p: JsonDict, key: str) -> bool:
    value = p.get(key)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _json(p: JsonDict, key: str, what: str) -> Any:
    value = p.get(key)
    if isinstance(value, str):
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {what} JSON object") from None
    return value


class BotApiMethods(EmulatorCore):
    """Bot API methods; `invoke` is the single entry point used by HTTP and webhook replies."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, getattr(self, f"api_{_snake(name)}")) for name in METHOD_NAMES
        }

    async def invoke(self, token: str, method: str, params: JsonDict) -> tuple[int, JsonDict]:
        """Run one API call; returns (HTTP status, response body)."""
        try:
            state = self.bot_state(token)
        except ApiError as exc:
            return exc.code, exc.payload()
        entry = self._methods.get(method.lower())
        if entry is None:
            return 404, {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        name, handler = entry
        self._calls.append((token, name, params))
        methods = state.stats.methods
        methods[name] = methods.get(name, 0) + 1
        active = name not in _PASSIVE
        if active:
            state.inflight += 1
        try:
            result = await handler(state, params)
        except ApiError as exc:
            stats = state.stats
            stats.errors += 1
            if exc.code == 429:
                stats.rate_limited += 1
            elif exc.code == 403:
                stats.forbidden += 1
            return exc.code, exc.payload()
        finally:
            if active:
                state.inflight -= 1
                # Wall-clock monotonic, not self.clock: a frozen test clock must not stall settle().
                state.last_activity = time.monotonic()
        return 200, {"ok": True, "result": result}

    # --- shared validation ----------------------------------------------------------------------

    def _target(self, state: BotState, p: JsonDict, *, sending: bool = True) -> ChatState:
        raw = p.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        if isinstance(raw, bool):
            raise chat_not_found()
        if isinstance(raw, int):
            chat_id = raw
        elif isinstance(raw, str) and _INT_RE.match(raw.strip()):
            chat_id = int(raw)
        else:
            # "@username" only resolves public channels and groups, which are not emulated.
            raise chat_not_found()
        chat = self._chat(state, chat_id)
        if sending and chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _formatted(
        self,
        p: JsonDict,
        key: str,
        entities_key: str,
        *,
        limit: int,
        too_long: str,
        required: bool,
    ) -> tuple[str, list[JsonDict] | None, str]:
        """(plain text, entities or None, raw text) of a text or caption parameter."""
        raw = _opt_str(p, key)
        if raw is None:
            if required:
                raise bad_request("message text is empty")
            return "", None, ""
        given = _json(p, entities_key, "entities")
        if given:
            if not isinstance(given, list):
                raise bad_request("can't parse entities JSON object")
            plain, entities = raw, given
        else:
            parse_mode = _opt_str(p, "parse_mode")
            if parse_mode is not None and parse_mode.lower() not in _PARSE_MODES:
                raise bad_request("unsupported parse_mode")
            try:
                parsed = parse_text(raw, parse_mode)
            except EntityParseError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
            plain, entities = parsed.text, parsed.entities
        if not plain.strip():
            if required:
                raise bad_request("message text is empty")
            return "", None, raw
        if len(plain) > limit:
            raise bad_request(too_long)
        return plain, entities or None, raw

    def _reply_markup(self, p: JsonDict) -> tuple[JsonDict | None, JsonDict | None]:
        """(inline keyboard, other markup) — only inline keyboards appear in Message JSON."""
        markup = _json(p, "reply_markup", "reply keyboard markup")
        if markup is None:
            return None, None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            _check_inline_keyboard(markup["inline_keyboard"])
            return markup, None
        if "keyboard" in markup:
            return None, _normalize_reply_keyboard(markup)
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return None, markup
        raise bad_request("can't parse reply keyboard markup JSON object")

    def _inline_only(self, p: JsonDict) -> JsonDict | None:
        inline, other = self._reply_markup(p)
        if other is not None:
            raise bad_request("inline keyboard expected")
        return inline

    def _reply_to(self, chat: ChatState, p: JsonDict) -> JsonDict | None:
        params = _json(p, "reply_parameters", "reply parameters")
        message_id: int | None = None
        allow_missing = False
        if isinstance(params, dict):
            message_id = _opt_int(params, "message_id")
            allow_missing = _flag(params, "allow_sending_without_reply")
        else:
            message_id = _opt_int(p, "reply_to_message_id")
            allow_missing = _flag(p, "allow_sending_without_reply")
        if message_id is None:
            return None
        record = chat.messages.get(message_id)
        if record is None or record.deleted:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        if "reply_to_message" in record.data:
            # Telegram does not nest replies more than one level.
            return {k: v for k, v in record.data.items() if k != "reply_to_message"}
        return record.data

    def _send(
        self,
        state: BotState,
        chat: ChatState,
        content: JsonDict,
        p: JsonDict,
        *,
        raw_text: str | None,
        invoice: JsonDict | None = None,
    ) -> JsonDict:
        """Validate markup and reply, apply flood control, store and return a bot message."""
        inline, other = self._reply_markup(p)
        reply_to = self._reply_to(chat, p)
        self._check_rate(state, chat)
        message_id = chat.next_message_id()
        data: JsonDict = {
            "message_id": message_id,
            "from": state.bot_user,
            "chat": chat.user.chat_json(),
            "date": now_unix(),
        }
        data.update(content)
        if reply_to is not None:
            data["reply_to_message"] = reply_to
        if inline is not None:
            data["reply_markup"] = inline
        keyboard = other if other is not None and "keyboard" in other else None
        record = MessageRecord(
            data=data, from_bot=True, raw_text=raw_text, reply_keyboard=keyboard, invoice=invoice
        )
        chat.messages[message_id] = record
        if keyboard is not None:
            chat.reply_keyboard = keyboard
            chat.reply_keyboard_message_id = message_id
        elif other is not None and other.get("remove_keyboard"):
            chat.reply_keyboard = None
            chat.reply_keyboard_message_id = None
        state.stats.sent_messages += 1
        self._bot_event(chat, "new", record)
        return data

    def _edit_target(
        self, state: BotState, p: JsonDict, not_found: str = "message to edit not found"
    ) -> tuple[ChatState, MessageRecord]:
        if p.get("inline_message_id"):
            # Inline mode is not emulated, so no inline message can exist.
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._target(state, p)
        message_id = _opt_int(p, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        record = chat.messages.get(message_id)
        if record is None or record.deleted:
            raise bad_request(not_found)
        if not record.from_bot:
            raise bad_request("message can't be edited")
        return chat, record

    def _edited(
        self, state: BotState, chat: ChatState, record: MessageRecord, data: JsonDict
    ) -> JsonDict:
        record.data = data
        record.edited = True
        state.stats.edited_messages += 1
        self._bot_event(chat, "edit", record)
        return data

    def _input_file(self, p: JsonDict, key: str, kind: str) -> FileRecord:
        value = p.get(key)
        if value is None or value == "":
            raise bad_request(f"there is no {key} in the request")
        if isinstance(value, Upload):
            return self.store_file(
                value.data, kind=kind, file_name=value.filename, mime_type=value.content_type
            )
        if isinstance(value, str) and not value.startswith("attach://"):
            known = self.file(value)
            if known is not None:
                return known
            if value.startswith(("http://", "https://")):
                name = value.rstrip("/").rsplit("/", 1)[-1] or None
                return self.store_file(None, kind=kind, file_name=name)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _caption(self, p: JsonDict) -> tuple[JsonDict, str | None]:
        caption, entities, raw = self._formatted(
            p,
            "caption",
            "caption_entities",
            limit=1024,
            too_long="message caption is too long",
            required=False,
        )
        content: JsonDict = {}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return content, raw or None

    # --- getting updates ------------------------------------------------------------------------

    async def api_get_me(self, state: BotState, p: JsonDict) -> Any:
        return {
            **state.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def api_log_out(self, state: BotState, p: JsonDict) -> Any:
        return True

    async def api_close(self, state: BotState, p: JsonDict) -> Any:
        return True

    async def api_get_updates(self, state: BotState, p: JsonDict) -> Any:
        if state.webhook_url:
            raise WEBHOOK_CONFLICT
        offset = _opt_int(p, "offset")
        limit = min(100, max(1, _opt_int(p, "limit") or 100))
        timeout = max(0, min(_opt_int(p, "timeout") or 0, 600))
        allowed = _json(p, "allowed_updates", "allowed updates")
        if isinstance(allowed, list):
            state.allowed_updates = frozenset(str(kind) for kind in allowed) or None
        if offset is not None:
            self._confirm(state, offset)
        # A newer request always wins; the older one answers 409 like Telegram's.
        self._end_poll(state, POLL_CONFLICT)
        batch = self._collect(state, limit)
        if batch or timeout == 0:
            return batch
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waiter = state.poller = PollWaiter(loop.create_future())
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                await asyncio.wait({waiter.future}, timeout=remaining)
                if waiter.outcome is not None:
                    raise waiter.outcome
                if not waiter.future.done() or state.poller is not waiter:
                    return []
                batch = self._collect(state, limit)
                if batch:
                    return batch
                waiter.future = loop.create_future()
        finally:
            if state.poller is waiter:
                state.poller = None

    async def api_set_webhook(self, state: BotState, p: JsonDict) -> Any:
        url = _opt_str(p, "url") or ""
        if url and not url.lower().startswith(("https://", "http://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = _opt_str(p, "secret_token")
        if secret is not None and not _SECRET_RE.match(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = _opt_int(p, "max_connections")
        if max_connections is not None and not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = _json(p, "allowed_updates", "allowed updates")
        if isinstance(allowed, list):
            state.allowed_updates = frozenset(str(kind) for kind in allowed) or None
        if _flag(p, "drop_pending_updates"):
            self._drop_pending(state)
        state.webhook_url = url
        state.webhook_secret = secret if url else None
        state.webhook_max_connections = max_connections or 40
        if url:
            self._end_poll(state, WEBHOOK_CONFLICT)
        self._webhook_changed(state)
        return True

    async def api_delete_webhook(self, state: BotState, p: JsonDict) -> Any:
        if _flag(p, "drop_pending_updates"):
            self._drop_pending(state)
        state.webhook_url = ""
        state.webhook_secret = None
        self._webhook_changed(state)
        return True

    async def api_get_webhook_info(self, state: BotState, p: JsonDict) -> Any:
        info: JsonDict = {
            "url": state.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(state.queue),
        }
        if state.webhook_url:
            info["max_connections"] = state.webhook_max_connections
        if state.last_error_date is not None:
            info["last_error_date"] = state.last_error_date
            info["last_error_message"] = state.last_error_message or ""
        if state.allowed_updates is not None:
            info["allowed_updates"] = sorted(state.allowed_updates)
        return info

    # --- messages -------------------------------------------------------------------------------

    async def api_send_message(self, state: BotState, p: JsonDict) -> Any:
        chat = self._target(state, p)
        text, entities, raw = self._formatted(
            p, "text", "entities", limit=4096, too_long="message is too long", required=True
        )
        content: JsonDict = {"text": text}
        if entities:
            content["entities"] = entities
        link_preview = _json(p, "link_preview_options", "link preview options")
        if isinstance(link_preview, dict) and link_preview:
            content["link_preview_options"] = link_preview
        return self._send(state, chat, content, p, raw_text=raw)

    async def api_edit_message_text(self, state: BotState, p: JsonDict) -> Any:
        chat, record = self._edit_target(state, p)
        old = record.data
        if "text" not in old:
            raise bad_request("there is no text in the message to edit")
        text, entities, raw = self._formatted(
            p, "text", "entities", limit=4096, too_long="message is too long", required=True
        )
        inline = self._inline_only(p)
        if (
            old["text"] == text
            and old.get("entities") == entities
            and old.get("reply_markup") == inline
        ):
            raise bad_request(NOT_MODIFIED)
        data = {k: v for k, v in old.items() if k not in ("entities", "reply_markup")}
        data["text"] = text
        if entities:
            data["entities"] = entities
        if inline is not None:
            data["reply_markup"] = inline
        data["edit_date"] = now_unix()
        record.raw_text = raw
        return self._edited(state, chat, record, data)

    async def api_edit_message_reply_markup(self, state: BotState, p: JsonDict) -> Any:
        chat, record = self._edit_target(state, p)
        inline = self._inline_only(p)
        old = record.data
        if old.get("reply_markup") == inline:
            raise bad_request(NOT_MODIFIED)
        data = {k: v for k, v in old.items() if k != "reply_markup"}
        if inline is not None:
            data["reply_markup"] = inline
        return self._edited(state, chat, record, data)

    async def api_edit_message_caption(self, state: BotState, p: JsonDict) -> Any:
        chat, record = self._edit_target(state, p)
        old = record.data
        if "text" in old or "invoice" in old or "location" in old:
            raise bad_request("there is no caption in the message to edit")
        content, raw = self._caption(p)
        inline = self._inline_only(p)
        if (
            old.get("caption") == content.get("caption")
            and old.get("caption_entities") == content.get("caption_entities")
            and old.get("reply_markup") == inline
        ):
            raise bad_request(NOT_MODIFIED)
        data = {
            k: v for k, v in old.items() if k not in ("caption", "caption_entities", "reply_markup")
        }
        data.update(content)
        if inline is not None:
            data["reply_markup"] = inline
        data["edit_date"] = now_unix()
        record.raw_text = raw
        return self._edited(state, chat, record, data)

    async def api_delete_message(self, state: BotState, p: JsonDict) -> Any:
        chat = self._target(state, p, sending=False)
        message_id = _opt_int(p, "message_id")
        record = chat.messages.get(message_id) if message_id is not None else None
        if record is None or record.deleted:
            raise bad_request("message to delete not found")
        record.deleted = True
        state.stats.deleted_messages += 1
        self._bot_event(chat, "delete", record)
        return True

    async def api_answer_callback_query(self, state: BotState, p: JsonDict) -> Any:
        query_id = _opt_str(p, "callback_query_id")
        query = state.callback_queries.get(query_id) if query_id is not None else None
        if query is None or query.answered or query_id is None:
            raise bad_request(QUERY_TOO_OLD)
        text = _opt_str(p, "text")
        if text is not None and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        chat = state.chats.get(query.chat_id)
        if chat is not None:
            chat.callback_answers.append(
                CallbackAnswer(
                    callback_query_id=query_id,
                    text=text,
                    show_alert=_flag(p, "show_alert"),
                    url=_opt_str(p, "url"),
                    cache_time=_opt_int(p, "cache_time") or 0,
                )
            )
        return True

    async def api_send_chat_action(self, state: BotState, p: JsonDict) -> Any:
        self._target(state, p)
        if _opt_str(p, "action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def api_send_photo(self, state: BotState, p: JsonDict) -> Any:
        chat = self._target(state, p)
        file = self._input_file(p, "photo", "photo")
        content, raw = self._caption(p)
        size = {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": file.size,
            "width": 800,
            "height": 600,
        }
        return self._send(state, chat, {"photo": [size], **content}, p, raw_text=raw)

    async def api_send_video(self, state: BotState, p: JsonDict) -> Any:
        chat = self._target(state, p)
        file = self._input_file(p, "video", "video")
        content, raw = self._caption(p)
        video: JsonDict = {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": file.size,
            "width": 1280,
            "height": 720,
            "duration": 1,
        }
        if file.mime_type:
            video["mime_type"] = file.mime_type
        return self._send(state, chat, {"video": video, **content}, p, raw_text=raw)

    async def api_send_document(self, state: BotState, p: JsonDict) -> Any:
        chat = self._target(state, p)
        file = self._input_file(p, "document", "document")
        content, raw = self._caption(p)
        document: JsonDict = {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": file.size,
        }
        if file.file_name:
            document["file_name"] = file.file_name
        if file.mime_type:
            document["mime_type"] = file.mime_type
        return self._send(state, chat, {"document": document, **content}, p, raw_text=raw)

    async def api_send_location(self, state: BotState, p: JsonDict) -> Any:
        chat = self._target(state, p)
        latitude = _opt_float(p, "latitude")
        longitude = _opt_float(p, "longitude")
        if latitude is None or not -90 <= latitude <= 90:
            raise bad_request("wrong latitude")
        if longitude is None or not -180 <= longitude <= 180:
            raise bad_request("wrong longitude")
        location = {"latitude": latitude, "longitude": longitude}
        return self._send(state, chat, {"location": location}, p, raw_text=None)

    async def api_get_file(self, state: BotState, p: JsonDict) -> Any:
        file_id = _opt_str(p, "file_id")
        file = self.file(file_id) if file_id is not None else None
        if file is None:
            raise bad_request("wrong file_id or the file is temporarily unavailable")
        if file.size > MAX_GET_FILE_SIZE:
            raise bad_request("file is too big")
        return {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": file.size,
            "file_path": file.file_path,
        }

    async def api_get_chat(self, state: BotState, p: JsonDict) -> Any:
        chat = self._target(state, p, sending=False)
        return {
            **chat.user.chat_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": _ALL_GIFTS,
        }

    # --- commands and bot profile ---------------------------------------------------------------

    def _scope(self, p: JsonDict) -> str:
        scope = _json(p, "scope", "BotCommandScope")
        if scope is None:
            return "default"
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
            raise bad_request("can't parse BotCommandScope JSON object")
        return scope_key(scope)

    async def api_set_my_commands(self, state: BotState, p: JsonDict) -> Any:
        commands = _json(p, "commands", "commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        stored: list[JsonDict] = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand JSON object")
            command = str(item.get("command", "")).removeprefix("/")
            description = str(item.get("description", ""))
            if not _COMMAND_RE.match(command):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            stored.append({"command": command, "description": description})
        key = (self._scope(p), _opt_str(p, "language_code") or "")
        if stored:
            state.commands[key] = stored
        else:
            state.commands.pop(key, None)
        return True

    async def api_get_my_commands(self, state: BotState, p: JsonDict) -> Any:
        key = (self._scope(p), _opt_str(p, "language_code") or "")
        return state.commands.get(key, [])

    async def api_delete_my_commands(self, state: BotState, p: JsonDict) -> Any:
        state.commands.pop((self._scope(p), _opt_str(p, "language_code") or ""), None)
        return True

    def _set_text(self, state: BotState, p: JsonDict, field: str, limit: int) -> bool:
        value = _opt_str(p, field) or ""
        if len(value) > limit:
            raise bad_request(f"{field} is too long")
        state.texts[(field, _opt_str(p, "language_code") or "")] = value
        return True

    def _get_text(self, state: BotState, p: JsonDict, field: str) -> JsonDict:
        return {field: state.texts.get((field, _opt_str(p, "language_code") or ""), "")}

    async def api_set_my_description(self, state: BotState, p: JsonDict) -> Any:
        return self._set_text(state, p, "description", 512)

    async def api_get_my_description(self, state: BotState, p: JsonDict) -> Any:
        return self._get_text(state, p, "description")

    async def api_set_my_short_description(self, state: BotState, p: JsonDict) -> Any:
        return self._set_text(state, p, "short_description", 120)

    async def api_get_my_short_description(self, state: BotState, p: JsonDict) -> Any:
        return self._get_text(state, p, "short_description")

    async def api_set_my_name(self, state: BotState, p: JsonDict) -> Any:
        return self._set_text(state, p, "name", 64)

    async def api_get_my_name(self, state: BotState, p: JsonDict) -> Any:
        return self._get_text(state, p, "name")

    async def api_set_chat_menu_button(self, state: BotState, p: JsonDict) -> Any:
        button = _json(p, "menu_button", "menu button")
        if button is not None and (not isinstance(button, dict) or "type" not in button):
            raise bad_request("can't parse menu button JSON object")
        state.menu_button = button or {"type": "default"}
        return True

    async def api_get_chat_menu_button(self, state: BotState, p: JsonDict) -> Any:
        return state.menu_button

    # --- payments -------------------------------------------------------------------------------

    async def api_send_invoice(self, state: BotState, p: JsonDict) -> Any:
        chat = self._target(state, p)
        title = _opt_str(p, "title") or ""
        description = _opt_str(p, "description") or ""
        payload = _opt_str(p, "payload") or ""
        currency = (_opt_str(p, "currency") or "").upper()
        prices = _json(p, "prices", "prices")
        if not 1 <= len(title) <= 32:
            raise bad_request("INVOICE_TITLE_INVALID")
        if not 1 <= len(description) <= 255:
            raise bad_request("INVOICE_DESCRIPTION_INVALID")
        if not 1 <= len(payload.encode()) <= 128:
            raise bad_request("INVOICE_PAYLOAD_INVALID")
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise bad_request("CURRENCY_INVALID")
        if not isinstance(prices, list) or not prices:
            raise bad_request("can't parse prices JSON object")
        total = 0
        for price in prices:
            if not isinstance(price, dict) or not price.get("label"):
                raise bad_request("can't parse prices JSON object")
            amount = _opt_int(price, "amount")
            if amount is None:
                raise bad_request("can't parse prices JSON object")
            total += amount
        if total <= 0:
            raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
        provider_token = _opt_str(p, "provider_token")
        if currency == "XTR" and len(prices) != 1:
            raise bad_request("STARS_INVOICE_INVALID")
        if currency != "XTR" and not provider_token:
            raise bad_request("PAYMENT_PROVIDER_INVALID")
        invoice = {
            "title": title,
            "description": description,
            "start_parameter": _opt_str(p, "start_parameter") or "",
            "currency": currency,
            "total_amount": total,
        }
        private = {**invoice, "payload": payload, "prices": prices}
        return self._send(state, chat, {"invoice": invoice}, p, raw_text=None, invoice=private)

    async def api_answer_pre_checkout_query(self, state: BotState, p: JsonDict) -> Any:
        query_id = _opt_str(p, "pre_checkout_query_id") or ""
        record = state.pre_checkouts.get(query_id)
        if record is None:
            raise bad_request("QUERY_ID_INVALID")
        ok = _flag(p, "ok")
        error_message = _opt_str(p, "error_message")
        if not ok and not error_message:
            raise bad_request("ERROR_MESSAGE_EMPTY")
        del state.pre_checkouts[query_id]
        if not record.future.done():
            record.future.set_result((ok, error_message))
        return True

    async def api_refund_star_payment(self, state: BotState, p: JsonDict) -> Any:
        user_id = _opt_int(p, "user_id")
        charge_id = _opt_str(p, "telegram_payment_charge_id") or ""
        charge = state.charges.get(charge_id)
        if charge is None or charge.user_id != user_id or charge.currency != "XTR":
            raise bad_request("CHARGE_NOT_FOUND")
        if charge.refunded:
            raise bad_request("CHARGE_ALREADY_REFUNDED")
        charge.refunded = True
        return True


def _check_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse inline keyboard markup JSON object")
    for row in rows:
        for button in row:
            if not isinstance(button, dict):
                raise bad_request(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            text = button.get("text")
            if not isinstance(text, str) or not text:
                raise bad_request("can't parse inline keyboard button: Text must be non-empty")
            actions = [key for key in _INLINE_ACTIONS if key in button]
            if not actions:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            if len(actions) > 1:
                raise bad_request(
                    "can't parse inline keyboard button: exactly one of the optional fields "
                    "must be used"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button:
                url = button["url"]
                if not isinstance(url, str) or not _BUTTON_URL_RE.match(url):
                    raise bad_request("BUTTON_URL_INVALID")


def _normalize_reply_keyboard(markup: JsonDict) -> JsonDict:
    rows = markup["keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse reply keyboard markup JSON object")
    keyboard: list[list[JsonDict]] = []
    for row in rows:
        out_row: list[JsonDict] = []
        for button in row:
            if isinstance(button, str):
                button = {"text": button}  # the Bot API allows bare strings
            if not isinstance(button, dict) or not button.get("text"):
                raise bad_request("can't parse keyboard button: Text must be non-empty")
            out_row.append(button)
        keyboard.append(out_row)
    return {**markup, "keyboard": keyboard}
