"""The whole pipeline under a steady load: intake -> triage -> counselling (case visible) -> oversight (figures).

Each trial starts the four services as processes on a fresh run (own databases, exchange and queues),
sets up a roster, staff and the three channels through the public APIs, then posts messages to intake
at a steady rate for a fixed time, like the channel bridge would. It measures:

- case visible: when counselling's ``case.opened`` for the concern reaches the broker (the case is
  stored before its event is relayed, so this is an upper bound of when staff can see it);
- oversight updated: when oversight has recorded the k-th ``concern.triaged`` (ledger, statistics,
  inbox: its consumer counts an event as handled only after all of them), matched to the k-th
  message posted, read from oversight's ``/metrics`` four times a second;
- queue depths (ready messages) every second, the services' RSS idle and loaded, intake's answer time;
- database commands (round trips) per concern, per service and per command and collection, from each
  service's ``tongpin_database_commands_total`` before the first post and after the drain.

A rate is sustained when posting stays on schedule without errors, oversight's backlog does not grow
over the second half of the trial (least-squares slope under 2% of the rate), and everything posted is
through the pipeline within 30 seconds of the last post.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import httpx

from tongpin.shared.testing.system import ORDER, System, family_id, metric_total, officer_id, seed

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ROOT / "services" / "triage" / "eval" / "labelled.jsonl"
CHANNELS = {"officers": "bench-officers", "families": "bench-families", "supervision": "bench-supervision"}
# The channel mix of a bureau's traffic: mostly officers, then families, then the public.
MIX = (("officers", 0.6), ("families", 0.25), ("supervision", 0.15))
DRAIN_SECONDS = 30.0
# Where the local servers keep their pid files (deploy/local/servers.sh): their CPU is read from there.
RUN_DIR = Path(os.environ.get("TONGPIN_RUN_DIR") or ROOT / ".run")


@dataclass
class Workload:
    """Who posts what: roster members per channel and the texts of the triage set, seeded."""

    seed: int = 14
    officers: int = 120
    families: int = 60
    texts: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for line in TEXTS.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                self.texts.setdefault(row["channel_kind"], []).append(row["text"])
        self.rng = random.Random(self.seed)

    def message(self, run: str, n: int) -> dict[str, Any]:
        roll, kind = self.rng.random(), MIX[-1][0]
        for candidate, share in MIX:
            if roll < share:
                kind = candidate
                break
            roll -= share
        body: dict[str, Any] = {
            "channel_id": CHANNELS[kind], "channel_kind": kind, "source_message_id": f"{run}:{n}",
            "text": self.rng.choice(self.texts[kind]), "sent_at": datetime.now(UTC).isoformat(),
        }
        if kind == "officers":
            body["author_external_id"] = officer_id(self.rng.randrange(self.officers))
        elif kind == "families":
            body["author_external_id"] = family_id(self.rng.randrange(self.families))
        else:
            body["anonymous"] = True
        return body


# --- where the CPU goes ----------------------------------------------------------------------------


def _server_pids(run_dir: Path) -> dict[str, int]:
    """The local servers deploy/local/servers.sh started for this checkout (best effort)."""
    pids: dict[str, int] = {}
    for name, path in (("ferretdb", run_dir / "ferretdb.pid"), ("rabbitmq", run_dir / "rabbitmq" / "rabbit.pid"),
                       ("postgresql", run_dir / "postgres" / "data" / "postmaster.pid")):
        try:
            pids[name] = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return pids


def _cpu_ticks(pid: int) -> int:
    """User and system ticks of a process, its threads and its reaped children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(x) for x in fields[11:15])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def cpu_snapshot(system: System, run_dir: Path) -> dict[str, float]:
    """CPU seconds used so far by each service, each local server, and the whole machine (busy)."""
    ticks = os.sysconf("SC_CLK_TCK")
    snapshot = {name: _cpu_ticks(pid) / ticks for name in system.processes if (pid := system.pid(name))}
    for name, pid in _server_pids(run_dir).items():
        total = _cpu_ticks(pid)
        if name == "postgresql":  # one backend process per connection
            total += sum(_cpu_ticks(child) for child in _children(pid))
        snapshot[name] = total / ticks
    busy = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    snapshot["machine_busy"] = (sum(int(x) for x in busy) - int(busy[3]) - int(busy[4])) / ticks
    return snapshot


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Each sample of a Prometheus counter: its labels and its value."""
    found = []
    for line in text.splitlines():
        if line.startswith(name + "{"):
            head, _, value = line.rpartition(" ")
            labels = dict(part.split("=", 1) for part in head[len(name) + 1:-1].split('",') if "=" in part)
            found.append(({k: v.strip('"') for k, v in labels.items()}, float(value)))
    return found


async def database_commands(system: System) -> dict[str, dict[str, float]]:
    """Each service's database commands so far, by "command collection"."""
    counts: dict[str, dict[str, float]] = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for name in ORDER:
            try:
                text = (await http.get(f"{system.url(name)}/metrics")).text
            except httpx.HTTPError:
                continue
            counts[name] = {f"{labels.get('command')} {labels.get('collection')}".strip(): value
                            for labels, value in samples(text, "tongpin_database_commands_total")}
    return counts


