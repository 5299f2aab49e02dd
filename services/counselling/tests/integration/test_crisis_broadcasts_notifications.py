"""The crisis fast path, broadcasts and their delivery figures, the notification feed and its webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from tongpin.counselling.handlers import notifications as handlers
from tongpin.shared.events import BroadcastDelivered, EscalationRaised
from tongpin.shared.testing.services import eventually

pytestmark = pytest.mark.integration


async def test_crisis_concern_reaches_the_on_call_psychologist_at_once(counselling, event_capture):
    await counselling.add_staff("psychologist")  # not on call
    on_call = await counselling.add_staff("psychologist", on_call=True, name="值班心理师")
    concern_id = f"c-{uuid.uuid4().hex[:12]}"
    await counselling.publish(EscalationRaised(
        concern_id=concern_id, channel_id="families-unit-01", channel_kind="families", category="mental_distress",
        severity="critical", flags=["self_harm"], raised_at=datetime.now(UTC)), subject=concern_id)
    case = await counselling.case(f"case-{concern_id}")
    assert case["crisis"] is True and case["assignee_id"] == on_call["staff_id"]
    assert case["assignee_role"] == "psychologist" and case["severity"] == "critical"
    # The case is stored before its notification: wait for the notification rather than race it.
    feed = await eventually(lambda: counselling.feed(on_call["staff_id"]))
    assert [n["kind"] for n in feed] == ["crisis"] and feed[0]["case_id"] == case["case_id"]
    opened = (await event_capture.wait_for_type("case.opened"))[0].data
    assert opened["crisis"] is True
    # Triage's ordinary decision and the text arriving afterwards join the same case.
    await counselling.raise_concern(concern_id=concern_id, text="他说不想活了，我很害怕", channel_kind="families",
                                    severity="critical", crisis=True, route="psych_support",
                                    assignee_role="psychologist")

    async def with_text():
        case = await counselling.case(f"case-{concern_id}")
        return case if case["concerns"][0]["text"] else None

    case = await eventually(with_text)
    assert case["concerns"][0]["text"] == "他说不想活了，我很害怕"
    assert await counselling.db["cases"].count_documents({}) == 1
    assert len(event_capture.of_type("case.opened")) == 1


async def test_crisis_without_anyone_on_call_alerts_the_coordinators(counselling):
    coordinator = await counselling.add_staff("centre_coordinator")
    concern_id = f"c-{uuid.uuid4().hex[:12]}"
    await counselling.publish(EscalationRaised(
        concern_id=concern_id, channel_id="officers-unit-01", channel_kind="officers", category="mental_distress",
        severity="critical", flags=["self_harm"], raised_at=datetime.now(UTC)), subject=concern_id)
    case = await counselling.case(f"case-{concern_id}")
    assert case["assignee_id"] is None
    feed = await eventually(lambda: counselling.feed(coordinator["staff_id"], "centre_coordinator"))
    assert [n["kind"] for n in feed] == ["crisis_unassigned"]


async def test_broadcast_is_requested_and_delivery_figures_come_back(counselling, event_capture):
    title, text = "本月教育任务", "请各位同志学习《廉洁自律准则》，并于月底前完成线上测试。📚"
    composed = await counselling.client.post("/broadcasts", headers=counselling.as_("committee_member", sub="cm-1"),
                                             json={"title": title, "text": text,
                                                   "channel_ids": ["officers-all", "families-all", "officers-all"]})
    assert composed.status_code == 201, composed.text
    broadcast = composed.json()
    assert broadcast["channel_ids"] == ["officers-all", "families-all"]
    assert broadcast["figures"] == {**broadcast["figures"], "channels": 2, "pending": 2, "delivered": 0}
    requested = (await event_capture.wait_for_type("broadcast.requested"))[0].data
    assert requested["text"] == text and requested["title"] == title and requested["requested_by"] == "cm-1"
    now = datetime.now(UTC)
    for channel, outcome in (("officers-all", "delivered"), ("families-all", "failed")):
        await counselling.publish(BroadcastDelivered(
            broadcast_id=broadcast["broadcast_id"], channel_id=channel,
            channel_kind="officers" if channel.startswith("officers") else "families", outcome=outcome,  # type: ignore[arg-type]
            attempts=3, delivered_at=now))

    async def figures():
        response = await counselling.client.get(f"/broadcasts/{broadcast['broadcast_id']}",
                                                headers=counselling.as_("centre_coordinator"))
        body = response.json()["figures"]
        return body if body["pending"] == 0 else None

    result = await eventually(figures)
    assert (result["delivered"], result["failed"], result["channels"]) == (1, 1, 2)
    listing = await counselling.client.get("/broadcasts", headers=counselling.as_("committee_member"))
    assert listing.json()["items"][0]["text"] == text
    for role in ("political_worker", "auditor"):
        assert (await counselling.client.post("/broadcasts", headers=counselling.as_(role), json={
            "title": "x", "text": "y", "channel_ids": ["officers-all"]})).status_code == 403
    empty = await counselling.client.post("/broadcasts", headers=counselling.as_("centre_coordinator"),
                                          json={"title": "x", "text": "y", "channel_ids": []})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "channel_ids"


async def test_notifications_are_per_staff_member_and_can_be_marked_read(counselling):
    worker = await counselling.add_staff("political_worker")
    await counselling.raise_concern(assignee_id=worker["staff_id"])
    await eventually(lambda: counselling.feed(worker["staff_id"], "political_worker"))
    mine = await counselling.client.get("/notifications?unread=true",
                                        headers=counselling.as_("political_worker", sub=worker["staff_id"]))
    assert mine.json()["unread"] == 1
    item = mine.json()["items"][0]
    others = await counselling.client.post(f"/notifications/{item['notification_id']}/read",
                                           headers=counselling.as_("political_worker", sub="someone-else"))
    assert others.status_code == 404
    read = await counselling.client.post(f"/notifications/{item['notification_id']}/read",
                                         headers=counselling.as_("political_worker", sub=worker["staff_id"]))
    assert read.status_code == 200 and read.json()["read_at"]
    after = await counselling.client.get("/notifications?unread=true",
                                         headers=counselling.as_("political_worker", sub=worker["staff_id"]))
    assert after.json()["unread"] == 0 and after.json()["items"] == []


async def test_webhook_posts_signed_notifications_once(counselling):
    ctx = counselling.ctx
    await handlers.notify(feed=ctx.feed, staff_id="staff-w", kind="crisis", case_id="case-x",
                          notification_id=f"n-{uuid.uuid4().hex}", webhook=True, severity="critical")
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as http:
        sent = await handlers.deliver_webhooks(feed=ctx.feed, http=http, url="https://im.example/hook",
                                               secret=b"s3cret")
        again = await handlers.deliver_webhooks(feed=ctx.feed, http=http, url="https://im.example/hook",
                                                secret=b"s3cret")
    assert (sent, again, len(received)) == (1, 0, 1)
    body = received[0].content
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert received[0].headers["x-tongpin-signature"] == expected
    assert json.loads(body)["kind"] == "crisis" and json.loads(body)["details"] == {"severity": "critical"}


async def test_a_case_raised_to_crisis_moves_to_the_on_call_psychologist_who_is_told(counselling, event_capture):
    worker = await counselling.add_staff("political_worker")
    on_call = await counselling.add_staff("psychologist", on_call=True)
    concern_id = await counselling.raise_concern(text="最近总觉得没意思", category="mental_distress", severity="medium",
                                                 route="answer_online", assignee_id=worker["staff_id"])
    case = await counselling.case(f"case-{concern_id}")
    assert case["assignee_id"] == worker["staff_id"] and not case["crisis"]
    # A person (or the model) made it a crisis; triage's escalation still names the worker who had it.
    await counselling.publish(EscalationRaised(
        concern_id=concern_id, channel_id="officers-unit-01", channel_kind="officers", category="mental_distress",
        severity="critical", flags=[], assignee_id=worker["staff_id"], raised_at=datetime.now(UTC)), subject=concern_id)

    async def moved():
        case = await counselling.case(f"case-{concern_id}")
        return case if case["assignee_id"] == on_call["staff_id"] else None

    case = await eventually(moved)
    assert case["crisis"] is True and case["assignee_role"] == "psychologist" and case["severity"] == "critical"
    feed = await counselling.feed(on_call["staff_id"])
    assert [n["kind"] for n in feed if n["case_id"] == case["case_id"]] == ["crisis"]
    assigned = [e.data for e in event_capture.of_type("case.assigned") if e.data["case_id"] == case["case_id"]]
    assert assigned[-1]["assignee_id"] == on_call["staff_id"]


async def test_an_unread_message_past_its_target_reaches_every_on_call_member_of_staff(counselling):
    from tongpin.shared.events import ReadingOverdue

    on_call_psy = await counselling.add_staff("psychologist", on_call=True)
    on_call_worker = await counselling.add_staff("political_worker", on_call=True)
    off_duty = await counselling.add_staff("psychologist")
    now = datetime.now(UTC)
    overdue = ReadingOverdue(concern_id=f"c-{uuid.uuid4().hex[:12]}", channel_kind="families", unit="unit-01",
                             severity="high", crisis=True, target="crisis", received_at=now, due_at=now,
                             overdue_at=now)
    for _ in range(2):  # redelivered: still one notice each
        await counselling.publish(overdue, subject=overdue.concern_id)

    async def told():
        feeds = [await counselling.feed(person["staff_id"]) for person in (on_call_psy, on_call_worker)]
        return feeds if all(feeds) else None

    feeds = await eventually(told)
    for feed in feeds:
        assert [n["kind"] for n in feed] == ["reading_overdue"]
        assert feed[0]["details"]["concern_id"] == overdue.concern_id and feed[0]["details"]["crisis"] is True
        assert "text" not in feed[0]["details"]
    assert await counselling.feed(off_duty["staff_id"]) == []
