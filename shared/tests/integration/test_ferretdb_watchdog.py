"""The local FerretDB watches itself: when commands stop getting a PostgreSQL connection (the hang FerretDB 1.24
falls into after an overload, still answering heartbeats), it exits with status 3, which servers.sh takes as
a request to start it again; while PostgreSQL merely answers, it keeps running."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tongpin.shared.testing.chaos import ROOT
from tongpin.shared.testing.proxy import TcpProxy
from tongpin.shared.testing.services import free_port

pytestmark = pytest.mark.integration

RUN = Path(os.environ.get("TONGPIN_RUN_DIR", ROOT / ".run"))
PG_PORT = os.environ.get("TONGPIN_PG_PORT", "54329")


async def test_a_ferretdb_whose_postgresql_connections_stop_answering_exits_to_be_started_again():
    binary = RUN / "bin" / "tongpin-ferretdb"
    if not binary.exists():
        pytest.skip("needs the FerretDB that deploy/local/servers.sh builds (make test builds it)")
    port = free_port()
    # A proxy to PostgreSQL that, once stalled, passes nothing on: every connection through it, open or new,
    # then waits for ever, as FerretDB's pooled connections did when they were taken and never given back.
    proxy = await TcpProxy("127.0.0.1", int(PG_PORT)).start()
    process = await asyncio.create_subprocess_exec(
        str(binary), "--listen-addr", f"127.0.0.1:{port}", "--handler", "postgresql", "--log-level", "error",
        "--postgresql-url", f"postgres://tongpin@127.0.0.1:{proxy.port}/ferretdb",
        "--exit-unanswered", "3s", stderr=asyncio.subprocess.PIPE,
    )
    client: AsyncMongoClient[Any] = AsyncMongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=10_000)
    try:
        assert (await client.admin.command("ping"))["ok"] == 1
        await asyncio.sleep(4)  # several of its own probes answered: it keeps running while PostgreSQL answers
        assert process.returncode is None
        proxy.stalled.set()  # PostgreSQL still accepts connections but nothing comes back
        assert await asyncio.wait_for(process.wait(), timeout=30) == 3
        assert process.stderr is not None
        assert b"no probe answered" in await process.stderr.read()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await client.close()
        await proxy.close()
