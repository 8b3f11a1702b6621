"""A local Telegram Bot API server (aiohttp) that the unchanged aiogram client talks to.

    emulator = BotApiEmulator()
    base = await emulator.start()
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    alice = emulator.user("alice")
    outputs = await alice.send("/start")

Routes: `/bot{token}/{method}` (any HTTP method, names case-insensitive),
`/file/bot{token}/{file_path}` (downloads), and the JSON control API under `/_emulator/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import socket
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.hdrs import CONTENT_TYPE

from bot.emulator.core import TOKEN_RE, now_unix
from bot.emulator.driver import BotMessage, EmulatedUser, message_json, record_message
from bot.emulator.methods import BotApiMethods
from bot.emulator.state import BotState, JsonDict, QueuedUpdate, Upload

__all__ = ["BotApiEmulator"]

log = logging.getLogger(__name__)

MAX_REQUEST_SIZE = 64 * 1024 * 1024  # above Telegram's 50 MB upload limit
# Parameters whose form values are JSON-serialized objects (aiogram sends them that way).
_JSON_KEYS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "prices",
        "reply_parameters",
        "link_preview_options",
        "allowed_updates",
        "suggested_tip_amounts",
        "media",
        "results",
        "menu_button",
        "permissions",
        "rights",
        "reaction",
    }
)
# Parameters that stay strings even when they look like numbers or booleans.
_STR_KEYS = frozenset(
    {
        "text",
        "caption",
        "title",
        "description",
        "short_description",
        "name",
        "payload",
        "currency",
        "url",
        "secret_token",
        "callback_query_id",
        "pre_checkout_query_id",
        "inline_message_id",
        "file_id",
        "parse_mode",
        "language_code",
        "action",
        "error_message",
        "telegram_payment_charge_id",
        "start_parameter",
        "provider_token",
        "provider_data",
        "photo",
        "document",
        "voice",
        "sticker",
        "emoji",
    }
)
_INT_RE = re.compile(r"^-?\d{1,19}$")
_FLOAT_RE = re.compile(r"^-?\d+\.\d*(?:[eE][-+]?\d+)?$")
_dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def decode_value(key: str, value: str) -> Any:
    """A form/query string value as the typed value Telegram would read."""
    if key in _STR_KEYS:
        return value
    if key in _JSON_KEYS:
        try:
            return json.loads(value)
        except ValueError:
            return value  # the method reports "can't parse ... JSON object"
    if value == "true":
        return True
    if value == "false":
        return False
    if _INT_RE.match(value):
        return int(value)
    if _FLOAT_RE.match(value):
        return float(value)
    return value


def build_params(fields: dict[str, str], uploads: dict[str, Upload]) -> JsonDict:
    """Decode string fields and resolve `attach://name` references to uploaded parts."""
    params: JsonDict = {key: decode_value(key, value) for key, value in fields.items()}
    if uploads:
        attached: set[str] = set()
        for key, value in params.items():
            if isinstance(value, str) and value.startswith("attach://"):
                name = value[len("attach://") :]
                if name in uploads:
                    params[key] = uploads[name]
                    attached.add(name)
        for name, upload in uploads.items():
            if name not in attached and name not in params:
                params[name] = upload
    return params


async def read_params(request: web.Request) -> JsonDict:
    """Parameters from the query string and a urlencoded, multipart or JSON body."""
    fields: dict[str, str] = dict(request.query) if request.query_string else {}
    uploads: dict[str, Upload] = {}
    if request.body_exists:
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                params = build_params(fields, uploads)
                params.update(body)
                return params
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    fields[key] = value
                elif isinstance(value, web.FileField):
                    uploads[key] = Upload(
                        filename=value.filename,
                        content_type=value.content_type,
                        data=value.file.read(),
                    )
                else:
                    fields[key] = bytes(value).decode()
    return build_params(fields, uploads)


def _json_response(body: JsonDict, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def _connection_error(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "Connection refused"
    if isinstance(exc, TimeoutError):
        return "Read timeout expired"
    return f"{type(exc).__name__}: {exc}"


class BotApiEmulator(BotApiMethods):
    """A Telegram Bot API server for any number of bot tokens (state is per token)."""

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
        super().__init__(
            send_rate=send_rate,
            per_chat_rate=per_chat_rate,
            webhook_retry_base=webhook_retry_base,
            webhook_retry_max=webhook_retry_max,
            max_calls=max_calls,
            settle_time=settle_time,
            clock=clock,
        )
        self._drivers: dict[tuple[str, str], EmulatedUser] = {}
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._http: aiohttp.ClientSession | None = None
        self.app = web.Application(client_max_size=MAX_REQUEST_SIZE)
        self.app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        self.app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        self.app.router.add_get("/_emulator/stats", self._control_stats)
        self.app.router.add_post("/_emulator/config", self._control_config)
        self.app.router.add_get("/_emulator/users/{username}/messages", self._control_messages)
        self.app.router.add_post("/_emulator/users/{username}", self._control_create_user)
        self.app.router.add_post("/_emulator/users/{username}/{action}", self._control_action)
        self.app.on_shutdown.append(self._on_shutdown)

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = any free port); returns the base URL for TelegramAPIServer."""
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        # Cancelling handlers on disconnect ends long polls of stopped dispatchers at once.
        runner = web.AppRunner(
            self.app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner
        self._base_url = f"http://{host}:{sock.getsockname()[1]}"
        return self._base_url

    async def stop(self) -> None:
        await self._on_shutdown(self.app)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._base_url = None

    async def _on_shutdown(self, app: web.Application) -> None:
        tasks = []
        for state in self._bots.values():
            self._end_poll(state, None)
            task = state.webhook_task
            if task is not None:
                task.cancel()
                tasks.append(task)
                state.webhook_task = None
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("emulator not started")
        return self._base_url

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- users ----------------------------------------------------------------------------------

    def user(
        self,
        username: str,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        user_id: int | None = None,
        token: str | None = None,
    ) -> EmulatedUser:
        """Create or get a user (ids from 100000001 up, deterministic) talking to bot `token`
        (default: `default_token`). Given fields update an existing user; language_code
        defaults to "en" for a new one."""
        record = self.user_record(
            username, first_name=first_name, language_code=language_code, user_id=user_id
        )
        token = token or self.default_token
        self.bot_state(token)  # a malformed token fails here, not at the first message
        key = (token, record.username)
        driver = self._drivers.get(key)
        if driver is None:
            driver = self._drivers[key] = EmulatedUser(self, token, record)
        return driver

    def messages(self, chat_id: int, token: str | None = None) -> list[BotMessage]:
        """The bot's messages in a chat, current state (edits applied, deleted ones flagged)."""
        return [record_message(record) for record in self.message_records(chat_id, token)]

    # --- Bot API over HTTP ------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if TOKEN_RE.match(token) is None:
            return _json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, 401
            )
        try:
            params = await read_params(request)
        except web.HTTPRequestEntityTooLarge:
            body = {"ok": False, "error_code": 413, "description": "Request Entity Too Large"}
            return _json_response(body, 413)
        except ValueError as exc:  # includes UnicodeDecodeError
            body = {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}
            return _json_response(body, 400)
        try:
            status, body = await self.invoke(token, request.match_info["method"], params)
        except Exception as exc:
            log.exception("emulator: %s failed", request.match_info["method"])
            status = 500
            body = {
                "ok": False,
                "error_code": 500,
                "description": f"Internal Server Error: {type(exc).__name__}: {exc}",
            }
        return _json_response(body, status)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        file = self.file_by_path(request.match_info["file_path"])
        if TOKEN_RE.match(token) is None or file is None or file.data is None:
            return _json_response({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        return web.Response(
            body=file.data, content_type=file.mime_type or "application/octet-stream"
        )

    # --- webhooks -------------------------------------------------------------------------------

    def _webhook_changed(self, state: BotState) -> None:
        task = state.webhook_task
        if state.webhook_url:
            if task is None or task.done():
                state.webhook_task = asyncio.get_running_loop().create_task(
                    self._webhook_loop(state), name=f"emulator-webhook-{state.bot_id}"
                )
            else:
                # A new setWebhook retries at once instead of finishing the current backoff.
                for future in (state.webhook_wakeup, state.webhook_reset):
                    if future is not None and not future.done():
                        future.set_result(None)
        elif task is not None:
            state.webhook_task = None
            if task is not asyncio.current_task():
                task.cancel()

    def _http_session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self._http

    async def _webhook_loop(self, state: BotState) -> None:
        """Deliver queued updates one at a time, in order; retry failures with backoff."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while state.webhook_url and state.webhook_task is asyncio.current_task():
            queue = state.queue
            while queue and (queue[0].skip or not state.allows(queue[0].kind)):
                self._processed(state, queue.popleft())
            if not queue:
                wakeup = state.webhook_wakeup = loop.create_future()
                await wakeup
                continue
            entry = queue[0]
            try:
                error = await self._post_update(state, entry)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("emulator: webhook delivery failed")
                error = f"{type(exc).__name__}: {exc}"
            if error is None:
                attempt = 0
                continue
            state.last_error_date = now_unix()
            state.last_error_message = error
            delay = min(self.webhook_retry_max, self.webhook_retry_base * 2**attempt)
            attempt += 1
            reset = state.webhook_reset = loop.create_future()
            await asyncio.wait({reset}, timeout=delay)
            if reset.done():
                attempt = 0

    async def _post_update(self, state: BotState, entry: QueuedUpdate) -> str | None:
        """POST one update; None when it was accepted (2xx), else the error to record."""
        headers: dict[str, str] = {CONTENT_TYPE: "application/json"}
        if state.webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = state.webhook_secret
        reply: tuple[str, JsonDict] | None = None
        try:
            async with self._http_session().post(
                state.webhook_url, data=_dumps(entry.payload), headers=headers
            ) as response:
                if not 200 <= response.status < 300:
                    return f"Wrong response from the webhook: {response.status} {response.reason}"
                reply = await _read_webhook_reply(response)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return _connection_error(exc)
        if reply is not None:
            # aiogram's "reply in webhook response": Telegram executes it as a call.
            method, params = reply
            status, body = await self.invoke(state.token, method, params)
            if status != 200:
                log.info("emulator: webhook reply %s failed: %s", method, body.get("description"))
        if state.queue and state.queue[0] is entry:
            state.queue.popleft()
            self._processed(state, entry)
        return None

    # --- control API ----------------------------------------------------------------------------

    def _control_token(self, request: web.Request) -> str:
        return request.query.get("token") or self.default_token

    async def _control_stats(self, request: web.Request) -> web.Response:
        return _json_response(self.stats(self._control_token(request)))

    async def _control_config(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        changes: dict[str, float | None] = {}
        for key in ("send_rate", "per_chat_rate"):
            if key in body:
                value = body[key]
                if value is not None and not isinstance(value, int | float):
                    return _json_response({"error": f"{key} must be a number or null"}, 400)
                changes[key] = value
        self.configure(**changes)
        return _json_response({"send_rate": self.send_rate, "per_chat_rate": self.per_chat_rate})

    async def _control_messages(self, request: web.Request) -> web.Response:
        user = self.user(request.match_info["username"], token=self._control_token(request))
        return _json_response({"messages": [message_json(m) for m in user.messages]})

    async def _control_create_user(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        user = self.user(
            request.match_info["username"],
            first_name=body.get("first_name"),
            language_code=body.get("language_code"),
            user_id=body.get("user_id"),
            token=self._control_token(request),
        )
        return _json_response(
            {
                "user_id": user.user_id,
                "username": user.username,
                "first_name": user.first_name,
                "language_code": user.language_code,
            }
        )

    async def _control_action(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        user = self.user(request.match_info["username"], token=self._control_token(request))
        action = request.match_info["action"]
        timeout = float(body.get("timeout", 10))
        extra: JsonDict = {}
        try:
            outputs = await self._run_action(user, action, body, timeout, extra)
        except LookupError as exc:
            return _json_response({"error": str(exc)}, 404)
        except (ValueError, TypeError) as exc:
            return _json_response({"error": str(exc)}, 400)
        except TimeoutError as exc:
            return _json_response({"error": str(exc)}, 504)
        return _json_response({"outputs": [message_json(m) for m in outputs], **extra})

    async def _run_action(
        self, user: EmulatedUser, action: str, body: JsonDict, limit: float, extra: JsonDict
    ) -> list[BotMessage]:
        if action == "send":
            return await user.send(_required(body, "text", str), timeout=limit)
        if action == "tap":
            button = body.get("button")
            if not isinstance(button, int | str) or isinstance(button, bool):
                raise ValueError("button must be a number or a label")
            message = None
            if "message_id" in body:
                message = next(
                    (m for m in user.messages if m.message_id == body["message_id"]), None
                )
                if message is None:
                    raise LookupError(f"no bot message {body['message_id']}")
            return await user.tap(button, message=message, timeout=limit)
        if action == "link":
            return await user.open_link(str(body.get("payload", "")), timeout=limit)
        if action == "location":
            return await user.share_location(
                float(body["latitude"]), float(body["longitude"]), timeout=limit
            )
        if action in ("block", "unblock"):
            start = user.checkpoint()
            update_id = user.block() if action == "block" else user.unblock()
            await self.wait_processed(user.token, update_id, limit)
            await self.settle(user.token)
            return user.outputs_since(start)
        if action == "pay":
            result = await user.pay(timeout=limit)
            extra.update(
                ok=result.ok,
                error_message=result.error_message,
                telegram_payment_charge_id=result.telegram_payment_charge_id,
            )
            return result.outputs
        raise LookupError(f"unknown action {action!r}")


def _required(body: JsonDict, key: str, kind: type) -> Any:
    value = body.get(key)
    if not isinstance(value, kind):
        raise ValueError(f"{key} is required ({kind.__name__})")
    return value


async def _json_body(request: web.Request) -> JsonDict:
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def _read_webhook_reply(response: aiohttp.ClientResponse) -> tuple[str, JsonDict] | None:
    """The method in a webhook's 2xx answer: a JSON object or aiogram's multipart form."""
    content_type = response.content_type
    if content_type == "application/json":
        try:
            body = await response.json(content_type=None)
        except ValueError:
            return None
        if isinstance(body, dict) and isinstance(body.get("method"), str):
            return body["method"], {k: v for k, v in body.items() if k != "method"}
        return None
    if not content_type.startswith("multipart/"):
        return None
    reader = aiohttp.MultipartReader(response.headers, response.content)
    fields: dict[str, str] = {}
    uploads: dict[str, Upload] = {}
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            continue
        if part.filename:
            uploads[part.name] = Upload(
                filename=part.filename,
                content_type=part.headers.get(CONTENT_TYPE, "application/octet-stream"),
                data=bytes(await part.read()),
            )
        else:
            fields[part.name] = await part.text()
    method = fields.pop("method", None)
    if method is None:
        return None
    return method, build_params(fields, uploads)
