"""Cases from triage's events, online dialogue, assignment, versions, resolution and reopening."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from tongpin.shared.events import ConcernMerged, ConcernRaised, ConcernTriaged, ReplyRequested
from tongpin.shared.testing.services import eventually

pytestmark = pytest.mark.integration

TEXT = "宿舍楼热水器坏了一周，晚上下班洗不了澡😣（急！）Thanks"


@pytest.mark.parametrize("triaged_first", [False, True])
async def test_case_opens_from_text_and_decision_in_either_order(counselling, event_capture, triaged_first):
    worker = await counselling.add_staff("political_worker")
    concern_id = await counselling.raise_concern(text=TEXT, assignee_id=worker["staff_id"],
                                                 triaged_first=triaged_first, severity="high")
    case = await counselling.case(f"case-{concern_id}")
    assert case["state"] == "open" and case["version"] >= 1
    assert case["concerns"][0]["text"] == TEXT  # byte for byte
    assert case["assignee_id"] == worker["staff_id"] and case["assignee_role"] == "political_worker"
    assert case["severity"] == "high" and case["first_response_due"] and case["resolution_due"]
    opened = await event_capture.wait_for_type("case.opened")
    assert opened[0].data["concern_id"] == concern_id and opened[0].data["first_response_due"]
    assigned = await event_capture.wait_for_type("case.assigned")
    assert assigned[0].data["assignee_id"] == worker["staff_id"]
    # The handler records the notification just after the case and its events.
    feed = await eventually(lambda: counselling.feed(worker["staff_id"], "political_worker"))
    assert [n["kind"] for n in feed] == ["assignment"] and feed[0]["case_id"] == case["case_id"]
    # Events other than the three text-carrying ones carry no text.
    for event in event_capture.events:
        if event.type.startswith("case."):
            assert "热水器" not in json.dumps(event.data, ensure_ascii=False)


async def test_dismissed_concern_keeps_no_text_and_opens_no_case(counselling, event_capture):
    concern_id = await counselling.raise_concern(text="随便聊聊，今天天气不错", route="dismiss", wait=False)
    concerns = counselling.db["concerns"]
    doc = await eventually(lambda: concerns.find_one({"_id": concern_id, "decision": {"$exists": True},
                                                      "raised": {"$exists": True}, "text": {"$exists": False}}))
    assert doc["raised"]["concern_id"] == concern_id
    assert await counselling.db["cases"].count_documents({"_id": f"case-{concern_id}"}) == 0


async def test_unassigned_decision_goes_to_the_least_loaded_worker_of_the_role(counselling):
    psych = await counselling.add_staff("psychologist")
    concern_id = await counselling.raise_concern(assignee_role="psychologist", category="mental_distress",
                                                 route="psych_support")
    case = await counselling.case(f"case-{concern_id}")
    assert case["assignee_id"] == psych["staff_id"]


async def test_reply_becomes_reply_requested_and_moves_case_into_dialogue(counselling, event_capture):
    worker = await counselling.add_staff("political_worker")
    concern_id = await counselling.raise_concern(assignee_id=worker["staff_id"])
    case_id = f"case-{concern_id}"
    case = await counselling.case(case_id)
    reply_text = "您好，已联系后勤，明天上午来修热水器。有困难随时说！🙏"
    response = await counselling.client.post(
        f"/cases/{case_id}/replies", json={"text": reply_text},
        headers={**counselling.as_("political_worker", sub=worker["staff_id"]), "If-Match": f'"{case["version"]}"'})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["case"]["state"] == "in_dialogue" and body["case"]["first_response_at"], body
    assert body["case"]["dialogue"][0]["text"] == reply_text
    assert response.headers["etag"] == f'"{body["case"]["version"]}"'
    replies = await event_capture.wait_for_type("reply.requested")
    data = replies[0].data
    assert data["text"] == reply_text and data["case_id"] == case_id and data["concern_id"] == concern_id
    assert data["channel_id"] == "officers-unit-01" and data["staff_id"] == worker["staff_id"]
    assert replies[0].correlationid == response.headers["x-correlation-id"]


async def test_reply_about_a_family_concern_goes_back_to_the_family_and_reveals_nobody(counselling, event_capture):
    family_member = f"m-family-{uuid.uuid4().hex[:6]}"
    concern_id = await counselling.raise_concern(
        text="我爱人最近总是加班到深夜，情绪很差，希望单位关心一下", channel_kind="families", author=family_member,
        about_officer_id="officer-77", category="workload_leave")
    case_id = f"case-{concern_id}"
    coordinator = counselling.as_("centre_coordinator", sub="staff-coord")
    version = (await counselling.case(case_id))["version"]
    # What families report reaches the officers' side as a broadcast, never as a reply into their channel.
    to_officers = await counselling.client.post(f"/cases/{case_id}/replies", headers=coordinator, json={
        "text": "近期各所加班较多，中心已协调轮休，大家注意休息。", "channel_id": "officers-unit-01",
        "version": version})
    assert to_officers.status_code == 422 and to_officers.json()["errors"][0]["field"] == "channel_id"
    response = await counselling.client.post(f"/cases/{case_id}/replies", headers=coordinator, json={
        "text": "您反映的情况中心已经了解，已协调轮休。", "version": version})
    assert response.status_code == 201, response.text
    event = (await event_capture.wait_for_type("reply.requested"))[0]
    assert set(event.data) == set(ReplyRequested.model_fields)
    assert event.data["channel_id"] == "families-unit-01" and event.data["concern_id"] == concern_id
    wire = event.model_dump_json()
    for identity in (family_member, "officer-77"):
        assert identity not in wire


async def test_conflicting_updates_answer_409_and_lose_nothing(counselling, event_capture):
    concern_id = await counselling.raise_concern()
    case_id = f"case-{concern_id}"
    version = (await counselling.case(case_id))["version"]
    colleague, other = await counselling.member("political_worker"), await counselling.member("political_worker")
    first = await counselling.client.post(f"/cases/{case_id}/replies", headers=colleague,
                                          json={"text": "第一位同事的回复", "version": version})
    second = await counselling.client.post(f"/cases/{case_id}/replies", headers=other,
                                           json={"text": "第二位同事的回复", "version": version})
    assert first.status_code == 201
    assert second.status_code == 409 and second.headers["content-type"] == "application/problem+json"
    assert second.json()["current_version"] == version + 1
    case = await counselling.case(case_id)
    assert [r["text"] for r in case["dialogue"]] == ["第一位同事的回复"]
    # Without any version the command is refused, naming the field.
    missing = await counselling.client.post(f"/cases/{case_id}/replies", headers=other,
                                            json={"text": "没有版本号"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "version"
    retry = await counselling.client.post(f"/cases/{case_id}/replies", headers=other,
                                          json={"text": "第二位同事的回复", "version": case["version"]})
    assert retry.status_code == 201
    assert [r["text"] for r in retry.json()["case"]["dialogue"]] == ["第一位同事的回复", "第二位同事的回复"]


async def test_illegal_transition_is_409_and_changes_nothing(counselling, event_capture):
    concern_id = await counselling.raise_concern()
    case_id = f"case-{concern_id}"
    case = await counselling.case(case_id)
    worker = await counselling.member("political_worker")
    response = await counselling.client.post(
        f"/cases/{case_id}/resolve", headers=worker,
        json={"method": "resolved_offline", "outcome_code": "difficulty_resolved", "version": case["version"]})
    assert response.status_code == 409 and "resolve" in response.json()["detail"]
    assert (await counselling.case(case_id))["version"] == case["version"]
    bad = await counselling.client.post(
        f"/cases/{case_id}/resolve", headers=worker,
        json={"method": "by_magic", "outcome_code": "Fixed!", "version": case["version"]})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"method", "outcome_code"}
    unknown = await counselling.client.get("/cases/case-nope", headers=counselling.as_("psychologist"))
    assert unknown.status_code == 404 and unknown.json()["id"] == "case-nope"
    assert event_capture.of_type("case.resolved") == []


async def test_answered_online_resolution_publishes_targets_met_then_reopen_and_feedback(counselling, event_capture):
    concern_id = await counselling.raise_concern(severity="low")
    case_id = f"case-{concern_id}"
    case = await counselling.case(case_id)
    worker = await counselling.member("political_worker")
    replied = await counselling.client.post(f"/cases/{case_id}/replies", headers=worker,
                                            json={"text": "已答复：按规定可以申请。", "version": case["version"]})
    version = replied.json()["case"]["version"]
    resolved = await counselling.client.post(
        f"/cases/{case_id}/resolve", headers={**worker, "If-Match": str(version)},
        json={"method": "answered_online", "outcome_code": "policy_explained"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "resolved"
    event = (await event_capture.wait_for_type("case.resolved"))[0].data
    assert event["method"] == "answered_online" and event["outcome_code"] == "policy_explained"
    assert event["concern_ids"] == [concern_id] and event["first_response_met"] is True
    assert event["resolution_met"] is True and event["first_response_at"] and event["channel_kind"] == "officers"
    feedback = await counselling.client.post(
        f"/cases/{case_id}/feedback", headers=worker,
        json={"rating": 5, "comment": "谢谢，问题解决了👍", "version": resolved.json()["version"]})
    assert feedback.status_code == 200 and feedback.json()["feedback"][0]["comment"] == "谢谢，问题解决了👍"
    reopened = await counselling.client.post(
        f"/cases/{case_id}/reopen", headers=worker,
        json={"reason_code": "problem_recurred", "version": feedback.json()["version"]})
    assert reopened.status_code == 200 and reopened.json()["state"] == "reopened"
    assert (await event_capture.wait_for_type("case.reopened"))[0].data["reason_code"] == "problem_recurred"


async def test_coordinator_reassigns_and_the_new_assignee_hears(counselling, event_capture):
    first = await counselling.add_staff("political_worker")
    second = await counselling.add_staff("psychologist")
    concern_id = await counselling.raise_concern(assignee_id=first["staff_id"])
    case_id = f"case-{concern_id}"
    case = await counselling.case(case_id)
    response = await counselling.client.post(f"/cases/{case_id}/assign", headers=counselling.as_("centre_coordinator"),
                                             json={"assignee_id": second["staff_id"], "version": case["version"]})
    assert response.status_code == 200 and response.json()["assignee_id"] == second["staff_id"]
    assert response.json()["assignee_role"] == "psychologist"
    await event_capture.wait_for(lambda _: any(e.data["assignee_id"] == second["staff_id"]
                                               for e in event_capture.of_type("case.assigned")))
    assert "assignment" in [n["kind"] for n in await counselling.feed(second["staff_id"])]
    nobody = await counselling.client.post(f"/cases/{case_id}/assign", headers=counselling.as_("centre_coordinator"),
                                           json={"assignee_id": "staff-ghost", "version": response.json()["version"]})
    assert nobody.status_code == 422 and nobody.json()["errors"][0]["field"] == "assignee_id"


async def test_override_updates_category_severity_and_assignee(counselling, event_capture):
    worker = await counselling.add_staff("political_worker")
    psych = await counselling.add_staff("psychologist")
    concern_id = await counselling.raise_concern(assignee_id=worker["staff_id"], severity="low")
    case_id = f"case-{concern_id}"
    before = await counselling.case(case_id)
    override = ConcernTriaged(
        concern_id=concern_id, channel_id="officers-unit-01", channel_kind="officers", category="mental_distress",
        severity="high", route="psych_support", assignee_role="psychologist", assignee_id=psych["staff_id"],
        ruleset_version=1, overridden=True, triaged_at=datetime.now(UTC))
    await counselling.publish(override, subject=concern_id)

    async def updated():
        case = await counselling.case(case_id)
        return case if case["severity"] == "high" else None

    case = await eventually(updated)
    assert case["category"] == "mental_distress" and case["assignee_id"] == psych["staff_id"]
    assert case["first_response_due"] < before["first_response_due"]
    assert await counselling.db["cases"].count_documents({"concern_ids": concern_id}) == 1


async def test_merged_concern_attaches_to_the_primary_case_in_either_order(counselling):
    primary = await counselling.raise_concern(text="住房问题，结婚没有房子")
    case_id = f"case-{primary}"
    # Merge arrives after the primary's case exists.
    second = f"c-{uuid.uuid4().hex[:12]}"
    await counselling.publish(ConcernMerged(concern_id=second, primary_concern_id=primary, about_officer_id="officer-9",
                                            merged_at=datetime.now(UTC)), subject=second)
    await eventually(lambda: counselling.db["concerns"].find_one({"_id": second, "case_id": case_id}))
    await counselling.raise_concern(concern_id=second, text="同样是住房问题，想申请周转房", wait=False)

    async def attached():
        case = await counselling.case(case_id)
        return case if second in case["concern_ids"] else None

    async def attached_with_text():
        case = await attached()
        return case if case and all(c["text"] for c in case["concerns"]) else None

    case = await eventually(attached_with_text)
    assert {c["concern_id"]: c["text"] for c in case["concerns"]}[second] == "同样是住房问题，想申请周转房"
    assert await counselling.db["cases"].count_documents({"_id": f"case-{second}"}) == 0
    # Merge arrives before the primary's case opens.
    late_primary, early = f"c-{uuid.uuid4().hex[:12]}", f"c-{uuid.uuid4().hex[:12]}"
    await counselling.publish(ConcernMerged(concern_id=early, primary_concern_id=late_primary,
                                            about_officer_id="officer-9", merged_at=datetime.now(UTC)))
    await eventually(lambda: counselling.db["concerns"].find_one({"_id": early, "merged_into": late_primary}))
    await counselling.raise_concern(concern_id=late_primary)

    async def attached_later():
        case = await counselling.case(f"case-{late_primary}")
        return case if early in case["concern_ids"] else None

    await eventually(attached_later)


async def test_redelivered_events_open_one_case(counselling, event_capture):
    concern_id = f"c-{uuid.uuid4().hex[:12]}"
    raised = ConcernRaised(concern_id=concern_id, channel_id="officers-unit-01", channel_kind="officers",
                           origin="api", text="重复投递测试", sent_at=datetime.now(UTC))
    await counselling.raise_concern(concern_id=concern_id, text="重复投递测试")
    await counselling.publish(raised)  # a new event id for the same concern
    await event_capture.wait_for_type("case.opened")
    await eventually(lambda: counselling.db["inbox"].count_documents({}) , timeout=5)
    assert await counselling.db["cases"].count_documents({"_id": f"case-{concern_id}"}) == 1
    assert len(event_capture.of_type("case.opened")) == 1


async def test_two_staff_replying_at_the_same_moment_one_wins_one_gets_409(counselling):
    import asyncio

    concern_id = await counselling.raise_concern()
    case_id = f"case-{concern_id}"
    version = (await counselling.case(case_id))["version"]
    workers = [await counselling.member("political_worker") for _ in range(4)]
    responses = await asyncio.gather(*(
        counselling.client.post(f"/cases/{case_id}/replies", headers=workers[i],
                                json={"text": f"同时回复{i}", "version": version})
        for i in range(4)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409]
    case = await counselling.case(case_id)
    winner = next(r for r in responses if r.status_code == 201).json()["case"]["dialogue"][0]["text"]
    assert [r["text"] for r in case["dialogue"]] == [winner] and case["version"] == version + 1


async def test_an_unknown_state_filter_is_refused(counselling):
    refused = await counselling.client.get("/cases", params={"state": "bogus"},
                                           headers=counselling.as_("centre_coordinator"))
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "state"
    listed = await counselling.client.get("/cases", params={"state": "in_dialogue"},
                                          headers=counselling.as_("centre_coordinator"))
    assert listed.status_code == 200
