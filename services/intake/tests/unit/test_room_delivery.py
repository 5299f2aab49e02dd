"""Delivery back out and retention on in-memory repositories; the receiving end is an in-process HTTP transport."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tongpin.intake.domain import signing
from tongpin.intake.handlers import channels as channel_room
from tongpin.intake.handlers import delivery, retention
from tongpin.intake.handlers.common import Trace
from tongpin.intake.handlers.messages import accept_message
from tongpin.intake.memory import IntakeStores
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.events import BroadcastRequested, ReplyRequested, make_event
from tongpin.shared.testing.memory import staged_events

pytestmark = pytest.mark.unit

SECRET = "whsec-测试-secret"
SETTINGS = IntakeSettings(webhook_secrets={"officers-01": SECRET}, delivery_backoff_seconds=[5, 30],  # type: ignore[arg-type]
                          delivery_max_attempts=3)
NOW = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)


class Receiver:
    """The channel's webhook: fails a number of times, then takes what it is sent."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(503 if len(self.requests) <= self.failures else 200, json={"ok": True})


async def _channels(stores: IntakeStores) -> None:
    await channel_room.create_channel(channels=stores.channels, document={
        "_id": "officers-01", "kind": "officers", "name": "民警群", "external_group_id": "g-1", "unit": "unit-01",
        "delivery": {"adapter": "webhook", "url": "https://hooks.example.test/in"}})


async def _broadcast(stores: IntakeStores, *channel_ids: str) -> None:
    data = BroadcastRequested(broadcast_id="b-1", channel_ids=list(channel_ids), title="学习通知",
                              text="本周学习任务：……", requested_by="s-1", requested_at=NOW)
    await delivery.on_broadcast_requested(data=data, channels=stores.channels, deliveries=stores.deliveries,
                                          trace=Trace())


async def _run(stores: IntakeStores, receiver: Receiver, now: datetime | None = None) -> int:
    """One pass of the delivery worker (deliveries keep the system clock: due now unless given a moment)."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as http:
        return await delivery.deliver_due(deliveries=stores.deliveries, channels=stores.channels, settings=SETTINGS,
                                          http=http, now=now)


async def test_a_broadcast_is_delivered_signed_once_per_channel_and_announced(
    stores: IntakeStores, business_clock: Any
) -> None:
    await _channels(stores)
    await _broadcast(stores, "officers-01", "officers-01", "nowhere")
    receiver = Receiver()
    assert await _run(stores, receiver) == 1
    assert await _run(stores, receiver, datetime.now(UTC) + timedelta(days=1)) == 0  # nothing left due
    (request,) = receiver.requests
    body = json.loads(request.content)
    assert (body["title"], body["text"]) == ("学习通知", "本周学习任务：……")
    assert request.headers["Idempotency-Key"] == "broadcast:b-1:officers-01"
    assert signing.verify(body=request.content, secret=SECRET, header=request.headers[signing.SIGNATURE_HEADER],
                          now=int(datetime.now(UTC).timestamp()))
    docs, _ = await stores.deliveries.page(query={}, limit=10, offset=0)
    assert sorted((d["channel_id"], d["status"]) for d in docs) == [("nowhere", "failed"), ("officers-01", "delivered")]
    delivered = staged_events(stores.db, event_type="broadcast.delivered")
    assert [(e.data["channel_id"], e.data["outcome"], e.data["unit"]) for e in delivered] == [
        ("officers-01", "delivered", "unit-01")]


async def test_a_failed_attempt_is_retried_after_its_back_off_and_given_up_after_the_last(
    stores: IntakeStores, business_clock: Any
) -> None:
    await _channels(stores)
    await _broadcast(stores, "officers-01")
    receiver = Receiver(failures=10)
    assert await _run(stores, receiver) == 1
    stored = await stores.deliveries.get("broadcast:b-1:officers-01")
    assert stored is not None and stored["status"] == "pending" and stored["attempts"] == 1
    assert stored["next_attempt_at"] - stored["attempt_log"][0]["at"] == timedelta(seconds=5)
    assert await _run(stores, receiver, stored["next_attempt_at"] - timedelta(seconds=1)) == 0  # not due yet
    for _ in range(2):
        moment = (await stores.deliveries.get("broadcast:b-1:officers-01") or {})["next_attempt_at"]
        assert await _run(stores, receiver, moment) == 1
    stored = await stores.deliveries.get("broadcast:b-1:officers-01")
    assert stored is not None and (stored["status"], stored["attempts"]) == ("failed", 3)
    assert [a["detail"] for a in stored["attempt_log"]] == ["webhook answered 503"] * 3
    assert [e.data["outcome"] for e in staged_events(stores.db, event_type="broadcast.delivered")] == ["failed"]


async def test_a_reply_goes_back_to_the_concerns_own_channel_and_waits_for_a_concern_not_yet_arrived(
    stores: IntakeStores, business_clock: Any
) -> None:
    await _channels(stores)
    reply = ReplyRequested(reply_id="r-1", concern_id="c-1", case_id="case-1", channel_id="families-09",
                           staff_id="s-1", text="您好，已收到，我们会尽快联系您。", requested_at=NOW)
    with pytest.raises(LookupError):
        await delivery.on_reply_requested(event=make_event(reply), data=reply, messages=stores.messages,
                                          channels=stores.channels, receipts=stores.receipts,
                                          deliveries=stores.deliveries)
    await accept_message(repo=stores.messages, channel_id="officers-01", channel_kind="officers",
                         source_message_id="wx-1", text="想请假", sent_at=NOW, author_member_id=None,
                         correlation_id=None, traceparent=None, concern_id="c-1")
    for _ in range(2):  # redelivered: still one delivery
        await delivery.on_reply_requested(event=make_event(reply), data=reply, messages=stores.messages,
                                          channels=stores.channels, receipts=stores.receipts,
                                          deliveries=stores.deliveries)
    docs, total = await stores.deliveries.page(query={}, limit=10, offset=0)
    assert total == 1 and docs[0]["channel_id"] == "officers-01" and "text" not in docs[0]


async def test_retention_removes_old_text_and_keeps_ids_times_and_channels(
    stores: IntakeStores, business_clock: Any
) -> None:
    for source_id, sent in (("old", NOW - timedelta(days=400)), ("new", NOW - timedelta(days=10))):
        await accept_message(repo=stores.messages, channel_id="officers-01", channel_kind="officers",
                             source_message_id=source_id, text=f"{source_id} 的内容", sent_at=sent,
                             author_member_id=None, correlation_id=None, traceparent=None, concern_id=f"c-{source_id}")
    purged = await retention.purge_expired_text(messages=stores.messages, deliveries=stores.deliveries,
                                                retention_days=365, now=NOW)
    assert purged == {"messages": 1, "deliveries": 0}
    old, new = await stores.messages.get("c-old"), await stores.messages.get("c-new")
    assert old is not None and old["text"] is None and old["channel_id"] == "officers-01" and old["text_purged_at"]
    assert new is not None and new["text"] == "new 的内容"
    again = await retention.purge_expired_text(messages=stores.messages, deliveries=stores.deliveries,
                                               retention_days=365, now=NOW)
    assert again == {"messages": 0, "deliveries": 0}
