"""The framework floor for bench/bot_bench.py: a bare aiogram bot (no middlewares, no
database) answering /cancel with a fixed text, polling like `motriforge run` does.

    python -m bench.echo_bot API_BASE TOKEN
"""

from __future__ import annotations

import asyncio
import sys

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command
from aiogram.types import Message


async def main(api_base: str, token: str) -> None:
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_base)))
    dispatcher = Dispatcher()

    @dispatcher.message(Command("cancel"))
    async def cancel(message: Message) -> None:
        await message.answer("There is nothing to cancel.")

    await dispatcher.start_polling(bot, handle_as_tasks=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
