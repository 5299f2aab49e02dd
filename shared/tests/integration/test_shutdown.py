"""A service stops when asked, even when its loops are woken in the same moment."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from tongpin.shared.runtime import ServiceRuntime
from tongpin.shared.settings import ServiceSettings
from tongpin.shared.testing.proxy import TcpProxy
from tongpin.shared.testing.services import ServiceProcess

pytestmark = pytest.mark.integration


async def test_outbox_relay_woken_as_the_service_stops_still_stops(settings_env, clean_run):
    # The relay waits for "something was staged" or its poll; a write that stages events wakes it.
    # Woken in the same turn of the event loop as the shutdown, or a few turns before, it must stop.
    settings = ServiceSettings(**settings_env("probe", outbox_poll_seconds=30))
    for turns in range(4):
        runtime = ServiceRuntime(settings, indexes={}, outbox_collections=["things"])
        await runtime.start()
        try:
            await asyncio.sleep(0.3)  # the relay has found nothing and waits
            runtime.notify_outbox()
            for _ in range(turns):
                await asyncio.sleep(0)
        finally:
            stopping = asyncio.create_task(runtime.stop())
            done, _ = await asyncio.wait({stopping}, timeout=10)
        assert stopping in done, f"the service did not stop when woken {turns} turns before"


async def test_a_service_whose_start_fails_half_way_exits_instead_of_hanging(settings_env, clean_run, amqp_url,
                                                                             tmp_path):
    # The broker stops answering while the service declares its exchanges and queues, then drops the
    # connection, as RabbitMQ does while it stops. The start fails; the process must exit so that whatever
    # supervises it starts it again. A broker connection left open keeps reconnecting and would hold the
    # process alive, serving nothing, for good.
    proxy = await TcpProxy.to(amqp_url, stall_after=6)
    process = ServiceProcess("intake", settings_env("intake", AMQP_URL=proxy.route(amqp_url), reconnect_seconds=0.5),
                             log_dir=tmp_path)
    proc = process.launch()
    try:
        async with asyncio.timeout(90):
            await proxy.stalled.wait()
        await asyncio.sleep(2.0)
        await proxy.cut()
        try:
            returncode = await asyncio.to_thread(proc.wait, 60)
        except subprocess.TimeoutExpired:
            returncode = None
        assert returncode not in (None, 0), f"the service neither started nor exited; see {process.log_path}"
        assert b"Application startup failed" in process.log_path.read_bytes()
    finally:
        process.kill()
        await proxy.close()
