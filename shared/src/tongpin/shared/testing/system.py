"""The four services as OS processes on one throwaway run: for `make bench`, `make chaos` and the e2e chaos test.

Each run has its own databases, exchange and queues (named after the run id) and its own signing key,
so it shares the servers with anything else without sharing state. Services can be SIGKILLed and
started again on the same port with the same settings, as a supervisor would.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import httpx

from tongpin.shared.events import SERVICES
from tongpin.shared.messaging.topology import Names
from tongpin.shared.testing.fixtures import SigningKey
from tongpin.shared.testing.services import ServiceProcess, free_port

ORDER = ("intake", "triage", "counselling", "oversight")
UNITS = ("xtj", "cgpcs", "gxpcs", "lxpcs", "jjdd", "xzdd")
# Case workers and a coordinator, as a county bureau has them.
STAFF = (("political_worker", 6), ("psychologist", 3), ("centre_coordinator", 1))


def port_plan(base: int | None) -> dict[str, int]:
    """Ports for the four services: base+1..base+4 in the README's order, or free ones."""
    if base is None:
        return {name: free_port() for name in ORDER}
    return {name: base + i for i, name in enumerate(ORDER, start=1)}


def env_port_base() -> int | None:
    """TONGPIN_BENCH_PORT_BASE, when set: the bench's and chaos's services then listen on base + 1..4 (free
    ports otherwise). Not TONGPIN_SERVICE_PORT_BASE, so they never collide with what `make up` runs."""
    raw = os.environ.get("TONGPIN_BENCH_PORT_BASE")
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
        """Ready messages in each consuming service's queue and dead-letter queue (missing ones are left out)."""
        depths: dict[str, int] = {}
        for service in SERVICES:
            names = self.names(service)
            for label, queue in ((service, names.queue), (f"{service}.dlq", names.dead_letter_queue)):
                try:
                    # Not robust: a robust channel answers a repeated passive declare from its cache.
                    fresh: dict[str, Any] = {"robust": False} if isinstance(
                        channel, aio_pika.abc.AbstractRobustChannel) else {}
                    declared = await channel.declare_queue(queue, passive=True, **fresh)
                except aio_pika.exceptions.ChannelClosed:
                    await channel.reopen()  # a passive declare of a missing queue closes the channel
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


def officer_id(n: int) -> str:
    return f"o{n:05d}"


def family_id(n: int) -> str:
    return f"f{n:05d}"


async def seed(
    system: System, *, channels: dict[str, str], officers: int, families: int = 0,
    staff: tuple[tuple[str, int], ...] = STAFF, timeout: float = 60,
) -> None:
    """Channels, a roster (officers over the units, families linked to them) and staff, through the public
    APIs; returns once triage knows the staff directory."""
    async with httpx.AsyncClient(timeout=60) as http:
        intake, counselling = system.url("intake"), system.url("counselling")
        for kind, channel_id in channels.items():
            _ok(await http.post(f"{intake}/channels", headers=system.admin(), json={
                "id": channel_id, "kind": kind, "name": f"{kind} 群", "external_group_id": f"g-{channel_id}"}), 201)
        rows = [{"external_id": officer_id(i), "name": f"民警{i:05d}", "member_kind": "officer",
                 "unit": UNITS[i % len(UNITS)], "active": True} for i in range(officers)]
        kin = [{"external_id": family_id(i), "name": f"家属{i:05d}", "member_kind": "family",
                "linked_officer_external_id": officer_id(i % max(1, officers)), "active": True}
               for i in range(families)]
        for group in (rows, kin):
            for start in range(0, len(group), 1000):
                report = _ok(await http.post(f"{intake}/roster", headers=system.bridge(),
                                             json={"rows": group[start:start + 1000]}), 200)
                if report["rejected"]:
                    raise RuntimeError(f"roster rows rejected: {report['rejected'][:3]}")
        created = 0
        for role, count in staff:
            for i in range(count):
                _ok(await http.post(f"{counselling}/staff", headers=system.admin(), json={
                    "username": f"{role[:2]}{i}-{secrets.token_hex(3)}", "name": f"{role}{i}",
                    "password": secrets.token_urlsafe(12), "roles": [role],
                    "on_call": role == "psychologist" and i == 0}), 201)
                created += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            metrics = (await http.get(f"{system.url('triage')}/metrics")).text
            if metric_total(metrics, "tongpin_events_consumed_total", type="staff.updated.v1") >= created:
                return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"triage did not learn the staff directory within {timeout:.0f} s")


def _ok(response: httpx.Response, *codes: int) -> Any:
    if response.status_code not in codes:
        raise RuntimeError(f"{response.request.method} {response.request.url} -> {response.status_code}: "
                           f"{response.text[:300]}")
    return response.json() if response.content else None


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