def commands_per_concern(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]],
                         concerns: int) -> dict[str, Any]:
    """Database commands per concern posted: each service's total and its busiest commands."""
    table: dict[str, Any] = {}
    for name, counts in after.items():
        delta = {key: value - before.get(name, {}).get(key, 0.0) for key, value in counts.items()}
        delta = {key: round(value / max(1, concerns), 2) for key, value in delta.items() if value > 0}
        table[name] = {"total": round(sum(delta.values()), 2),
                       "commands": dict(sorted(delta.items(), key=lambda kv: -kv[1]))}
    table["all"] = round(sum(v["total"] for v in table.values()), 2)
    return table


async def set_up(system: System, workload: Workload) -> None:
    """Channels, roster and staff through the public APIs; waits until triage knows the staff."""
    await seed(system, channels=CHANNELS, officers=workload.officers, families=workload.families)


@dataclass
class Observed:
    posted_at: dict[str, float] = field(default_factory=dict)  # concern id -> when intake answered
    sent_at: list[float] = field(default_factory=list)  # when each post went out, in order
    answer_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    case_at: dict[str, float] = field(default_factory=dict)  # concern id -> case.opened seen
    counted: list[tuple[float, float]] = field(default_factory=list)  # (when, oversight concern.triaged count)
    depths: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    rss_kib: list[dict[str, int]] = field(default_factory=list)


async def _watch_cases(system: System, observed: Observed, stop: asyncio.Event) -> None:
    connection = await aio_pika.connect_robust(system.amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(f"{system.run_id}.events", aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        queue = await channel.declare_queue(f"{system.run_id}.bench", exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="case.opened.v1")

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                event = json.loads(message.body)
                concern_id = event["data"]["concern_id"]
                observed.case_at.setdefault(concern_id, time.perf_counter())

        await queue.consume(on_message)
        depth_channel = await connection.channel()
        while not stop.is_set():
            observed.depths.append((time.perf_counter(), await system.queue_depths(depth_channel)))
            observed.rss_kib.append(system.rss_kib())
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
    finally:
        await connection.close()


async def _watch_oversight(system: System, observed: Observed, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        while not stop.is_set():
            try:
                text = (await http.get(f"{system.url('oversight')}/metrics")).text
                count = metric_total(text, "tongpin_events_consumed_total", service="oversight",
                                     type="concern.triaged.v1", outcome="handled")
                observed.counted.append((time.perf_counter(), count))
            except httpx.HTTPError:
                pass
            try:
                await asyncio.wait_for(stop.wait(), 0.25)
            except TimeoutError:
                pass


async def _post_steadily(system: System, workload: Workload, observed: Observed, *, rate: float,
                         seconds: float) -> None:
    total = int(rate * seconds)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=system.url("intake"), timeout=30, limits=limits) as http:
        async def one(n: int) -> None:
            body = workload.message(system.run_id, n)
            sent = time.perf_counter()
            observed.sent_at.append(sent)
            try:
                response = await http.post("/messages", json=body, headers=system.bridge())
            except httpx.HTTPError as exc:
                observed.errors.append(repr(exc))
                return
            done = time.perf_counter()
            if response.status_code != 201:
                observed.errors.append(f"{response.status_code}: {response.text[:200]}")
                return
            observed.answer_ms.append((done - sent) * 1000)
            observed.posted_at[response.json()["id"]] = sent

        start = time.perf_counter()
        tasks = []
        for n in range(total):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 1), "p99": round(ordered[int(0.99 * (len(ordered) - 1))], 1),
            "max": round(ordered[-1], 1)}


