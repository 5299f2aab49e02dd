"""Chaos: concerns keep arriving while every service is SIGKILLed and restarted, RabbitMQ restarts and the
database is killed; afterwards every stage is counted exactly.

`make chaos` runs the full version (`python -m tongpin.shared.testing.chaos`); `tests/e2e/test_chaos.py`
runs a bounded one in CI. Both need the local servers `deploy/local/servers.sh` runs (RabbitMQ and
FerretDB of this checkout), since they stop and kill them.

What is checked, once the system has settled:

- accepted: every message was answered 201 exactly once (retries with the same ``source_message_id``
  after a refusal or a dead intake get the stored answer), and intake holds one message per source id;
- decisions: triage holds exactly one decision per concern;
- cases: counselling holds exactly one case per concern triage did not dismiss, no other case;
- ledger: oversight's ledger holds exactly one entry per distinct event it binds that went over the
  exchange (counted by a durable capture queue), the chain verifies, nothing was refused;
- figures: oversight's report counts every concern once (by channel) and every case opened once;
- dead letters: every service's dead-letter queue and dead-letter collection is empty;
- nothing unacked: after the services stop, their queues are empty.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aio_pika
import httpx
from pymongo import AsyncMongoClient

from tongpin.shared.events import CONSUMES, SERVICES
from tongpin.shared.testing.system import System, env_port_base, officer_id, seed

ROOT = Path(__file__).resolve().parents[5]
SERVERS = ROOT / "deploy" / "local" / "servers.sh"
TEXTS = ROOT / "services" / "triage" / "eval" / "labelled.jsonl"


@dataclass
class Fault:
    at: float  # seconds after posting starts
    what: str  # kill:<service> | rabbitmq | database


@dataclass
class ChaosReport:
    concerns: int
    accepted: int = 0
    answered_again: int = 0  # retries answered with the stored message (200)
    refused: Counter[str] = field(default_factory=Counter)  # what the client saw before a retry
    faults: list[str] = field(default_factory=list)
    restarts: Counter[str] = field(default_factory=Counter)  # starts that exited and were tried again
    counts: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def default_faults(posting_seconds: float) -> list[Fault]:
    """Each service killed once, RabbitMQ restarted, the database killed, spread over the posting time."""
    plan = ["kill:triage", "kill:counselling", "rabbitmq", "kill:oversight", "database", "kill:intake"]
    step = posting_seconds / (len(plan) + 1)
    return [Fault(at=step * (i + 1), what=what) for i, what in enumerate(plan)]


def _servers(*args: str, timeout: float = 180) -> str:
    done = subprocess.run(  # noqa: S603 - the checkout's own script
        [str(SERVERS), *args], capture_output=True, text=True, timeout=timeout, check=True)
    return done.stdout


def local_servers_running(mongodb_url: str, amqp_url: str) -> bool:
    """True when the servers at these URLs are the ones deploy/local/servers.sh runs for this checkout."""
    from urllib.parse import urlsplit

    try:
        status = _servers("status", timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    mongo_port = int(os.environ.get("TONGPIN_MONGO_PORT", "27017"))
    amqp_port = int(os.environ.get("TONGPIN_AMQP_PORT", "5672"))
    return ("ferretdb: running" in status and "rabbitmq: running" in status
            and urlsplit(mongodb_url).port == mongo_port and urlsplit(amqp_url).port == amqp_port)


def _run_dir() -> Path:
    return Path(os.environ.get("TONGPIN_RUN_DIR", ROOT / ".run"))


async def restart_rabbitmq() -> None:
    await asyncio.to_thread(_servers, "rabbitmqctl", "stop_app")
    try:
        await asyncio.sleep(1.0)
    finally:
        await asyncio.to_thread(_servers, "rabbitmqctl", "start_app")
        await asyncio.to_thread(_servers, "rabbitmqctl", "await_startup")


async def kill_database(down_seconds: float = 2.0) -> None:
    """SIGKILL FerretDB, leave it down a moment, start it again."""
    pid = int((_run_dir() / "ferretdb.pid").read_text().strip())
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(down_seconds)
    await asyncio.to_thread(_servers, "start")


async def _inject(system: System, fault: Fault, report: ChaosReport, started: float) -> None:
    await asyncio.sleep(max(0.0, started + fault.at - time.monotonic()))
    begun = time.monotonic()
    if fault.what.startswith("kill:"):
        name = fault.what.split(":", 1)[1]
        system.kill(name)
        await asyncio.sleep(1.0)
        # As a supervisor would: start it again until it stays up (a start while the broker or the
        # database is away exits, and is simply tried again).
        deadline = time.monotonic() + 300
        while True:
            try:
                await asyncio.to_thread(system.processes[name].start, timeout=max(1.0, deadline - time.monotonic()))
                break
            except RuntimeError as exc:
                if time.monotonic() > deadline:
                    report.problems.append(f"{name} did not come back: {exc}")
                    break
                report.restarts[name] += 1
                await asyncio.sleep(2.0)
    elif fault.what == "rabbitmq":
        await restart_rabbitmq()
    elif fault.what == "database":
        await kill_database()
    report.faults.append(f"{fault.what} at {fault.at:.1f}s, back after {time.monotonic() - begun:.1f}s")


def _texts(count: int, rng: random.Random) -> list[str]:
    rows = [json.loads(line) for line in TEXTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    officers = [r["text"] for r in rows if r["channel_kind"] == "officers"]
    return [rng.choice(officers) for _ in range(count)]


async def _post_all(system: System, texts: list[str], *, rate: float, report: ChaosReport,
                    give_up_after: float) -> dict[str, str]:
    """Post every concern at a steady rate, each retried with its own source id until intake answers it."""
    accepted: dict[str, str] = {}  # source id -> concern id
    deadline = time.monotonic() + give_up_after
    async with httpx.AsyncClient(base_url=system.url("intake"), timeout=10) as http:
        async def one(n: int, text: str) -> None:
            body = {"channel_id": "chaos-officers", "channel_kind": "officers", "source_message_id": f"chaos:{n}",
                    "author_external_id": officer_id(n), "text": text, "sent_at": datetime.now(UTC).isoformat()}
            while True:
                if time.monotonic() > deadline:
                    report.problems.append(f"source {n}: intake never accepted it")
                    return
                try:
                    response = await http.post("/messages", json=body, headers=system.bridge())
                except httpx.HTTPError as exc:
                    report.refused[type(exc).__name__] += 1
                    await asyncio.sleep(0.5)
                    continue
                if response.status_code in (200, 201):
                    concern_id = response.json()["id"]
                    if body["source_message_id"] in accepted:
                        report.answered_again += 1
                        if accepted[body["source_message_id"]] != concern_id:
                            report.problems.append(f"source {n} answered with two concern ids")
                    accepted[body["source_message_id"]] = concern_id
                    if response.status_code == 200:
                        report.answered_again += 1
                    return
                report.refused[str(response.status_code)] += 1
                if response.status_code < 500 and response.status_code != 429:
                    report.problems.append(f"source {n}: {response.status_code} {response.text[:200]}")
                    return
                await asyncio.sleep(float(response.headers.get("retry-after", "0.5")) / 5)

        start = time.monotonic()
        tasks = []
        for n, text in enumerate(texts):
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(n, text)))
        await asyncio.gather(*tasks)
    return accepted


class Capture:
    """A durable queue bound to every event of the run: what went over the exchange, across broker restarts."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.name = f"{system.run_id}.chaos-capture"

    async def declare(self) -> None:
        connection = await aio_pika.connect_robust(self.system.amqp_url)
        try:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(f"{self.system.run_id}.events", aio_pika.ExchangeType.TOPIC,
                                                      durable=True)
            queue = await channel.declare_queue(self.name, durable=True, arguments={"x-queue-type": "quorum"})
            await queue.bind(exchange, routing_key="#")
        finally:
            await connection.close()

    async def drain(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        connection = await aio_pika.connect_robust(self.system.amqp_url)
        try:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.name, passive=True)
            while (message := await queue.get(fail=False, no_ack=True)) is not None:
                events.append(json.loads(message.body))
            await queue.delete(if_unused=False, if_empty=False)
        finally:
            await connection.close()
        return events


