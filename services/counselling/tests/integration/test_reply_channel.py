"""A reply goes where its concern came from, never to another channel (pen-test finding 4)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tongpin.shared.events import ConcernMerged
from tongpin.shared.testing.services import eventually

pytestmark = pytest.mark.integration


async def test_a_reply_addressed_to_another_channel_is_refused_and_nothing_is_sent(counselling, event_capture):
    worker = await counselling.add_staff("political_worker")
    concern_id = await counselling.raise_concern(assignee_id=worker["staff_id"])
    case_id = f"case-{concern_id}"
    case = await counselling.case(case_id)
    headers = counselling.as_("political_worker", sub=worker["staff_id"])

    refused = await counselling.client.post(f"/cases/{case_id}/replies", headers=headers, json={
        "text": "转到监督群看看", "channel_id": "supervision-unit-01", "version": case["version"]})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "channel_id"
    await asyncio.sleep(0.3)
    after = await counselling.case(case_id)
    assert after["version"] == case["version"] and after["dialogue"] == []
    assert event_capture.of_type("reply.requested") == []

    # Naming the concern's own channel, or none, sends it there.
    sent = await counselling.client.post(f"/cases/{case_id}/replies", headers=headers, json={
        "text": "您好，收到。", "channel_id": "officers-unit-01", "version": case["version"]})
    assert sent.status_code == 201, sent.text
    requested = (await event_capture.wait_for_type("reply.requested"))[0].data
    assert requested["channel_id"] == "officers-unit-01" and requested["concern_id"] == concern_id


async def test_a_reply_may_go_to_the_channel_of_any_concern_of_the_case(counselling, event_capture):
    coordinator = counselling.as_("centre_coordinator", sub="co-reply")
    first = await counselling.raise_concern(author="m-2001", about_officer_id="m-2001")
    case_id = f"case-{first}"
    # A family member's concern about the same officer joins the case.
    second = await counselling.raise_concern(channel_kind="families", text="他最近总说睡不着", author="m-3001",
                                             about_officer_id="m-2001", wait=False)
    await counselling.publish(ConcernMerged(concern_id=second, primary_concern_id=first, about_officer_id="m-2001",
                                            merged_at=datetime.now(UTC)), subject=second)

    async def attached() -> dict | None:
        case = await counselling.case(case_id)
        return case if second in case["concern_ids"] else None

    case = await eventually(attached)
    # Events about the second concern still in flight may move the case after the merge attached it: a 409 then
    # asks the client to reload and retry, as any client does.
    for _ in range(5):
        sent = await counselling.client.post(f"/cases/{case_id}/replies", headers=coordinator, json={
            "text": "家属您好，我们会跟进。", "channel_id": "families-unit-01", "version": case["version"]})
        if sent.status_code != 409:
            break
        case = await counselling.case(case_id)
    assert sent.status_code == 201, sent.text
    requested = (await event_capture.wait_for_type("reply.requested"))[0].data
    assert requested["channel_id"] == "families-unit-01" and requested["concern_id"] == second
