"""`make bench`: the floors (FastAPI POST, aio-pika confirmed publish, PyMongo insert), the backbone and the
whole pipeline.

The backbone figure is events/s through outbox -> broker -> idempotent consumer, with p50/p99 latency
from the state write to the consumer's durable effect; each backbone figure is printed as a ratio to
the slower floor it stands on. The pipeline (bench/pipeline.py) runs the four services as processes and
finds the highest rate of concerns they sustain, with latency to case visible and to oversight updated
there and at 10/s, and each service's memory. Benchmarks measure, they never fail for being slow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import ConcernRaised, make_event
from tongpin.shared.messaging.consumer import EventConsumer, OwnInbox
from tongpin.shared.messaging.inbox import Inbox
from tongpin.shared.messaging.outbox import OUTBOX_INDEX, OutboxRelay, with_outbox
from tongpin.shared.messaging.publisher import Publisher
from tongpin.shared.messaging.topology import Names, declare_exchanges
from tongpin.shared.mongo import SerialisedDatabase, is_ferretdb
from tongpin.shared.testing.services import free_port
from tongpin.shared.testing.system import env_port_base

sys.path.insert(0, str(Path(__file__).parent))
import pipeline
import triage as triage_bench

RESULTS = Path(__file__).parent / "results"

TRIVIAL_APP = """
from fastapi import FastAPI
from pydantic import BaseModel

class Item(BaseModel):
    channel_id: str
    text: str

app = FastAPI()

@app.post("/items")
async def create(item: Item) -> dict:
    return {"ok": True, "length": len(item.text)}
"""


def fastapi_floor(seconds: int) -> dict[str, Any]:
    """Requests/s of a trivial FastAPI POST with a pydantic body: one uvicorn worker, wrk on loopback."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "trivial_app.py").write_text(TRIVIAL_APP)
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "trivial_app:app", "--port", str(port), "--log-level", "warning",
             "--no-access-log"], cwd=tmp,
        )
        try:
            for _ in range(100):
                try:
                    httpx.post(f"http://127.0.0.1:{port}/items", json={"channel_id": "a", "text": "b"}, timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            lua = Path(tmp, "post.lua")
            lua.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                           'wrk.body = \'{"channel_id": "officers-1", "text": "宿舍热水器坏了"}\'\n')
            out = subprocess.run(
                [shutil.which("wrk") or "wrk", "-t1", "-c32", f"-d{seconds}s", "-s", str(lua),
                 f"http://127.0.0.1:{port}/items"], capture_output=True, text=True, check=True,
            ).stdout
        finally:
            server.terminate()
            server.wait(10)
    rps = next(float(line.split()[1]) for line in out.splitlines() if line.startswith("Requests/sec"))
    return {"requests_per_s": round(rps), "tool": "wrk -t1 -c32", "seconds": seconds}


async def publish_floor(amqp_url: str, count: int) -> dict[str, Any]:
    """Persistent publishes with confirms into a durable quorum queue, 64 in flight."""
    connection = await aio_pika.connect_robust(amqp_url)
    name = f"bench.{uuid.uuid4().hex[:8]}"
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
        body = make_event(_concern()).to_json_bytes()
        sem = asyncio.Semaphore(64)

        async def one() -> None:
            async with sem:
                await channel.default_exchange.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=name
                )

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        elapsed = time.perf_counter() - start
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()
    return {"messages_per_s": round(count / elapsed), "count": count, "queue": "quorum", "in_flight": 64}