async def _settled(system: System, mongo: AsyncMongoClient[Any], *, concerns: int, stall_seconds: float,
                   timeout: float) -> str | None:
    """Wait until every concern has a decision and every queue has stayed empty for a few seconds; None once
    settled, else what was still going on. A slow machine is given time as long as the work moves on:
    only a queue that stops shrinking for ``stall_seconds`` (or ``timeout`` in all) ends the wait."""
    began = time.monotonic()
    quiet, last, best, moved = 0, "", None, time.monotonic()
    connection = await aio_pika.connect_robust(system.amqp_url)
    try:
        channel = await connection.channel()
        while time.monotonic() - began < timeout and time.monotonic() - moved < stall_seconds:
            decisions = await mongo[f"{system.run_id}_triage"]["decisions"].count_documents({})
            depths = await system.queue_depths(channel)
            busy = {s: depths.get(s, 0) for s in SERVICES if depths.get(s, 0)}
            last = f"{decisions} decisions, queued {busy or 'nothing'}"
            left = (concerns - decisions, sum(busy.values()))
            if best is None or left < best:
                best, moved = left, time.monotonic()
            quiet = quiet + 1 if decisions >= concerns and not busy else 0
            if quiet >= 6:
                return None
            await asyncio.sleep(1.0)
    finally:
        await connection.close()
    return f"{last} after {time.monotonic() - began:.0f}s"