def _slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 3:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def summarise(observed: Observed, *, rate: float, seconds: float, started: float, ended: float,
              drained_s: float | None, idle_rss: dict[str, int]) -> dict[str, Any]:
    """Latencies, backlog growth and the verdict of one trial."""
    posts = sorted(observed.posted_at.values())
    case_ms = [(observed.case_at[c] - t) * 1000 for c, t in observed.posted_at.items() if c in observed.case_at]
    # The k-th concern oversight counted, against the k-th message posted.
    oversight_ms: list[float] = []
    k = 0
    for when, count in observed.counted:
        while k < min(int(count), len(posts)):
            oversight_ms.append(max(0.0, (when - posts[k]) * 1000))
            k += 1
    half = started + seconds / 2
    backlog = []
    for when, count in observed.counted:
        if half <= when <= ended:
            backlog.append((when, sum(1 for t in posts if t <= when) - count))
    growth = _slope(backlog)
    achieved = len(observed.sent_at) / max(1e-9, (observed.sent_at[-1] - observed.sent_at[0])) \
        if len(observed.sent_at) > 1 else 0.0
    loaded: dict[str, int] = {}
    for sample in observed.rss_kib:
        for name, kib in sample.items():
            loaded[name] = max(loaded.get(name, 0), kib)
    depth_max: dict[str, int] = {}
    for _, sample in observed.depths:
        for name, depth in sample.items():
            depth_max[name] = max(depth_max.get(name, 0), depth)
    on_schedule = not observed.errors and achieved >= 0.97 * rate
    sustained = on_schedule and growth <= 0.02 * rate and drained_s is not None
    return {
        "rate_per_s": rate, "seconds": seconds, "posted": len(posts), "errors": len(observed.errors),
        "error_samples": observed.errors[:3], "achieved_post_rate": round(achieved, 2),
        "intake_answer_ms": _percentiles(observed.answer_ms),
        "case_visible_ms": _percentiles(case_ms), "cases": len(case_ms),
        "oversight_updated_ms": _percentiles(oversight_ms), "oversight_counted": len(oversight_ms),
        "oversight_backlog_growth_per_s": round(growth, 3),
        "drained_after_s": None if drained_s is None else round(drained_s, 1),
        "queue_depth_max": depth_max, "rss_mib_idle": {k: round(v / 1024) for k, v in idle_rss.items()},
        "rss_mib_loaded": {k: round(v / 1024) for k, v in loaded.items()},
        "sustained": sustained,
    }


def _py_spy() -> list[str] | None:
    """py-spy from PATH, else through uvx (fetched from PyPI once); None when neither is there."""
    if shutil.which("py-spy"):
        return ["py-spy"]
    if shutil.which("uvx"):
        return ["uvx", "py-spy"]
    return None


