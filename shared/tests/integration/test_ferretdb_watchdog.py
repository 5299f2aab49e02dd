"""The local FerretDB watches itself: when commands stop getting a PostgreSQL connection (the hang FerretDB 1.24
falls into after an overload, still answering heartbeats), it exits with status 3, which servers.sh takes as
a request to start it again; while PostgreSQL merely answers, it keeps running."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tongpin.shared.testing.chaos import ROOT
from tongpin.shared.testing.services import free_port

pytestmark = pytest.mark.integration

RUN = Path(os.environ.get("TONGPIN_RUN_DIR", ROOT / ".run"))
PG_PORT = os.environ.get("TONGPIN_PG_PORT", "54329")


class FreezingProxy:
    """A TCP proxy to PostgreSQL that can stop passing bytes on: every connection through it, open or new,
    then waits for ever, as FerretDB's pooled connections did when they were taken and never given back."""

    def __init__(self) -> None:
        self.frozen = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", int(PG_PORT))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                while self.frozen:
                    await asyncio.sleep(0.05)
                sink.write(data)
                await sink.drain()
        sink.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def test_a_ferretdb_whose_postgresql_connections_stop_answering_exits_to_be_started_again():
    binary = RUN / "bin" / "tongpin-ferretdb"
    if not binary.exists():
        pytest.skip("needs the FerretDB that deploy/local/servers.sh builds (make test builds it)")
    port = free_port()
    proxy = FreezingProxy()
    proxy_port = await proxy.start()
    process = await asyncio.create_subprocess_exec(
        str(binary), "--listen-addr", f"127.0.0.1:{port}", "--handler", "postgresql", "--log-level", "error",
        "--postgresql-url", f"postgres://tongpin@127.0.0.1:{proxy_port}/ferretdb",
        "--exit-unanswered", "3s", stderr=asyncio.subprocess.PIPE,
    )
    client: AsyncMongoClient[Any] = AsyncMongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=10_000)
    try:
        assert (await client.admin.command("ping"))["ok"] == 1
        await asyncio.sleep(4)  # several of its own pings answered: it keeps running while PostgreSQL answers
        assert process.returncode is None
        proxy.frozen = True  # PostgreSQL still accepts connections but nothing comes back
        assert await asyncio.wait_for(process.wait(), timeout=30) == 3
        assert process.stderr is not None
        assert b"no probe answered" in await process.stderr.read()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await client.close()
        await proxy.close()
