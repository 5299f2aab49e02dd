"""Event -> handler wiring for oversight: it binds every type except the three that carry text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongpin.oversight.appender import LedgerAppender
from tongpin.oversight.repository import (
    BatchRepository,
    ItemRepository,
    LedgerRepository,
    RejectedRepository,
    StatisticsRepository,
    SubjectRepository,
    ThreadRepository,
)
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import CONSUMES, StaffUpdated
from tongpin.shared.messaging.consumer import Handler, OwnInbox
from tongpin.shared.runtime import ServiceRuntime


def handlers(runtime: ServiceRuntime) -> Mapping[str, Handler]:
    appender = ledger_appender(runtime)

    async def on_event(event: CloudEvent, data: Any) -> None:
        # The ledger is the inbox: the appender finds a repeat of an event there.
        await appender.record(event, data)
        if isinstance(data, StaffUpdated):
            # Tokens of someone deactivated, or of roles taken away, are refused from now on.
            await runtime.staff_standing.record(staff_id=data.staff_id, roles=list(data.roles), active=data.active,
                                                updated_at=data.updated_at)

    return dict.fromkeys(CONSUMES["oversight"], OwnInbox(on_event))


def ledger_appender(runtime: ServiceRuntime) -> LedgerAppender:
    """The process's one writer of the ledger, threads and statistics."""
    if "appender" not in runtime.extras:
        db = runtime.db
        runtime.extras["appender"] = LedgerAppender(
            ledger=ledger_repository(runtime), batches=BatchRepository(db), stats=statistics_repository(runtime),
            subjects=SubjectRepository(db), rejected=RejectedRepository(db), items=ItemRepository(db),
            threads_repo=ThreadRepository(db),
            # The consumer retries a "not yet" once per back-off tier; the last delivery records the refusal.
            max_deferrals=len(runtime.settings.retry_delays), zone=runtime.settings.bureau_zone,
            max_batch=getattr(runtime.settings, "max_batch", 200),
            linger=getattr(runtime.settings, "batch_linger_seconds", 0.0),
        )
        runtime.on_stop.append(runtime.extras["appender"].stop)
    appender: LedgerAppender = runtime.extras["appender"]
    return appender


def ledger_repository(runtime: ServiceRuntime) -> LedgerRepository:
    if "ledger" not in runtime.extras:
        runtime.extras["ledger"] = LedgerRepository(runtime.db)
    repo: LedgerRepository = runtime.extras["ledger"]
    return repo


def statistics_repository(runtime: ServiceRuntime) -> StatisticsRepository:
    if "statistics" not in runtime.extras:
        runtime.extras["statistics"] = StatisticsRepository(runtime.db)
    repo: StatisticsRepository = runtime.extras["statistics"]
    return repo