async def _profile(system: System, *, seconds: float, out_dir: Path) -> dict[str, Any]:
    """Sample every service with py-spy while it is loaded; the busiest frames of its event loop thread."""
    command = _py_spy()
    if command is None:
        return {"skipped": "py-spy is not installed (pip install py-spy) and uvx is missing"}
    out_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before sampling
    runs = {}
    for name in system.processes:
        pid = system.pid(name)
        if pid is None:
            continue
        path = out_dir / f"profile-{name}.txt"
        runs[name] = (path, await asyncio.create_subprocess_exec(
            *command, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "50",
            "--format", "raw", "--nonblocking", "--output", str(path),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL))
    summary: dict[str, Any] = {}
    for name, (path, process) in runs.items():
        await process.wait()
        if path.exists():
            summary[name] = busiest_frames(path.read_text())
    return summary


def busiest_frames(collapsed: str, *, top: int = 12) -> dict[str, Any]:
    """From py-spy's collapsed stacks: the share of the main thread's samples under each project or
    library frame (inclusive), the largest first. Worker threads waiting on a queue are left out."""
    counts: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or "Thread._bootstrap" in stack or not n.isdigit():
            continue
        total += int(n)
        seen = set()
        for frame in stack.split(";"):
            name = frame.split(" (")[0]
            where = frame.split(" (")[-1].split("/site-packages/")[-1].split("/src/")[-1].split(":")[0]
            key = f"{name} ({where})"
            if key not in seen and ("tongpin" in where or "pymongo" in where or "aio_pika" in where
                                    or "aiormq" in where or "structlog" in where or "fastapi" in where
                                    or "pydantic" in where or "jieba" in where):
                seen.add(key)
                counts[key] = counts.get(key, 0) + int(n)
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
    return {"samples": total, "frames": {k: round(v / total, 3) for k, v in ranked} if total else {}}


async def trial(*, mongodb_url: str, amqp_url: str, rate: float, seconds: float, log_dir: Path,
                port_base: int | None, workload: Workload, echo: Any = print,
                run_dir: Path = RUN_DIR, profile_dir: Path | None = None) -> dict[str, Any]:
    """Start a fresh system, load it at one rate, measure, stop it and remove its data (with ``profile_dir``,
    py-spy samples each service during the middle of the load)."""
    system = System(mongodb_url=mongodb_url, amqp_url=amqp_url, log_dir=log_dir, port_base=port_base)
    system.start()
    try:
        await set_up(system, workload)
        await asyncio.sleep(2)
        idle_rss = system.rss_kib()
        observed = Observed()
        stop = asyncio.Event()
        watchers = [asyncio.create_task(_watch_cases(system, observed, stop)),
                    asyncio.create_task(_watch_oversight(system, observed, stop))]
        await asyncio.sleep(0.5)
        commands_before = await database_commands(system)
        started = time.perf_counter()
        cpu_before = cpu_snapshot(system, run_dir)
        profiling = None
        if profile_dir is not None:
            async def later() -> dict[str, Any]:
                await asyncio.sleep(seconds / 4)
                return await _profile(system, seconds=seconds / 2, out_dir=profile_dir)
            profiling = asyncio.create_task(later())
        await _post_steadily(system, workload, observed, rate=rate, seconds=seconds)
        ended = time.perf_counter()
        cpu_after = cpu_snapshot(system, run_dir)
        drained_s: float | None = None
        while time.perf_counter() - ended < DRAIN_SECONDS:
            counted = observed.counted[-1][1] if observed.counted else 0
            if counted >= len(observed.posted_at):
                drained_s = time.perf_counter() - ended
                break
            await asyncio.sleep(0.25)
        cpu_drained = cpu_snapshot(system, run_dir)
        await asyncio.sleep(1.0)  # the last case.opened events
        stop.set()
        await asyncio.gather(*watchers)
        result = summarise(observed, rate=rate, seconds=seconds, started=started, ended=ended,
                           drained_s=drained_s, idle_rss=idle_rss)
        # All the work of the trial, posting and draining, over the concerns posted (while drained).
        result["cpu_ms_per_concern"] = {
            name: round((cpu_drained[name] - cpu_before.get(name, 0.0)) * 1000 / max(1, len(observed.posted_at)), 1)
            for name in cpu_drained if name != "machine_busy"
        }
        result["database_commands_per_concern"] = commands_per_concern(
            commands_before, await database_commands(system), len(observed.posted_at))
        result["cpu_share_of_one_core"] = {
            name: round((cpu_after[name] - cpu_before.get(name, 0.0)) / (ended - started), 2)
            for name in cpu_after
        }
        if profiling is not None:
            result["profile"] = await profiling
        echo(f"  {rate:>6.1f}/s for {seconds:.0f}s: posted {result['posted']}, errors {result['errors']}, "
             f"case p50/p99 {result['case_visible_ms']['p50']}/{result['case_visible_ms']['p99']} ms, "
             f"oversight p50/p99 {result['oversight_updated_ms']['p50']}/{result['oversight_updated_ms']['p99']} ms, "
             f"backlog growth {result['oversight_backlog_growth_per_s']}/s, drained "
             f"{result['drained_after_s']} s -> {'sustained' if result['sustained'] else 'NOT sustained'}")
        echo("         CPU (share of one core while posting): " + ", ".join(
            f"{k} {v}" for k, v in result["cpu_share_of_one_core"].items()))
        echo("         CPU ms per concern, posting and draining: " + ", ".join(
            f"{k} {v}" for k, v in result["cpu_ms_per_concern"].items()))
        per_concern = result["database_commands_per_concern"]
        echo(f"         database commands per concern: {per_concern['all']} (" + ", ".join(
            f"{name} {per_concern[name]['total']}" for name in ORDER if name in per_concern) + ")")
        return result
    finally:
        system.stop()
        await system.cleanup()


