"""Error capture: whatever goes wrong while handling an update, the person gets a short
message in their language (with a reference code when it was our fault), the error is
recorded (ERROR / ERROR_OCCURRENCE) and the bot goes on with the next update.

Domain refusals are answered without being recorded as errors: NotAllowed writes a
PERMISSION_DENIED security event (committed apart, since the update's transaction rolls back),
NotFound and InvalidInput say what is wrong. A handler that runs longer than the timeout is
cancelled and treated like an exception (HANDLER_TIMEOUT).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.types import Chat, TelegramObject, Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import N_, CatalogI18n
from bot.middlewares.locale import guess_locale
from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.services.audit import record_security_event
from domain.services.errors import record_error_in_new_transaction
from domain.services.users import UserContext

logger = logging.getLogger(__name__)

_PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


def error_source(error: BaseException) -> str:
    """`module:function` of the innermost frame of our own code in the traceback (groups
    occurrences of one bug however the message varies)."""
    source = type(error).__name__
    for frame in traceback.extract_tb(error.__traceback__):
        path = Path(frame.filename)
        if path.is_relative_to(_PROJECT_ROOT) and "site-packages" not in path.parts:
            module = ".".join(path.relative_to(_PROJECT_ROOT).with_suffix("").parts)
            source = f"{module}:{frame.name}"
    return source


def update_context(event: TelegramObject) -> dict[str, Any]:
    """What is worth keeping about the update on the occurrence (never shown to users)."""
    if not isinstance(event, Update):
        return {}
    context: dict[str, Any] = {"update_id": event.update_id, "update_type": event.event_type}
    if event.message is not None and event.message.text:
        context["text"] = event.message.text[:200]
    if event.callback_query is not None and event.callback_query.data:
        context["callback_data"] = event.callback_query.data
    return context


class ErrorMiddleware(BaseMiddleware):
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        i18n: CatalogI18n,
        *,
        handler_timeout: float = 30.0,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.i18n = i18n
        self.handler_timeout = handler_timeout
        self.on_error = on_error  # metrics hook: called with the error kind

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            async with asyncio.timeout(self.handler_timeout):
                return await handler(event, data)
        except NotAllowed as refusal:
            await self._denied(refusal, data)
            await self._tell(data, self._t(data, N_("Sorry, you are not allowed to do that.")))
        except NotFound:
            await self._tell(
                data, self._t(data, N_("I could not find that: it may have been removed."))
            )
        except InvalidInput:
            await self._tell(
                data,
                self._t(data, N_("That does not look right. Please check it and try again.")),
            )
        except TimeoutError as error:
            await self._record(event, data, error, code="HANDLER_TIMEOUT", kind="timeout")
        except TelegramForbiddenError as error:
            # The person blocked the bot: nobody to tell.
            await self._record(event, data, error, code="TELEGRAM_API", kind="telegram_api")
        except Exception as error:  # the bot must survive any handler bug
            code = "TELEGRAM_API" if isinstance(error, TelegramAPIError) else "UNHANDLED_EXCEPTION"
            await self._record(event, data, error, code=code, kind="exception")
        return None

    @staticmethod
    def _surviving_user_id(data: dict[str, Any]) -> Any:
        """The user's id, unless the user was created by this update: the rollback removed
        them, and the record must not point at a row that no longer exists."""
        user: UserContext | None = data.get("user")
        return user.user_id if user is not None and not user.is_new else None

    def _t(self, data: dict[str, Any], message: str) -> str:
        return self.i18n.gettext(message, locale=guess_locale(data, self.i18n.default_locale))

    async def _record(
        self,
        event: TelegramObject,
        data: dict[str, Any],
        error: BaseException,
        *,
        code: str,
        kind: str,
    ) -> None:
        if self.on_error is not None:
            self.on_error(kind)
        trace = "".join(traceback.format_exception(error))
        logger.error("update failed (%s): %s", code, trace)
        reference: str | None = None
        try:
            recorded = await record_error_in_new_transaction(
                self.session_factory,
                code=code,
                source=error_source(error),
                message=f"{type(error).__name__}: {error}",
                user_id=self._surviving_user_id(data),
                context=update_context(event),
                trace=trace,
            )
            reference = recorded.reference_code
        except Exception:  # the database may be what failed
            logger.exception("could not record the error")
        if isinstance(error, TelegramForbiddenError):
            return
        if reference is None:
            text = self._t(data, N_("Sorry, something went wrong on our side. Please try again."))
        else:
            text = self._t(
                data,
                N_(
                    "Sorry, something went wrong on our side. It has been recorded "
                    "(reference {reference}). Please try again in a moment."
                ),
            ).format(reference=reference)
        await self._tell(data, text)

    async def _denied(self, refusal: NotAllowed, data: dict[str, Any]) -> None:
        try:
            async with self.session_factory() as session, session.begin():
                await record_security_event(
                    session,
                    "PERMISSION_DENIED",
                    user_id=self._surviving_user_id(data),
                    details={"reason": str(refusal), **refusal.params},
                )
        except Exception:  # a refusal must still be answered
            logger.exception("could not record the permission denial")

    async def _tell(self, data: dict[str, Any], text: str) -> None:
        chat: Chat | None = data.get("event_chat")
        bot: Bot | None = data.get("bot")
        if chat is None or bot is None:
            return
        try:
            await bot.send_message(chat.id, text)
        except TelegramAPIError:
            logger.warning("could not send the error message to chat %s", chat.id)
