"""The four services as OS processes on one throwaway run: for `make bench`, `make chaos` and the e2e chaos test.

Each run has its own databases, exchange and queues (named after the run id) and its own signing key,
so it shares the servers with anything else without sharing state. Services can be SIGKILLed and
started again on the same port with the same settings, as a supervisor would.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika

from tongpin.shared.events import SERVICES
from tongpin.shared.messaging.topology import Names
from tongpin.shared.testing.fixtures import SigningKey
from tongpin.shared.testing.services import ServiceProcess, free_port

ORDER = ("intake", "triage", "counselling", "oversight")


def port_plan(base: int | None) -> dict[str, int]:
    """Ports for the four services: base+1..base+4 in the README's order, or free ones."""
    if base is None:
        return {name: free_port() for name in ORDER}
    return {name: base + i for i, name in enumerate(ORDER, start=1)}


def env_port_base() -> int | None:
    """TONGPIN_PORT_BASE, when set (8100 serves 8101-8104, as `make up` does)."""
    raw = os.environ.get("TONGPIN_PORT_BASE")
    return int(raw) if raw else None


class System:
    """Four service processes sharing a run id, a signing key and a bridge API key."""

    def __init__(
        self, *, mongodb_url: str, amqp_url: str, log_dir: Path, port_base: int | None = None,
        run_id: str | None = None, overrides: dict[str, dict[str, Any]] | None = None,
        common: dict[str, Any] | None = None,
    ) -> None:
        self.run_id = run_id or f"s{uuid.uuid4().hex[:10]}"
        self.mongodb_url, self.amqp_url = mongodb_url, amqp_url
        self.key = SigningKey()
        self.bridge_key = secrets.token_urlsafe(24)
        self.ports = port_plan(port_base)
        log_dir.mkdir(parents=True, exist_ok=True)
        base: dict[str, Any] = {
            "MONGODB_URL": mongodb_url, "AMQP_URL": amqp_url, "exchange": f"{self.run_id}.events",
            "queue_prefix": f"{self.run_id}.", "jwks_json": self.key.jwks_json,
            "api_keys": [f"bridge:{self.bridge_key}"], "log_json": True, **(common or {}),
        }
        extra: dict[str, dict[str, Any]] = {
            "intake": {"receipt_pepper": secrets.token_hex(32)},
            "counselling": {
                "jwt_private_key_pem": self.key.private_pem, "jwt_key_id": self.key.kid,
                "sealed_note_keys": f"run:{base64.b64encode(os.urandom(32)).decode()}",
                "argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1,
            },
        }
        self.processes: dict[str, ServiceProcess] = {}
        for name in ORDER:
            settings = {**base, "service_name": name, "mongodb_database": f"{self.run_id}_{name}",
                        **extra.get(name, {}), **(overrides or {}).get(name, {})}
            process = ServiceProcess(name, settings, log_dir=log_dir)
            process.port = self.ports[name]
            process.env.update({"TONGPIN_PORT": str(self.ports[name])})
            process.log_path = log_dir / f"{self.run_id}-{name}.log"
            self.processes[name] = process

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self, *names: str, timeout: float = 60) -> None:
        for name in names or ORDER:
            self.processes[name].start(timeout=timeout)

    def stop(self) -> None:
        for name in reversed(ORDER):
            self.processes[name].stop()

    def kill(self, name: str) -> None:
        """SIGKILL one service, as a crash or the OOM killer would."""
        process = self.processes[name]
        if process.proc is not None and process.proc.poll() is None:
            os.kill(process.proc.pid, signal.SIGKILL)
            process.proc.wait(10)

    def restart(self, name: str, *, timeout: float = 60) -> None:
        self.kill(name)
        self.processes[name].start(timeout=timeout)

    def url(self, name: str) -> str:
        return self.processes[name].url

    def pid(self, name: str) -> int | None:
        proc = self.processes[name].proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def rss_kib(self) -> dict[str, int]:
        """Each live service's resident set size (KiB), from /proc."""
        sizes: dict[str, int] = {}
        for name in ORDER:
            pid = self.pid(name)
            if pid is None:
                continue
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    sizes[name] = int(line.split()[1])
        return sizes

    # --- who calls ---------------------------------------------------------------------------------

    def admin(self) -> dict[str, str]:
        return self.key.headers("admin")

    def auditor(self) -> dict[str, str]:
        return self.key.headers("auditor")

    def bridge(self) -> dict[str, str]:
        return {"X-API-Key": self.bridge_key}

    # --- the broker ----------------------------------------------------------------------------------

    def names(self, service: str) -> Names:
        return Names(exchange=f"{self.run_id}.events", service=service, prefix=f"{self.run_id}.")

    async def queue_depths(self, channel: aio_pika.abc.AbstractChannel) -> dict[str, int]:
        """Ready messages in each consuming service's queue and dead-letter queue."""
        depths: dict[str, int] = {}
        for service in SERVICES:
            names = self.names(service)
            for label, queue in ((service, names.queue), (f"{service}.dlq", names.dead_letter_queue)):
                try:
                    declared = await channel.declare_queue(queue, passive=True)
                except aio_pika.exceptions.ChannelClosed:
                    channel = await channel.channel.connection.channel()  # type: ignore[attr-defined]
                    continue
                depths[label] = declared.declaration_result.message_count or 0
        return depths

    async def cleanup(self, *, retry_delays: list[float] | None = None) -> None:
        """Remove the run's databases, queues and exchanges."""
        from pymongo import AsyncMongoClient

        from tongpin.shared.testing.services import delete_test_topology

        await delete_test_topology(self.amqp_url, run_id=self.run_id, retry_delays=retry_delays or [1.0, 5.0, 30.0])
        client: AsyncMongoClient[Any] = AsyncMongoClient(self.mongodb_url)
        try:
            for name in await client.list_database_names():
                if name.startswith(f"{self.run_id}_"):
                    await client.drop_database(name)
        finally:
            await client.close()


def metric_total(text: str, name: str, **labels: str) -> float:
    """Sum of a Prometheus counter's samples whose labels include the given ones."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, _, value = line.rpartition(" ")
        body = head[len(name) + 1:-1]
        found = dict(part.split("=", 1) for part in _split_labels(body))
        if all(json.loads(found.get(k, "null")) == v for k, v in labels.items()):
            total += float(value)
    return total


def _split_labels(body: str) -> Iterator[str]:
    depth, start = False, 0
    for i, ch in enumerate(body):
        if ch == '"':
            depth = not depth
        elif ch == "," and not depth:
            yield body[start:i]
            start = i + 1
    if body[start:]:
        yield body[start:]
