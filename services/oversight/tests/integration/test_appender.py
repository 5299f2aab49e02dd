"""The ledger appender against the real database: batches recorded exactly once through deaths and repeats.

A process is "killed" by making one of its writes raise, which leaves the database exactly as a SIGKILL
at that point would; a new appender (a restarted process, nothing kept in memory) then gets the same
events again, as the broker would redeliver them. The counters are compared with the in-memory tally
of the same events, the chain is verified, and nothing planned is left over.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import pytest

from tongpin.oversight.appender import DUPLICATE, RECORDED, LedgerAppender
from tongpin.oversight.domain.tally import Tally
from tongpin.oversight.handlers.common import NotYet
from tongpin.oversight.handlers.ledger import verify_ledger
from tongpin.oversight.repository import (
    INDEXES,
    LEDGER_BATCHES,
    BatchRepository,
    ItemRepository,
    LedgerRepository,
    RejectedRepository,
    StatisticsRepository,
    SubjectRepository,
    ThreadRepository,
)
from tongpin.shared import events
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.testing.services import ServiceProcess, eventually

pytestmark = pytest.mark.integration

META = {"_id", "kind", "key", "unit", "batch", "marks"}


class Died(Exception):
    """Stands for the process being killed at this write."""


def at(day: int, hour: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def workload(n: int) -> list[CloudEvent]:
    """n concerns triaged (a few for oversight), a case opened for most, some resolved, members joining."""
    out: list[events.EventData] = []
    for i in range(n):
        unit = f"u-{i % 3}"
        route = "oversight" if i % 7 == 0 else "answer_online"
        kind = "families" if route == "oversight" else "officers"
        out.append(events.ConcernTriaged(
            concern_id=f"c-{i}", channel_id=f"{kind}-1", channel_kind=kind, unit=unit,  # type: ignore[arg-type]
            category="housing" if i % 2 else "career", severity="medium", route=route,  # type: ignore[arg-type]
            ruleset_version=1, triaged_at=at(1 + i % 20)))
        out.append(events.MemberJoined(member_id=f"m-{i}", member_kind="officer", channel_id="officers-1",
                                       channel_kind="officers", unit=unit, joined_at=at(1 + i % 20)))
        if route != "oversight":
            out.append(events.CaseOpened(case_id=f"case-{i}", concern_id=f"c-{i}", channel_kind=kind, unit=unit,
                                         category="housing" if i % 2 else "career",  # type: ignore[arg-type]
                                         severity="medium", opened_at=at(1 + i % 20, 3)))
            if i % 3 == 0:
                out.append(events.CaseResolved(
                    case_id=f"case-{i}", method="answered_online", outcome_code="question_answered",  # type: ignore[arg-type]
                    channel_kind=kind, unit=unit, category="housing" if i % 2 else "career",  # type: ignore[arg-type]
                    severity="medium", opened_at=at(1 + i % 20, 3), first_response_at=at(1 + i % 20, 4),
                    first_response_met=True, resolution_met=True, resolved_at=at(1 + i % 20, 3) + timedelta(days=2)))
    return [events.make_event(data) for data in out]


def appender(db: Any) -> LedgerAppender:
    """A fresh appender, as a restarted process has: nothing in memory."""
    return LedgerAppender(
        ledger=LedgerRepository(db), batches=BatchRepository(db), stats=StatisticsRepository(db),
        subjects=SubjectRepository(db), rejected=RejectedRepository(db), items=ItemRepository(db),
        threads_repo=ThreadRepository(db), max_deferrals=2,
    )


def batch_of(evs: list[CloudEvent]) -> list[tuple[CloudEvent, events.EventData]]:
    return [(e, events.decode_data(e)) for e in evs]


@pytest.fixture
async def db(mongo_client: Any, clean_run: str) -> Any:
    database = mongo_client[f"{clean_run}_oversight"]
    for name, models in INDEXES.items():
        await database[name].create_indexes(models)
    return database


async def assert_counted_once(db: Any, evs: list[CloudEvent]) -> None:
    """Ledger, chain, counters and leftovers after every event of ``evs`` was recorded exactly once."""
    tally = Tally()
    for e in evs:
        tally.record(events.decode_data(e), event_id=e.id)
    stored = {doc["_id"]: {k: v for k, v in doc.items() if k not in META} async for doc in db["statistics"].find({})}
    expected = {scope: {k: v for k, v in doc.items() if k not in META} for scope, doc in tally.docs.items()}
    assert stored == expected
    ledger = db["ledger"]
    assert await ledger.count_documents({}) == len(evs)
    assert sorted([d["_id"] async for d in ledger.find({}, {"_id": 1})]) == sorted(e.id for e in evs)
    chain = await verify_ledger(ledger=LedgerRepository(db))
    assert chain["ok"] and chain["verified"] == len(evs), chain
    assert await db[LEDGER_BATCHES].count_documents({}) == 0
    items = await db["items"].count_documents({})
    assert items == sum(1 for e in evs if e.type.startswith("concern.triaged") and e.data["route"] == "oversight")


async def test_a_batch_is_one_chain_and_counts_like_the_tally(db):
    evs = workload(30)
    outcomes = await appender(db).record_batch(batch_of(evs))
    assert outcomes == [RECORDED] * len(evs)
    await assert_counted_once(db, evs)
    seqs = [d["seq"] async for d in db["ledger"].find({}).sort("seq", 1)]
    assert seqs == list(range(1, len(evs) + 1))


@pytest.mark.parametrize("dies_at", ["threads", "statistics", "subjects", "ledger"])
async def test_a_process_killed_after_writing_its_batch_plan_finishes_it_once_on_restart(db, dies_at):
    evs = workload(24)
    first = appender(db)
    await first.record_batch(batch_of(evs[:5]))  # an earlier batch, fully done
    calls = {"n": 0}

    def dying(original: Any, after: int) -> Any:
        async def write(*args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] > after:
                raise Died
            return await original(*args, **kwargs)
        return write

    target = {"threads": (first._threads, "write", 3), "statistics": (first._stats, "apply_batch", 4),
              "subjects": (first._subjects, "introduce_many", 0), "ledger": (first._ledger, "insert_records", 0)}
    repo, name, after = target[dies_at]
    setattr(repo, name, dying(getattr(repo, name), after))
    with pytest.raises(Died):
        await first.record_batch(batch_of(evs[5:]))
    assert await db[LEDGER_BATCHES].count_documents({}) == 1

    # The restarted process gets the unacknowledged events again, in other batches, with a new one.
    restarted = appender(db)
    more = [events.make_event(events.MemberJoined(member_id="m-new", member_kind="officer", channel_id="officers-1",
                                                  channel_kind="officers", unit="u-1", joined_at=at(21)))]
    redelivered = evs[5:]
    outcomes = await restarted.record_batch(batch_of(redelivered[:7]))
    outcomes += await restarted.record_batch(batch_of(redelivered[7:] + more))
    assert outcomes == [DUPLICATE] * len(redelivered) + [RECORDED]
    await assert_counted_once(db, evs + more)


async def test_a_process_killed_before_its_plan_was_written_plans_the_events_again(db):
    evs = workload(10)
    first = appender(db)

    async def died(plan: dict[str, Any]) -> None:
        raise Died

    first._batches.write = died  # type: ignore[method-assign]
    with pytest.raises(Died):
        await first.record_batch(batch_of(evs))
    assert await db["ledger"].count_documents({}) == 0 and await db["statistics"].count_documents({}) == 0
    outcomes = await appender(db).record_batch(batch_of(evs))
    assert outcomes == [RECORDED] * len(evs)
    await assert_counted_once(db, evs)


async def test_an_event_twice_in_a_batch_and_again_later_counts_once(db):
    evs = workload(6)
    app = appender(db)
    outcomes = await app.record_batch(batch_of(evs[:4] + evs[:2]))
    assert outcomes == [RECORDED] * 4 + [DUPLICATE] * 2
    outcomes = await app.record_batch(batch_of(evs))
    assert outcomes == [DUPLICATE] * 4 + [RECORDED] * (len(evs) - 4)
    await assert_counted_once(db, evs)


async def test_an_event_ahead_of_its_subject_in_a_batch_is_not_yet_and_the_rest_is_recorded(db):
    evs = workload(4)
    case_opened = next(i for i, e in enumerate(evs) if e.type.startswith("case.opened"))
    resolved = next(i for i, e in enumerate(evs) if e.type.startswith("case.resolved"))
    order = [resolved] + [i for i in range(len(evs)) if i != resolved]
    outcomes = await appender(db).record_batch(batch_of([evs[i] for i in order]))
    assert isinstance(outcomes[0], NotYet) and outcomes[1:] == [RECORDED] * (len(evs) - 1)
    assert case_opened != resolved
    # Its retry finds the case and is recorded; the deferral is forgotten.
    assert await appender(db).record_batch(batch_of([evs[resolved]])) == [RECORDED]
    assert await db["rejected"].count_documents({}) == 0
    await assert_counted_once(db, [evs[i] for i in order[1:]] + [evs[resolved]])


async def test_oversight_killed_while_recording_a_stream_records_every_event_once(
    settings_env, clean_run, mongo_client, amqp_url, publish, event_capture, tmp_path
):
    """SIGKILL the real process while batches are being written; after the restart every event is in the
    ledger once, the chain verifies, the counters equal the tally and nothing is left on the broker."""
    db = mongo_client[f"{clean_run}_oversight"]
    settings = settings_env("oversight")
    evs = workload(150)
    process = ServiceProcess("oversight", settings, log_dir=tmp_path)
    try:
        process.start(timeout=60)
        for e in evs:
            await publish(e)
        await eventually(lambda: db["ledger"].count_documents({}), timeout=60, interval=0.01)
        process.kill()
        killed_at = await db["ledger"].count_documents({})
        process = ServiceProcess("oversight", settings, log_dir=tmp_path)
        process.start(timeout=60)
        opened = sum(1 for e in evs if e.type.startswith("concern.triaged") and e.data["route"] == "oversight")

        def item_events() -> list[CloudEvent]:
            return list({e.id: e for e in event_capture.events if e.type.startswith("oversight.item")}.values())

        await eventually(lambda: len(item_events()) == opened, timeout=120)
        everything = evs + item_events()

        async def all_recorded() -> bool:
            return await db["ledger"].count_documents({}) == len(everything)

        await eventually(all_recorded, timeout=120, interval=0.5)
    finally:
        process.stop()
    assert 0 < killed_at < len(everything), "the process was killed while it had work left"
    await assert_counted_once(db, everything)
    assert await db["rejected"].count_documents({}) == 0
    assert await queue_depths(amqp_url, clean_run) == (0, 0)


async def queue_depths(amqp_url: str, run_id: str) -> tuple[int, int]:
    """Messages left in oversight's queue and its dead-letter queue (unacked ones count once their channel closed)."""
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(f"{run_id}.oversight.events", passive=True)
        dlq = await channel.declare_queue(f"{run_id}.oversight.dlq", passive=True)
        return queue.declaration_result.message_count or 0, dlq.declaration_result.message_count or 0
    finally:
        await connection.close()


async def test_a_stopped_appender_leaves_no_worker_running(db):
    ledger = appender(db)
    evs = workload(3)
    for event, data in batch_of(evs):
        assert await ledger.record(event, data) == RECORDED
    worker = ledger._worker
    assert worker is not None and not worker.done()  # idle, waiting for the next event
    await ledger.stop()
    assert worker.done() and ledger._worker is None
    await assert_counted_once(db, evs)