async def highest_sustained(*, mongodb_url: str, amqp_url: str, seconds: float, log_dir: Path,
                            port_base: int | None, start_rate: float, max_rate: float,
                            echo: Any = print) -> dict[str, Any]:
    """Step the rate up by half each time until a trial fails, then try once between the last two."""
    trials: list[dict[str, Any]] = []

    async def run(rate: float) -> dict[str, Any]:
        result = await trial(mongodb_url=mongodb_url, amqp_url=amqp_url, rate=rate, seconds=seconds,
                             log_dir=log_dir, port_base=port_base, workload=Workload(), echo=echo)
        trials.append(result)
        return result

    # Up by half while trials pass; down by half while they fail; then once between the last pass and fail.
    best: dict[str, Any] | None = None
    failed: float | None = None
    rate = start_rate
    while True:
        result = await run(rate)
        if result["sustained"]:
            best = result
            if failed is not None or rate * 1.5 > max_rate:
                break
            rate = round(rate * 1.5, 1)
        else:
            failed = rate
            if best is not None or rate / 2 < 1.0:
                break
            rate = round(rate / 2, 1)
    if best is not None and failed is not None:
        low = best["rate_per_s"]
        middle = round((low + failed) / 2, 1)
        if middle - low >= max(1.0, 0.1 * low):
            result = await run(middle)
            if result["sustained"]:
                best = result
    return {"highest_sustained": best, "trials": trials}


def main() -> None:
    """One trial at one rate (for side-by-side comparisons): prints the result as JSON, saves it with ``--out``."""
    import argparse

    from tongpin.shared.testing.system import env_port_base

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--profile", type=Path, help="sample every service with py-spy into this folder")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    load_before = os.getloadavg()
    result = asyncio.run(trial(
        mongodb_url=os.environ["MONGODB_URL"], amqp_url=os.environ["AMQP_URL"], rate=args.rate,
        seconds=args.seconds, log_dir=RUN_DIR / "bench-logs", port_base=env_port_base(),
        workload=Workload(), profile_dir=args.profile))
    result["load_average_before"] = [round(x, 2) for x in load_before]
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(result, ensure_ascii=False, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
