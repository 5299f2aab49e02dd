"""Event -> handler wiring for intake."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongpin.intake.handlers import delivery, public, reading
from tongpin.intake.handlers.common import Trace
from tongpin.intake.repository import (
    ChannelRepository,
    DeliveryRepository,
    MessageRepository,
    ReadingRepository,
    ReceiptRepository,
)
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import (
    BroadcastRequested,
    ConcernTriaged,
    OversightItemClosed,
    OversightItemOpened,
    OversightItemUpdated,
    ReplyRequested,
    StaffUpdated,
)
from tongpin.shared.messaging.consumer import Handler
from tongpin.shared.runtime import ServiceRuntime


def handlers(runtime: ServiceRuntime) -> Mapping[str, Handler]:
    db = runtime.db
    messages, channels = MessageRepository(db), ChannelRepository(db)
    receipts, deliveries = ReceiptRepository(db), DeliveryRepository(db)
    reading_list = ReadingRepository(db)
    settings = runtime.settings if isinstance(runtime.settings, IntakeSettings) else IntakeSettings()
    targets = settings.reading_targets()

    async def on_concern_triaged(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, ConcernTriaged)
        await reading.record_decision(reading=reading_list, messages=messages, targets=targets, decision=data)

    async def on_reply_requested(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, ReplyRequested)
        await delivery.on_reply_requested(event=event, data=data, messages=messages, channels=channels,
                                   receipts=receipts, deliveries=deliveries)
        runtime.extras.get("wake_delivery", lambda: None)()

    async def on_broadcast_requested(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, BroadcastRequested)
        await delivery.on_broadcast_requested(data=data, channels=channels, deliveries=deliveries,
                                       trace=Trace(event.correlationid, event.traceparent))
        runtime.extras.get("wake_delivery", lambda: None)()

    async def on_item_opened(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, OversightItemOpened)
        await public.on_oversight_status(concern_id=data.concern_id, item_id=data.item_id, status=data.status,
                                    at=data.opened_at, messages=messages, receipts=receipts)

    async def on_item_updated(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, OversightItemUpdated)
        await public.on_oversight_status(concern_id=data.concern_id, item_id=data.item_id, status=data.status,
                                    at=data.changed_at, messages=messages, receipts=receipts)

    async def on_item_closed(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, OversightItemClosed)
        await public.on_oversight_status(concern_id=data.concern_id, item_id=data.item_id, status=data.status,
                                    at=data.closed_at, messages=messages, receipts=receipts)

    async def on_staff_updated(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, StaffUpdated)
        await runtime.staff_standing.record(staff_id=data.staff_id, roles=list(data.roles), active=data.active,
                                            updated_at=data.updated_at)

    return {
        StaffUpdated.routing_key(): on_staff_updated,
        ReplyRequested.routing_key(): on_reply_requested,
        BroadcastRequested.routing_key(): on_broadcast_requested,
        OversightItemOpened.routing_key(): on_item_opened,
        OversightItemUpdated.routing_key(): on_item_updated,
        OversightItemClosed.routing_key(): on_item_closed,
        ConcernTriaged.routing_key(): on_concern_triaged,
    }