async def insert_floor(mongodb_url: str, count: int) -> dict[str, Any]:
    """insert_one of small documents, 32 concurrent, into the database server in use."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url)
    db = client[f"bench_{uuid.uuid4().hex[:8]}"]
    try:
        sem = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            async with sem:
                await db.docs.insert_one({"_id": i, "channel_id": "officers-1", "text": "宿舍热水器坏了",
                                          "sent_at": datetime.now(UTC)})

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        elapsed = time.perf_counter() - start
        server = (await client.admin.command("buildInfo")).get("version", "?")
    finally:
        await client.drop_database(db.name)
        await client.close()
    return {"docs_per_s": round(count / elapsed), "count": count, "concurrency": 32, "server_version": server}


def _concern() -> ConcernRaised:
    concern_id = f"c-{uuid.uuid4().hex}"
    return ConcernRaised(concern_id=concern_id, channel_id="officers-1", channel_kind="officers", origin="api",
                         text="宿舍热水器坏了一周，希望能修一下", sent_at=datetime.now(UTC))


async def backbone(mongodb_url: str, amqp_url: str, count: int, rate: float | None = None) -> dict[str, Any]:
    """Events/s and latency through outbox -> broker -> idempotent consumer with a durable effect.

    Without a rate every write is issued at once (throughput; latency then includes queueing);
    with a rate the writes are paced, which gives the latency a steady load sees.
    """
    run = f"bench{uuid.uuid4().hex[:8]}"
    names = Names(exchange=f"{run}.events", service="triage", prefix=f"{run}.")
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url, tz_aware=True)
    # Database handles as the services hold them (tongpin.shared.runtime): ids looked up one at a time on FerretDB.
    producer_db, consumer_db = SerialisedDatabase(client, f"{run}_intake"), SerialisedDatabase(client, f"{run}_triage")
    one_by_one = await is_ferretdb(producer_db)
    for db in (producer_db, consumer_db):
        db.ids_one_by_one = one_by_one
    await producer_db.messages.create_indexes([OUTBOX_INDEX])
    connection = await aio_pika.connect_robust(amqp_url)
    setup = await connection.channel()
    await declare_exchanges(setup, names=names)
    publisher = await Publisher.open(connection=connection, exchange_name=names.exchange, service="bench")
    latencies: list[float] = []
    done = asyncio.Event()
    written_at: dict[str, float] = {}

    async def handler(event: CloudEvent, data: Any) -> None:
        # The effect keyed by the event is its own inbox entry (a repeat finds it taken).
        try:
            await consumer_db.effects.insert_one({"_id": event.id, "concern_id": data.concern_id})
        except DuplicateKeyError:
            return
        latencies.append(time.perf_counter() - written_at[event.id])
        if len(latencies) >= count:
            done.set()

    consumer = EventConsumer(connection=connection, names=names, handlers={"concern.raised.v1": OwnInbox(handler)},
                             inbox=Inbox(consumer_db.inbox), retry_delays=[1.0], delivery_limit=5, prefetch=64)
    await consumer.start()
    relay = OutboxRelay(database=producer_db, collections=["messages"], publisher=publisher, poll_seconds=0.05)
    relay.start()
    sem = asyncio.Semaphore(32)

    async def write_one() -> None:
        async with sem:
            event = make_event(_concern())
            written_at[event.id] = time.perf_counter()
            await producer_db.messages.insert_one(with_outbox({"_id": event.subject or event.id}, [event]))
            relay.notify()

    start = time.perf_counter()
    if rate:
        writers = []
        for i in range(count):
            writers.append(asyncio.create_task(write_one()))
            await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.perf_counter()))
        await asyncio.gather(*writers)
    else:
        await asyncio.gather(*(write_one() for _ in range(count)))
    await asyncio.wait_for(done.wait(), timeout=600)
    elapsed = time.perf_counter() - start
    await relay.stop()
    await consumer.stop()
    for queue in (names.queue, names.dead_letter_queue, names.retry_queue(1.0)):
        await setup.queue_delete(queue)
    await setup.exchange_delete(names.exchange)
    await setup.exchange_delete(names.dead_letter_exchange)
    await connection.close()
    effects = await consumer_db.effects.count_documents({})
    await client.drop_database(producer_db.name)
    await client.drop_database(consumer_db.name)
    await client.close()
    ordered = sorted(latencies)
    return {
        "events_per_s": round(count / elapsed),
        "count": count,
        "effects": effects,
        "latency_ms": {
            "p50": round(statistics.median(ordered) * 1000, 1),
            "p99": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 1),
        },
        "database_ops_per_event": "insert with its outbox; the effect insert, which is its own inbox entry; "
                                  "per relay batch: one find of dirty documents, one update clearing them",
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="length of the FastAPI floor")
    parser.add_argument("--count", type=int, default=5000, help="events in the backbone burst")
    parser.add_argument("--trial-seconds", type=float, default=120.0, help="length of each pipeline trial")
    parser.add_argument("--start-rate", type=float, default=10.0, help="first pipeline rate tried (concerns/s)")
    parser.add_argument("--max-rate", type=float, default=120.0)
    parser.add_argument("--profile", action="store_true", help="sample each service with py-spy during the 10/s trial")
    parser.add_argument("--only", choices=("floors", "backbone", "pipeline", "triage"), action="append",
                        help="run only these parts (repeatable); floors always run with the others")
    args = parser.parse_args()
    parts = set(args.only or ("floors", "backbone", "pipeline", "triage")) | {"floors"}
    if "triage" in parts:
        # Pure CPU, no servers: measured first, before the pipeline's processes warm the machine.
        speed = triage_bench.classification()
        print(f"triage judgment            {speed['judgment_per_s']:>8} msgs/s on one core "
              f"(rules {speed['rules_per_s']}/s, model {speed['model_per_s']}/s; target {speed['target_per_s']}/s; "
              f"load {speed['load_average'][0]})")
    mongodb_url = os.environ["MONGODB_URL"]
    amqp_url = os.environ["AMQP_URL"]
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "load_average_before": load_average(),
    }
    if "triage" in parts:
        report["triage"] = speed
    floors = {
        "fastapi_post": fastapi_floor(args.seconds),
        "aio_pika_publish_confirmed": asyncio.run(publish_floor(amqp_url, args.count * 2)),
        "pymongo_insert": asyncio.run(insert_floor(mongodb_url, args.count)),
    }
    report["floors"] = floors
    slower = min(floors["aio_pika_publish_confirmed"]["messages_per_s"], floors["pymongo_insert"]["docs_per_s"])
    print(f"FastAPI POST floor         {floors['fastapi_post']['requests_per_s']:>8} req/s")
    print(f"aio-pika publish floor     {floors['aio_pika_publish_confirmed']['messages_per_s']:>8} msg/s")
    print(f"PyMongo insert floor       {floors['pymongo_insert']['docs_per_s']:>8} docs/s "
          f"(server {floors['pymongo_insert']['server_version']})")
    if "backbone" in parts:
        result = asyncio.run(backbone(mongodb_url, amqp_url, args.count))
        paced_rate = max(10, result["events_per_s"] // 2)
        paced = asyncio.run(backbone(mongodb_url, amqp_url, min(args.count, paced_rate * 10), rate=paced_rate))
        result["paced"] = {"rate_per_s": paced_rate, "latency_ms": paced["latency_ms"], "count": paced["count"]}
        result["ratio_to_slower_floor"] = round(result["events_per_s"] / slower, 3)
        result["target"] = ">= 0.3 of the slower of publish and insert floors"
        report["backbone"] = result
        print(f"backbone                   {result['events_per_s']:>8} events/s  "
              f"= {result['ratio_to_slower_floor']:.2f} x slower floor ({slower}/s)")
        print(f"backbone latency, burst    p50 {result['latency_ms']['p50']} ms, p99 {result['latency_ms']['p99']} ms "
              f"({args.count} writes issued at once)")
        print(f"backbone latency, paced    p50 {paced['latency_ms']['p50']} ms, p99 {paced['latency_ms']['p99']} ms "
              f"(at {paced_rate} events/s)")
    if "pipeline" in parts:
        log_dir = Path(__file__).resolve().parents[1] / ".run" / "bench-logs"
        print(f"pipeline: trials of {args.trial_seconds:.0f} s, four service processes each")
        search = asyncio.run(pipeline.highest_sustained(
            mongodb_url=mongodb_url, amqp_url=amqp_url, seconds=args.trial_seconds, log_dir=log_dir,
            port_base=env_port_base(), start_rate=args.start_rate, max_rate=args.max_rate))
        at_ten = next((t for t in search["trials"] if t["rate_per_s"] == 10.0), None)
        if at_ten is None or args.profile:
            at_ten = asyncio.run(pipeline.trial(
                mongodb_url=mongodb_url, amqp_url=amqp_url, rate=10.0, seconds=args.trial_seconds,
                log_dir=log_dir, port_base=env_port_base(), workload=pipeline.Workload(),
                profile_dir=RESULTS if args.profile else None))
        report["pipeline"] = {**search, "at_10_per_s": at_ten,
                              "targets": {"sustained_per_s": ">= 30", "oversight_updated_p99_ms": "<= 5000",
                                          "case_visible_p99_ms_at_10": "<= 1000"}}
        best = search["highest_sustained"]
        if best:
            print(f"pipeline sustained         {best['rate_per_s']:>8} concerns/s for {best['seconds']:.0f} s: "
                  f"case visible p50/p99 {best['case_visible_ms']['p50']}/{best['case_visible_ms']['p99']} ms, "
                  f"oversight updated p50/p99 {best['oversight_updated_ms']['p50']}/"
                  f"{best['oversight_updated_ms']['p99']} ms")
        else:
            print("pipeline sustained         none of the rates tried")
        print(f"pipeline at 10/s           case visible p50/p99 {at_ten['case_visible_ms']['p50']}/"
              f"{at_ten['case_visible_ms']['p99']} ms, oversight updated p50/p99 "
              f"{at_ten['oversight_updated_ms']['p50']}/{at_ten['oversight_updated_ms']['p99']} ms"
              f"{'' if at_ten['sustained'] else ' (not sustained)'}")
        print("service RSS idle / loaded  " + ", ".join(
            f"{name} {at_ten['rss_mib_idle'].get(name)}/{at_ten['rss_mib_loaded'].get(name)} MiB"
            for name in ("intake", "triage", "counselling", "oversight")))
        for name, profile in (at_ten.get("profile") or {}).items():
            if isinstance(profile, dict) and profile.get("frames"):
                print(f"profile {name:<11} " + "; ".join(f"{frame} {share:.0%}"
                                                       for frame, share in list(profile["frames"].items())[:6]))
    report["load_average_after"] = load_average()
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    (RESULTS / "latest.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"load average before/after  {report['load_average_before']} / {report['load_average_after']}")
    print(f"results in {RESULTS / (stamp + '.json')}")


if __name__ == "__main__":
    main()
