"""Event -> handler wiring for oversight: it binds every type except the three that carry text."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from tongpin.oversight import handlers as oversight_handlers
from tongpin.oversight.repository import (
    ItemRepository,
    LedgerRepository,
    RejectedRepository,
    StatisticsRepository,
    SubjectRepository,
    ThreadRepository,
)
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import CONSUMES, StaffUpdated
from tongpin.shared.messaging.consumer import Handler
from tongpin.shared.runtime import ServiceRuntime


def handlers(runtime: ServiceRuntime) -> Mapping[str, Handler]:
    ledger = ledger_repository(runtime)
    stats, subjects = statistics_repository(runtime), SubjectRepository(runtime.db)
    rejected, items = RejectedRepository(runtime.db), ItemRepository(runtime.db)
    threads_repo = ThreadRepository(runtime.db)
    zone = runtime.settings.bureau_zone
    # The consumer retries a "not yet" once per back-off tier; the last delivery records the refusal.
    max_deferrals = len(runtime.settings.retry_delays)
    in_flight: dict[str, asyncio.Lock] = {}

    async def on_event(event: CloudEvent, data: Any) -> None:
        # Two deliveries of one event in this process run one after the other, never interleaved.
        lock = in_flight.setdefault(event.id, asyncio.Lock())
        try:
            async with lock:
                await oversight_handlers.record_event(
                    event=event, data=data, ledger=ledger, stats=stats, subjects=subjects, rejected=rejected,
                    items=items, threads_repo=threads_repo, max_deferrals=max_deferrals, zone=zone,
                )
        finally:
            if not lock.locked() and in_flight.get(event.id) is lock:
                del in_flight[event.id]
        if isinstance(data, StaffUpdated):
            # Tokens of someone deactivated, or of roles taken away, are refused from now on.
            await runtime.staff_standing.record(staff_id=data.staff_id, roles=list(data.roles), active=data.active,
                                                updated_at=data.updated_at)

    return dict.fromkeys(CONSUMES["oversight"], on_event)


def ledger_repository(runtime: ServiceRuntime) -> LedgerRepository:
    """The process's one ledger writer (single writer: one lock per runtime)."""
    if "ledger" not in runtime.extras:
        runtime.extras["ledger"] = LedgerRepository(runtime.db, lock=asyncio.Lock())
    repo: LedgerRepository = runtime.extras["ledger"]
    return repo


def statistics_repository(runtime: ServiceRuntime) -> StatisticsRepository:
    """The process's one statistics writer (its lock serialises counter updates)."""
    if "statistics" not in runtime.extras:
        runtime.extras["statistics"] = StatisticsRepository(runtime.db, lock=asyncio.Lock())
    repo: StatisticsRepository = runtime.extras["statistics"]
    return repo
