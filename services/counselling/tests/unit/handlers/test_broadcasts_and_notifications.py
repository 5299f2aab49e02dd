"""Broadcasts and their delivery reports; the notification feed, reading alerts and the signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import httpx
import pytest

from tongpin.counselling.handlers import broadcasts, notifications
from tongpin.shared import events as ev

pytestmark = pytest.mark.unit


async def test_a_broadcast_is_stored_and_requested_with_its_text(world) -> None:
    committee = await world.add_staff("cm-1", "committee_member")
    doc = await broadcasts.compose_broadcast(broadcasts=world.broadcasts, title="学习任务",
                                             text="本周学习：忠诚、干净、担当。",
                                             channel_ids=["ch-officers", "ch-families"], by=committee,
                                             trace=world.trace)
    assert (await world.broadcasts.get(doc["_id"]))["text"] == "本周学习：忠诚、干净、担当。"
    [requested] = world.staged("broadcasts")
    assert requested.type == "broadcast.requested.v1" and requested.data["text"] == "本周学习：忠诚、干净、担当。"
    assert requested.data["channel_ids"] == ["ch-officers", "ch-families"]


async def test_the_latest_delivery_report_per_channel_wins_and_figures_add_up(world) -> None:
    committee = await world.add_staff("cm-1", "committee_member")
    doc = await broadcasts.compose_broadcast(broadcasts=world.broadcasts, title="t", text="x",
                                             channel_ids=["ch-a", "ch-b", "ch-c"], by=committee, trace=world.trace)

    def report(channel: str, outcome: str, minutes: int) -> ev.BroadcastDelivered:
        return ev.BroadcastDelivered(broadcast_id=doc["_id"], channel_id=channel, channel_kind="officers",
                                     outcome=outcome, attempts=1, delivered_at=world.now() + timedelta(minutes=minutes))

    for delivered in (report("ch-a", "failed", 1), report("ch-a", "delivered", 5), report("ch-a", "failed", 3),
                      report("ch-b", "failed", 2)):
        await broadcasts.record_broadcast_delivery(broadcasts=world.broadcasts, delivered=delivered)
    figures = await broadcasts.broadcast_figures(broadcasts=world.broadcasts, doc=doc)
    assert (figures["channels"], figures["delivered"], figures["failed"], figures["pending"]) == (3, 1, 1, 1)
    assert [c["outcome"] for c in figures["per_channel"]] == ["delivered", "failed", "pending"]


async def test_a_notification_id_is_added_once(world) -> None:
    for _ in range(2):
        await notifications.notify(feed=world.feed, staff_id="pw-1", kind="crisis", notification_id="n-1",
                                   case_id="case-1", webhook=False, severity="critical")
    [doc] = await world.feed_of("pw-1")
    assert (doc["kind"], doc["details"], doc["read_at"]) == ("crisis", {"severity": "critical"}, None)


async def test_an_overdue_reading_goes_to_the_on_call_staff_else_the_coordinators(world) -> None:
    overdue = ev.ReadingOverdue(concern_id="c-1", channel_kind="officers", severity="high", target="high",
                                received_at=world.now(), due_at=world.now() + timedelta(hours=1),
                                overdue_at=world.now() + timedelta(hours=1))
    await world.add_staff("coord-1", "centre_coordinator")
    await notifications.notify_reading_overdue(staff=world.staff, feed=world.feed, overdue=overdue, webhook=False)
    assert [n["kind"] for n in await world.feed_of("coord-1")] == ["reading_overdue"]
    await world.add_staff("psy-on", "psychologist", on_call=True)
    await notifications.notify_reading_overdue(staff=world.staff, feed=world.feed, overdue=overdue, webhook=False)
    assert [n["details"]["concern_id"] for n in await world.feed_of("psy-on")] == ["c-1"]
    assert len(await world.feed_of("coord-1")) == 1


async def test_the_webhook_posts_pending_notifications_signed_and_stops_at_a_failure(world) -> None:
    for n in range(3):
        await notifications.notify(feed=world.feed, staff_id="pw-1", kind="assignment", notification_id=f"n-{n}",
                                   case_id=f"case-{n}", webhook=True)
    received: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(500 if len(received) == 2 else 200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        sent = await notifications.deliver_webhooks(feed=world.feed, http=http, url="https://im.example/hook",
                                                    secret=b"s3cret")
        assert sent == 1 and len(received) == 2
        first = received[0]
        expected = "sha256=" + hmac.new(b"s3cret", first.content, hashlib.sha256).hexdigest()
        assert first.headers["x-tongpin-signature"] == expected
        assert json.loads(first.content)["id"] == "n-0"
        assert len(await world.feed.webhook_pending()) == 2
        assert await notifications.deliver_webhooks(feed=world.feed, http=http, url="https://im.example/hook",
                                                    secret=b"s3cret") == 2
    assert await world.feed.webhook_pending() == []
