"""Event -> handler wiring for counselling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongpin.counselling.context import CounsellingContext
from tongpin.counselling.handlers import broadcasts, case_opening, notifications
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import (
    BroadcastDelivered,
    ConcernMerged,
    ConcernRaised,
    ConcernTriaged,
    EscalationRaised,
    ReadingOverdue,
)
from tongpin.shared.messaging.consumer import Handler, OwnInbox
from tongpin.shared.runtime import ServiceRuntime


def handlers(runtime: ServiceRuntime) -> Mapping[str, Handler]:
    ctx: CounsellingContext = runtime.extras["counselling"]

    async def on_concern_raised(event: CloudEvent, data: Any) -> None:
        await case_opening.record_concern_text(
            repo=ctx.cases, staff=ctx.staff, feed=ctx.feed, targets=ctx.targets,
            event=event, concern=data, webhook=ctx.webhook
        )

    async def on_concern_triaged(event: CloudEvent, data: Any) -> None:
        await case_opening.record_decision(
            repo=ctx.cases, staff=ctx.staff, feed=ctx.feed, targets=ctx.targets,
            event=event, decision=data, webhook=ctx.webhook
        )

    async def on_concern_merged(event: CloudEvent, data: Any) -> None:
        await case_opening.record_merge(repo=ctx.cases, event=event, merge=data)

    async def on_escalation_raised(event: CloudEvent, data: Any) -> None:
        await case_opening.record_crisis(
            repo=ctx.cases, staff=ctx.staff, feed=ctx.feed, targets=ctx.targets,
            event=event, crisis=data, webhook=ctx.webhook
        )

    async def on_broadcast_delivered(event: CloudEvent, data: Any) -> None:
        await broadcasts.record_broadcast_delivery(broadcasts=ctx.broadcasts, delivered=data)

    async def on_reading_overdue(event: CloudEvent, data: Any) -> None:
        await notifications.notify_reading_overdue(staff=ctx.staff, feed=ctx.feed, overdue=data, webhook=ctx.webhook)

    return {
        ReadingOverdue.routing_key(): on_reading_overdue,
        # The text merged into the concern keyed by its id, the case keyed by the concern: a repeat changes nothing.
        ConcernRaised.routing_key(): OwnInbox(on_concern_raised),
        ConcernTriaged.routing_key(): on_concern_triaged,
        ConcernMerged.routing_key(): on_concern_merged,
        EscalationRaised.routing_key(): on_escalation_raised,
        BroadcastDelivered.routing_key(): on_broadcast_delivered,
    }
