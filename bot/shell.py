"""`motriforge shell`: the database, the local Bot API emulator and the bot in one process,
and a chat in the terminal. Without a terminal on stdin it runs a script, one step a line:

    @name [lang]        switch to (and create) that person; lang = Telegram's language code
    tap N | tap <label> press a button of the last bot message
    link <payload>      open a deep link (/start <payload>)
    location LAT LON    share a location
    upload <path>       send a file
    pay                 pay the last invoice
    block | unblock     block or unblock the bot
    # …                 a comment
    anything else       a message

Every bot output is printed as `<- @name: text` followed by its buttons as `[N] label`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TextIO

from bot.app import build_application
from bot.emulator.driver import BotMessage, EmulatedUser, render
from bot.emulator.server import BotApiEmulator
from bot.runtime import app_database, start_polling
from domain.config import Settings

DEFAULT_USER = "me"
HELP = (
    "steps: @name [lang] | tap N | tap <label> | link <payload> | location LAT LON | "
    "upload <path> | pay | block | unblock | /quit; anything else is a message"
)


def read_file(path: Path) -> bytes:
    return path.expanduser().read_bytes()


class Shell:
    def __init__(self, emulator: BotApiEmulator, write: Callable[[str], None]) -> None:
        self.emulator = emulator
        self.write = write
        self.user: EmulatedUser = emulator.user(DEFAULT_USER)

    def show(self, outputs: list[BotMessage]) -> None:
        if outputs:
            self.write(render(outputs, self.user.username))

    async def step(self, line: str) -> bool:
        """Run one step; False when the session should end."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if line in {"/quit", "/exit"}:
            return False
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        try:
            if word.startswith("@") and len(word) > 1:
                self.user = self.emulator.user(word[1:], language_code=rest or None)
            elif word == "tap" and rest:
                self.show(await self.user.tap(int(rest) if rest.isdigit() else rest))
            elif word == "link" and rest:
                self.show(await self.user.open_link(rest))
            elif word == "location" and rest:
                latitude, longitude = (float(part) for part in rest.split())
                self.show(await self.user.share_location(latitude, longitude))
            elif word == "upload" and rest:
                path = Path(shlex.split(rest)[0])
                content = await asyncio.to_thread(read_file, path)
                self.show(await self.user.upload(content, filename=path.name))
            elif line == "pay":
                self.show(await self.user.pay())
            elif line == "block":
                self.user.block()
            elif line == "unblock":
                self.user.unblock()
            else:
                self.show(await self.user.send(line))
        except (LookupError, ValueError, OSError) as problem:
            self.write(f"!! {problem}")
        except TimeoutError:
            self.write("!! the bot did not answer in time")
        return True


@contextlib.asynccontextmanager
async def shell_session(settings: Settings) -> AsyncIterator[Shell]:
    """Database (prepared), emulator and a polling bot; yields a Shell to drive."""
    emulator = BotApiEmulator()
    async with app_database(settings, prepare=True, announce=False) as factory:
        base_url = await emulator.start()
        application = build_application(
            settings, factory, token=BotApiEmulator.default_token, api_base=base_url
        )
        # One update at a time: a step's replies are complete when it is confirmed.
        polling = asyncio.create_task(start_polling(application, handle_as_tasks=False))
        try:
            yield Shell(emulator, print)
        finally:
            await application.dispatcher.stop_polling()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await asyncio.wait_for(polling, timeout=5)
            await emulator.stop()


async def run_shell(settings: Settings, source: TextIO, *, interactive: bool) -> None:
    logging.getLogger("aiogram").setLevel(logging.WARNING)
    async with shell_session(settings) as shell:
        if interactive:
            print(HELP)  # noqa: T201 - the shell talks on stdout
        while True:
            if interactive:
                print(f"@{shell.user.username}> ", end="", flush=True)  # noqa: T201
            line = await asyncio.to_thread(source.readline)
            if not line:
                break
            if not await shell.step(line):
                break
