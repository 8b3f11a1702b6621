"""Count PostgreSQL round trips exactly: a TCP proxy in front of the server that reads the
frontend protocol and counts the messages the client then waits on — ``Sync`` (the end of an
extended-protocol exchange: Parse/Bind/Execute …) and ``Query`` (a simple query such as
``BEGIN``) — one round trip each. Everything goes through it, whichever driver or pool (the
SQLAlchemy engine, the bot's asyncpg claims pool), in this process or another one.

    async with RoundTripCounter("127.0.0.1", 5432) as counter:
        url = url.set(host=counter.host, port=counter.port)
        ...
        before = counter.round_trips
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_CANCEL_REQUEST = 80877102


class RoundTripCounter:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = "127.0.0.1"
        self.port = 0
        self.round_trips = 0
        self.statements: list[str] = []  # the message types counted, in order ('S' / 'Q')
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RoundTripCounter:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            return
        self._spawn(self._pipe(server_r, client_w))
        try:
            await self._frontend(client_r, server_w)
        finally:
            server_w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _frontend(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            # Startup: untyped messages (length, code) until the StartupMessage itself.
            while True:
                head = await reader.readexactly(8)
                length, code = struct.unpack("!ii", head)
                body = await reader.readexactly(length - 8)
                writer.write(head + body)
                await writer.drain()
                if code == _CANCEL_REQUEST:
                    return
                if code not in (_SSL_REQUEST, _GSSENC_REQUEST):
                    break
            # Typed messages: one type byte, then a length that counts itself.
            while True:
                head = await reader.readexactly(5)
                kind = head[:1]
                (length,) = struct.unpack("!i", head[1:])
                body = await reader.readexactly(length - 4)
                if kind in (b"S", b"Q"):
                    self.round_trips += 1
                    self.statements.append(kind.decode())
                writer.write(head + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
