"""Running services in tests: in-process (ASGI, real lifespan) or as separate processes."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from fastapi import FastAPI

from tongpin.shared.events import SERVICES
from tongpin.shared.messaging.topology import Names


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Start an app's lifespan (database, broker, consumers) and give an HTTP client for it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as client:
            yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_to_env(values: dict[str, Any]) -> dict[str, str]:
    """Settings keyword arguments as the environment variables a service process reads."""
    env: dict[str, str] = {}
    for key, value in values.items():
        name = key if key.isupper() else f"TONGPIN_{key.upper()}"
        env[name] = json.dumps(value) if isinstance(value, list | dict | bool) else str(value)
    return env


class ServiceProcess:
    """A service started as its own OS process (`python -m tongpin.<name>`), logs kept in a file."""

    def __init__(self, name: str, settings: dict[str, Any], *, log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = {**os.environ, **settings_to_env({**settings, "port": self.port, "host": "127.0.0.1"})}
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> subprocess.Popen[bytes]:
        """Start the process and return at once (``start`` also waits until it is ready)."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", f"tongpin.{self.name}"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self.proc

    def start(self, *, timeout: float = 30) -> ServiceProcess:
        self.launch()
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} was not ready within {timeout}s; see {self.log_path}")

    async def started(self, *, timeout: float = 30) -> ServiceProcess:
        """``start`` for a test whose event loop runs services in-process meanwhile: the loop keeps turning
        while the process comes up, so their publishes are confirmed and their timers fire on time."""
        return await asyncio.to_thread(self.start, timeout=timeout)

    async def stopped(self) -> None:
        """``stop`` without holding up the test's event loop."""
        await asyncio.to_thread(self.stop)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


async def delete_test_topology(
    amqp_url: str, *, run_id: str, retry_delays: list[float], extra: tuple[str, ...] = ()
) -> None:
    """Remove the queues and exchanges a test declared under its run id."""
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        for service in (*SERVICES, *extra):
            names = Names(exchange=f"{run_id}.events", service=service, prefix=f"{run_id}.")
            for queue in (names.queue, names.dead_letter_queue, *(names.retry_queue(d) for d in retry_delays)):
                await channel.queue_delete(queue)
        await channel.exchange_delete(f"{run_id}.events")
        await channel.exchange_delete(f"{run_id}.events.dlx")
    finally:
        await connection.close()


async def eventually(check: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll an async or sync check until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        last = result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
        await asyncio.sleep(interval)
