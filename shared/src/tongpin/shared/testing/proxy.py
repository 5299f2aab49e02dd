"""A TCP proxy tests can cut and restore, to take a server away from one service without stopping it."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit

from tongpin.shared.testing.services import free_port


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, stall_after: int | None = None) -> None:
        """``stall_after``: after that many chunks from clients, forward nothing more either way (a server
        that stops answering, as a broker does while it stops); ``stalled`` is set then, and ``cut`` ends it."""
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._stall_after = stall_after
        self._client_chunks = 0
        self.stalled = asyncio.Event()

    @classmethod
    async def to(cls, url: str, *, stall_after: int | None = None) -> TcpProxy:
        """A started proxy in front of the server a URL names."""
        parts = urlsplit(url)
        return await cls(parts.hostname or "127.0.0.1", parts.port or 0, stall_after=stall_after).start()

    def route(self, url: str) -> str:
        """The URL, credentials kept, pointing at this proxy instead."""
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        auth = f"{netloc[0]}@" if len(netloc) == 2 else ""
        return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{self.port}"))

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self._writers.update({client_writer, upstream_writer})
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer, from_client=True),
            self._pipe(upstream_reader, client_writer, from_client=False),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, from_client: bool) -> None:
        try:
            while data := await reader.read(65536):
                if from_client:
                    self._client_chunks += 1
                    if self._stall_after is not None and self._client_chunks > self._stall_after:
                        self.stalled.set()
                if self.stalled.is_set():
                    continue
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            writer.close()

    async def cut(self) -> None:
        """Refuse new connections and drop every open one."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.cut()