def _this_month() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")


async def check(system: System, report: ChaosReport, *, accepted: dict[str, str],
                captured: list[dict[str, Any]]) -> None:
    """Count every stage and write down each difference from what must be."""
    problems, counts = report.problems, report.counts
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(system.mongodb_url, tz_aware=True)
    run = system.run_id
    try:
        concern_ids = set(accepted.values())
        counts["accepted"] = len(accepted)
        if len(accepted) != report.concerns or len(concern_ids) != report.concerns:
            problems.append(f"accepted {len(accepted)} sources as {len(concern_ids)} concerns, "
                            f"posted {report.concerns}")
        messages = await mongo[f"{run}_intake"]["messages"].find({}, {"_id": 1, "source_message_id": 1}).to_list()
        counts["messages"] = len(messages)
        if {m["_id"] for m in messages} != concern_ids or len(messages) != len(concern_ids):
            problems.append(f"intake holds {len(messages)} messages for {len(concern_ids)} accepted concerns")

        decisions = await mongo[f"{run}_triage"]["decisions"].find(
            {}, {"_id": 1, "route": 1, "merged_into": 1, "channel_kind": 1}).to_list()
        counts["decisions"] = len(decisions)
        if {d["_id"] for d in decisions} != concern_ids or len(decisions) != len(concern_ids):
            problems.append(f"triage holds {len(decisions)} decisions for {len(concern_ids)} concerns")
        should_open = {d["_id"] for d in decisions if d.get("route") != "dismiss" and not d.get("merged_into")}
        counts["dismissed"] = sum(1 for d in decisions if d.get("route") == "dismiss")
        cases = await mongo[f"{run}_counselling"]["cases"].find({}, {"_id": 1}).to_list()
        counts["cases"] = len(cases)
        opened_for = Counter(str(c["_id"]).removeprefix("case-") for c in cases)
        doubled = [c for c, n in opened_for.items() if n > 1]
        if set(opened_for) != should_open or doubled:
            problems.append(f"counselling holds {len(cases)} cases for {len(should_open)} concerns that should "
                            f"have one (doubled: {len(doubled)})")

        distinct: dict[str, dict[str, Any]] = {}
        for event in captured:
            distinct.setdefault(event["id"], event)
        counts["events_published"] = len(captured)
        counts["events_distinct"] = len(distinct)
        counts["events_published_twice"] = len(captured) - len(distinct)
        bound = {eid for eid, e in distinct.items() if e["type"] in CONSUMES["oversight"]}
        ledger = await mongo[f"{run}_oversight"]["ledger"].find({}, {"_id": 1, "seq": 1}).to_list()
        counts["ledger_entries"] = len(ledger)
        counts["ledger_expected"] = len(bound)
        ledger_ids = Counter(d["_id"] for d in ledger)
        if set(ledger_ids) != bound or len(ledger) != len(bound):
            problems.append(f"ledger holds {len(ledger)} entries, {len(bound)} events bound for it went out "
                            f"(missing {len(bound - set(ledger_ids))}, extra {len(set(ledger_ids) - bound)})")
        seqs = sorted(d["seq"] for d in ledger)
        if seqs != list(range(1, len(seqs) + 1)):
            problems.append("ledger sequence numbers are not 1..n without gaps")

        async with httpx.AsyncClient(base_url=system.url("oversight"), headers=system.auditor(), timeout=60) as http:
            verified = (await http.get("/ledger/verify")).json()
            counts["ledger_verified"] = verified.get("verified")
            if not verified.get("ok") or verified.get("verified") != len(ledger):
                problems.append(f"ledger does not verify: {verified}")
            rejected = (await http.get("/rejected")).json()["items"]
            counts["oversight_refused"] = len(rejected)
            if rejected:
                problems.append(f"oversight refused {len(rejected)} events, e.g. {rejected[0]}")
            figures = (await http.get("/statistics", params={"period": _this_month()})).json()
        concerns_counted = figures["concerns"]["total"] + figures["chatter"]["dismissed"]
        by_channel = figures["concerns"]["by_channel"].get("officers", 0)
        counts["figures_concerns"] = concerns_counted
        counts["figures_cases_opened"] = figures.get("cases", {}).get("opened")
        if concerns_counted != len(concern_ids):
            problems.append(f"oversight's figures count {concerns_counted} concerns, {len(concern_ids)} were raised "
                            f"({by_channel} in the officers' channel)")
        if counts["figures_cases_opened"] != len(cases):
            problems.append(f"oversight's figures count {counts['figures_cases_opened']} cases opened, "
                            f"counselling opened {len(cases)}")

        for service in SERVICES:
            kept = await mongo[f"{run}_{service}"]["dead_letters"].count_documents({})
            counts[f"dead_letters_{service}"] = kept
            if kept:
                problems.append(f"{service} kept {kept} dead letters")
    finally:
        await mongo.close()


async def queues_after_stop(system: System, report: ChaosReport) -> None:
    """With the services stopped, whatever they had left unacked is back in their queues: all must be empty."""
    connection = await aio_pika.connect_robust(system.amqp_url)
    try:
        channel = await connection.channel()
        depths = await system.queue_depths(channel)
    finally:
        await connection.close()
    report.counts["queued_after_stop"] = depths
    left = {name: n for name, n in depths.items() if n}
    if left:
        report.problems.append(f"messages left in queues after the services stopped: {left}")


async def run_chaos(*, mongodb_url: str, amqp_url: str, concerns: int, rate: float, log_dir: Path,
                    faults: list[Fault] | None = None, settle_seconds: float = 900.0, stall_seconds: float = 60.0,
                    seed_value: int = 14,
                    port_base: int | None = None, echo: Any = print) -> ChaosReport:
    """Post the concerns through the faults, let the system settle, count everything, clean up."""
    report = ChaosReport(concerns=concerns)
    began = time.monotonic()
    posting_seconds = concerns / rate
    faults = default_faults(posting_seconds) if faults is None else faults
    system = System(mongodb_url=mongodb_url, amqp_url=amqp_url, log_dir=log_dir, port_base=port_base,
                    common={"reconnect_seconds": 1.0})
    capture = Capture(system)
    try:
        system.start()
        await capture.declare()
        await seed(system, officers=concerns, families=0, channels={"officers": "chaos-officers"})
        texts = _texts(concerns, random.Random(seed_value))  # noqa: S311 - picks sample texts
        echo(f"[chaos] run {system.run_id}: {concerns} concerns at {rate}/s over {posting_seconds:.0f}s; "
             f"faults: {', '.join(f'{f.what}@{f.at:.0f}s' for f in faults)}")
        started = time.monotonic()
        injector = asyncio.gather(*(_inject(system, f, report, started) for f in faults))
        accepted = await _post_all(system, texts, rate=rate, report=report, give_up_after=posting_seconds + 600)
        await injector
        report.accepted = len(accepted)
        echo(f"[chaos] posted in {time.monotonic() - started:.0f}s; {', '.join(report.faults)}")
        mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url, tz_aware=True)
        try:
            unsettled = await _settled(system, mongo, concerns=concerns, stall_seconds=stall_seconds,
                                       timeout=settle_seconds)
        finally:
            await mongo.close()
        if unsettled is not None:
            report.problems.append(f"the system did not settle: {unsettled}")
        await check(system, report, accepted=accepted, captured=await capture.drain())
        system.stop()
        await queues_after_stop(system, report)
    finally:
        system.stop()
        await system.cleanup()
        report.seconds = time.monotonic() - began
    echo(f"[chaos] counts: {json.dumps(report.counts, ensure_ascii=False)}")
    echo(f"[chaos] client saw before retrying: {dict(report.refused)}; retries answered with the stored "
         f"message: {report.answered_again}; restarts that exited and were tried again: {dict(report.restarts)}")
    echo(f"[chaos] {'OK' if report.ok else 'FAILED'} in {report.seconds:.0f}s" +
         "".join(f"\n[chaos]   {p}" for p in report.problems))
    return report


def main() -> int:
    parser = argparse.ArgumentParser(prog="tongpin-chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concerns", type=int, default=600)
    parser.add_argument("--rate", type=float, default=3.0, help="concerns per second")
    parser.add_argument("--settle", type=float, default=1800.0, help="most seconds allowed to settle afterwards")
    parser.add_argument("--stall", type=float, default=60.0, help="seconds without progress that end the wait")
    args = parser.parse_args()
    mongodb_url, amqp_url = os.environ["MONGODB_URL"], os.environ["AMQP_URL"]
    if not local_servers_running(mongodb_url, amqp_url):
        print("chaos needs the servers deploy/local/servers.sh runs for this checkout (it stops and kills them)")
        return 2
    report = asyncio.run(run_chaos(mongodb_url=mongodb_url, amqp_url=amqp_url, concerns=args.concerns,
                                   rate=args.rate, log_dir=_run_dir() / "chaos-logs", settle_seconds=args.settle,
                                   stall_seconds=args.stall,
                                   port_base=env_port_base()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
