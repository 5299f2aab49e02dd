"""Triage against the real servers: queue, crisis path, grouping, assignment, overrides, rule versions."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tongpin.intake.app import create_app as create_intake
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.events import CaseAssigned, CaseOpened, CaseResolved
from tongpin.shared.testing.roles import walk_matrix
from tongpin.shared.testing.services import eventually, running

pytestmark = pytest.mark.integration

COORDINATOR = "centre_coordinator"


async def decision_of(client: Any, signing_key: Any, concern_id: str, *, timeout: float = 10.0) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await client.get(f"/decisions/{concern_id}", headers=signing_key.headers(COORDINATOR))
        return response.json() if response.status_code == 200 else None

    found: dict[str, Any] = await eventually(check, timeout=timeout)
    return found


async def staff_known(client: Any, signing_key: Any, *staff_ids: str) -> None:
    async def check() -> bool:
        response = await client.get("/staff", headers=signing_key.headers(COORDINATOR), params={"limit": 200})
        return {s["staff_id"] for s in response.json()} >= set(staff_ids)

    await eventually(check)


async def test_concern_raised_in_intake_appears_in_queue_with_reasons(
    triage, settings_env, signing_key, mongo_client, clean_run, event_capture
):
    _, client = triage
    intake = create_intake(IntakeSettings(**settings_env("intake")))
    text = "昨天去派出所办户口，窗口排队两个多小时，工作人员还爱答不理的😣"
    async with running(intake) as intake_client:
        channel = await intake_client.post("/channels", headers=signing_key.headers("admin"), json={
            "id": "supervision-unit-01", "kind": "supervision", "name": "社会监督群", "external_group_id": "wecom-g1",
            "unit": "unit-01",
        })
        assert channel.status_code == 201, channel.text
        response = await intake_client.post("/messages", headers=signing_key.headers("system"), json={
            "channel_id": "supervision-unit-01", "channel_kind": "supervision", "anonymous": True,
            "source_message_id": f"t:{uuid.uuid4()}", "text": text, "sent_at": datetime.now(UTC).isoformat(),
        })
        assert response.status_code == 201, response.text
        concern_id = response.json()["id"]
        decided = await decision_of(client, signing_key, concern_id)

    queue = await client.get("/queue", headers=signing_key.headers("political_worker"))
    assert queue.status_code == 200
    item = next(i for i in queue.json()["items"] if i["concern_id"] == concern_id)
    assert item["category"] == decided["category"] == "service_complaint" and item["route"] == "oversight"
    assert item["ruleset_version"] == 1 and item["rule_ids"]
    assert item["reasons"] and all("规则" in r or "模型" in r for r in item["reasons"])
    assert item["judgment_version"] == f"r1-m{item['model_version']}"
    triaged = await event_capture.wait_for_type("concern.triaged")
    assert triaged[0].data["concern_id"] == concern_id
    # Triage keeps the decision, never the words: not the text, not a quoted fragment of it.
    for name in await mongo_client[f"{clean_run}_triage"].list_collection_names():
        async for stored in mongo_client[f"{clean_run}_triage"][name].find():
            dumped = json.dumps(stored, default=str, ensure_ascii=False)
            assert text not in dumped
            if name not in ("rulesets", "ruleset_head"):  # a lexicon holds its own words, not the message's
                assert "排队" not in dumped and "爱答不理" not in dumped


async def test_crisis_concern_emits_escalation_within_a_second_to_the_on_call_psychologist(
    triage, publish, signing_key, event_capture
):
    _, client = triage
    await publish.staff("psy-idle", "psychologist")
    await publish.staff("psy-oncall", "psychologist", on_call=True)
    await publish.staff("psy-leave", "psychologist", on_call=True, on_leave=True)
    await staff_known(client, signing_key, "psy-idle", "psy-oncall", "psy-leave")

    started = time.monotonic()
    raised = await publish.concern("真的不想活了，每天都看不到头", author_member_id="m-3001")
    escalations = await event_capture.wait_for_type("escalation.raised", timeout=1.0)
    assert time.monotonic() - started < 1.0
    escalation = escalations[0].data
    assert escalation["concern_id"] == raised.concern_id
    assert escalation["assignee_id"] == "psy-oncall"
    assert "self_harm" in escalation["flags"]
    decided = await decision_of(client, signing_key, raised.concern_id)
    assert decided["crisis"] and decided["route"] == "psych_support" and decided["assignee_id"] == "psy-oncall"
    # The queue puts the crisis first.
    await publish.concern("能不能调休一天，孩子开家长会", author_member_id="m-3002")
    await eventually(lambda: len(event_capture.of_type("concern.triaged")) >= 2)
    queue = (await client.get("/queue", headers=signing_key.headers("psychologist"))).json()
    assert queue["items"][0]["concern_id"] == raised.concern_id


async def test_second_concern_about_the_same_officer_merges(triage, publish, signing_key, event_capture):
    _, client = triage
    await publish.staff("pw-1", "political_worker")
    await staff_known(client, signing_key, "pw-1")
    first = await publish.concern("房子的事还是没着落，结婚一直拖着", author_member_id="off-77")
    first_decision = await decision_of(client, signing_key, first.concern_id)
    second = await publish.concern("他最近为了婚房的事情整夜睡不着，我很担心", channel_kind="families",
                                   author_member_id="fam-9", about_officer_id="off-77")
    merged = await event_capture.wait_for_type("concern.merged")
    assert merged[0].data == {**merged[0].data, "concern_id": second.concern_id,
                              "primary_concern_id": first.concern_id, "about_officer_id": "off-77"}
    second_decision = await decision_of(client, signing_key, second.concern_id)
    assert second_decision["merged_into"] == first.concern_id
    assert second_decision["assignee_id"] is None  # no second assignment
    assert first_decision["merged_into"] is None
    # A concern about another officer does not merge.
    other = await publish.concern("宿舍空调坏了", author_member_id="off-78")
    assert (await decision_of(client, signing_key, other.concern_id))["merged_into"] is None
    # Once the case is resolved, the next concern about that officer starts afresh.
    await publish.data(CaseResolved(
        case_id="case-77", concern_ids=[first.concern_id, second.concern_id], method="resolved_offline",
        outcome_code="committee_decision_carried_out", channel_kind="officers", category="housing", severity="medium",
        opened_at=datetime.now(UTC), resolved_at=datetime.now(UTC)))

    async def closed() -> bool:
        doc = await decision_of(client, signing_key, first.concern_id)
        return doc["open"] is False

    await eventually(closed)
    third = await publish.concern("房子的事又有新问题了，想再反映一下", author_member_id="off-77")
    assert (await decision_of(client, signing_key, third.concern_id))["merged_into"] is None
    assert len(event_capture.of_type("concern.merged")) == 1


async def test_merge_window_is_configurable(triage_with, signing_key):
    async with triage_with(cluster_window_seconds=60) as (client, publish):
        old = await publish.concern("房租又涨了", author_member_id="off-5",
                                    sent_at=datetime.now(UTC) - timedelta(hours=2))
        await decision_of(client, signing_key, old.concern_id)
        new = await publish.concern("房租的事还是没人管", author_member_id="off-5")
        assert (await decision_of(client, signing_key, new.concern_id))["merged_into"] is None


async def test_assignment_is_least_loaded_never_on_leave_and_follows_cases(triage, publish, signing_key):
    _, client = triage
    await publish.staff("pw-a", "political_worker")
    await publish.staff("pw-b", "political_worker")
    await publish.staff("pw-away", "political_worker", on_leave=True)
    await publish.staff("pw-gone", "political_worker", active=False)
    await staff_known(client, signing_key, "pw-a", "pw-b", "pw-away", "pw-gone")
    assignees = []
    concerns = []
    for index in range(4):
        raised = await publish.concern("这个月又连续加班，调休一直批不下来", author_member_id=f"off-l{index}")
        concerns.append(raised.concern_id)
        assignees.append((await decision_of(client, signing_key, raised.concern_id))["assignee_id"])
    assert sorted(assignees) == ["pw-a", "pw-a", "pw-b", "pw-b"]

    async def loads() -> dict[str, int]:
        response = await client.get("/staff", headers=signing_key.headers(COORDINATOR))
        return {s["staff_id"]: s["open_load"] for s in response.json()}

    # A decision is visible a moment before its work item is counted: wait for the count, not for luck.
    await eventually(lambda: _equals(loads, {"pw-a": 2, "pw-b": 2, "pw-away": 0, "pw-gone": 0}))
    # Counselling opens a case from the first concern and reassigns it: the load moves with it.
    first_owner = assignees[0]
    other = "pw-b" if first_owner == "pw-a" else "pw-a"
    await publish.data(CaseOpened(case_id="case-l0", concern_id=concerns[0], channel_kind="officers",
                                  category="workload_leave", severity="medium", opened_at=datetime.now(UTC)))
    await publish.data(CaseAssigned(case_id="case-l0", assignee_id=other, assignee_role="political_worker",
                                    assigned_at=datetime.now(UTC) + timedelta(seconds=1)))
    await eventually(lambda: _equals(loads, {first_owner: 1, other: 3}))
    await publish.data(CaseResolved(
        case_id="case-l0", concern_ids=[concerns[0]], method="answered_online", outcome_code="support_provided",
        channel_kind="officers", category="workload_leave", severity="medium", opened_at=datetime.now(UTC),
        resolved_at=datetime.now(UTC)))
    await eventually(lambda: _equals(loads, {first_owner: 1, other: 2}))
    # With the whole role away, the concern is still decided, just left unassigned for the coordinator.
    await publish.staff("pw-a", "political_worker", on_leave=True)
    await publish.staff("pw-b", "political_worker", active=False)

    async def nobody() -> bool:
        staff = (await client.get("/staff", headers=signing_key.headers(COORDINATOR))).json()
        return all(s["on_leave"] or not s["active"] for s in staff)

    await eventually(nobody)
    raised = await publish.concern("值班表能不能调整一下，连续三个夜班了", author_member_id="off-l9")
    decided = await decision_of(client, signing_key, raised.concern_id)
    assert decided["assignee_id"] is None and decided["route"] == "answer_online"


async def _equals(loads: Any, expected: dict[str, int]) -> bool:
    current = await loads()
    return all(current.get(k) == v for k, v in expected.items())


async def test_override_is_recorded_republished_and_exported(triage, publish, signing_key, event_capture):
    _, client = triage
    await publish.staff("psy-1", "psychologist")
    await staff_known(client, signing_key, "psy-1")
    raised = await publish.concern("这个月工资怎么少发了三百，绩效到底怎么算的", author_member_id="off-o1")
    before = await decision_of(client, signing_key, raised.concern_id)
    url = f"/decisions/{raised.concern_id}/overrides"
    worker = signing_key.headers("political_worker", sub="pw-override")

    no_reason = await client.post(url, headers=worker, json={"category": "mental_distress"})
    assert no_reason.status_code == 422 and no_reason.headers["content-type"].startswith("application/problem+json")
    assert "reason" in no_reason.json()["detail"]
    blank = await client.post(url, headers=worker, json={"category": "mental_distress", "reason": "   "})
    assert blank.status_code == 422
    nothing = await client.post(url, headers=worker, json={"reason": "看看"})
    assert nothing.status_code == 422
    unknown = await client.post(url, headers=signing_key.headers(COORDINATOR),
                                json={"assignee_id": "nobody", "reason": "换人"})
    assert unknown.status_code == 422 and "assignee_id" in unknown.json()["detail"]
    stale = await client.post(url, headers=worker, json={"severity": "high", "reason": "x", "version": 99})
    assert stale.status_code == 409
    assert (await decision_of(client, signing_key, raised.concern_id))["version"] == before["version"]

    reason = "谈话后确认主要是失眠和情绪问题，需心理老师跟进"
    response = await client.post(url, headers=worker, json={
        "category": "mental_distress", "route": "psych_support", "severity": "high", "reason": reason,
        "version": before["version"],
    })
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["category"] == "mental_distress" and after["assignee_id"] == "psy-1" and after["overridden"]
    record = after["overrides"][0]
    assert record["by"] == "pw-override" and record["reason"] == reason
    assert record["before"]["category"] == before["category"] and record["after"]["category"] == "mental_distress"

    async def republished() -> list[Any]:
        return [e for e in event_capture.of_type("concern.triaged")
                if e.data["concern_id"] == raised.concern_id and e.data["overridden"]]

    event = (await eventually(republished))[0]
    assert event.data["category"] == "mental_distress" and event.data["assignee_id"] == "psy-1"

    exported = await client.get("/overrides/export", headers=signing_key.headers(COORDINATOR))
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows[0]["concern_id"] == raised.concern_id and rows[0]["reason"] == reason
    assert rows[0]["category_before"] == before["category"] and rows[0]["category_after"] == "mental_distress"
    as_json = await client.get("/overrides/export", headers=signing_key.headers("admin"), params={"format": "json"})
    assert as_json.json()[0]["reason"] == reason
    forbidden = await client.get("/overrides/export", headers=signing_key.headers("political_worker"))
    assert forbidden.status_code == 403


async def test_new_rule_version_changes_the_next_decision_and_names_itself(triage, publish, signing_key):
    _, client = triage
    editor = signing_key.headers(COORDINATOR)
    text = "食堂能不能增加一个夜宵窗口"
    first = await publish.concern(text, author_member_id="off-r1")
    assert (await decision_of(client, signing_key, first.concern_id))["ruleset_version"] == 1

    current = (await client.get("/rulesets/current", headers=signing_key.headers("psychologist"))).json()
    assert current["version"] == 1 and current["running"]
    document = json.loads(current["document"])
    document["rules"].append({"id": "workload.canteen_night", "kind": "signal", "label": "夜班就餐",
                              "terms": ["夜宵窗口"], "category": "workload_leave", "weight": 3})

    broken = json.dumps(document, ensure_ascii=False, indent=2).replace('"category": "workload_leave", "weight": 3',
                                                                         '"category": "holidays", "weight": 3')
    broken = broken.replace('"workload_leave",\n      "weight": 3', '"holidays",\n      "weight": 3')
    refused = await client.post("/rulesets", headers=editor, json={"document": broken})
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert errors[0]["field"] == "document" and errors[0]["line"] > 1 and "holidays" in errors[0]["reason"]
    syntax = await client.post("/rulesets", headers=editor, json={"document": '{"version": 1,\n"rules": [}'})
    assert syntax.status_code == 422 and syntax.json()["errors"][0]["line"] == 2
    assert (await client.get("/rulesets/current", headers=editor)).json()["version"] == 1

    worker = await client.post("/rulesets", headers=signing_key.headers("political_worker"),
                               json={"document": document})
    assert worker.status_code == 403
    draft = await client.post("/rulesets", headers=editor, json={"document": document})
    assert draft.status_code == 201, draft.text
    assert draft.json()["version"] == 2 and draft.json()["status"] == "draft" and not draft.json()["running"]
    # A draft does not decide anything.
    still = await publish.concern(text, author_member_id="off-r2")
    assert (await decision_of(client, signing_key, still.concern_id))["ruleset_version"] == 1

    published = await client.post("/rulesets/2/publish", headers=editor)
    assert published.status_code == 200 and published.json()["running_version"] == 2
    after = await publish.concern(text, author_member_id="off-r3")
    decided = await decision_of(client, signing_key, after.concern_id)
    assert decided["ruleset_version"] == 2 and "workload.canteen_night" in decided["rule_ids"]
    assert decided["category"] == "workload_leave"
    versions = (await client.get("/rulesets", headers=editor)).json()
    assert versions["running_version"] == 2 and [v["version"] for v in versions["items"]] == [2, 1]

    restored = await client.post("/rulesets/restore", headers=signing_key.headers("admin"))
    assert restored.status_code == 200 and restored.json()["running_version"] == 1
    again = await publish.concern(text, author_member_id="off-r4")
    assert (await decision_of(client, signing_key, again.concern_id))["ruleset_version"] == 1
    nothing_left = await client.post("/rulesets/restore", headers=editor)
    assert nothing_left.status_code == 409
    assert (await client.post("/rulesets/9/publish", headers=editor)).status_code == 404


async def test_unreadable_text_still_gets_a_decision(triage, publish, signing_key, event_capture):
    _, client = triage
    texts = ["   ", "😀😀😀🙏", "[呲牙][呲牙]", "加班" * 2500, "OT again 又加班 overtime、残業です 😩",
             "\u200b\u200b", "﷽\U0001f9ff\u0000"]
    raised = [await publish.concern(text, author_member_id=f"off-b{i}") for i, text in enumerate(texts)]
    for data in raised:
        decided = await decision_of(client, signing_key, data.concern_id)
        assert decided["category"] in {"other", "workload_leave"}
    assert (await decision_of(client, signing_key, raised[1].concern_id))["route"] == "dismiss"
    assert (await decision_of(client, signing_key, raised[3].concern_id))["category"] == "workload_leave"


async def test_theme_surfaces_across_officers_of_one_unit(triage_with, signing_key):
    async with triage_with(theme_min_officers=3) as (client, publish):
        ids = []
        for officer in ("off-t1", "off-t2", "off-t3"):
            raised = await publish.concern("这周又是连续加班，调休根本批不下来", author_member_id=officer,
                                           unit="unit-traffic")
            ids.append(raised.concern_id)
            await decision_of(client, signing_key, raised.concern_id)
        other_unit = await publish.concern("这周又是连续加班", author_member_id="off-t9", unit="unit-patrol")
        assert (await decision_of(client, signing_key, other_unit.concern_id))["theme_id"] is None
        third = await decision_of(client, signing_key, ids[2])
        assert third["theme_id"] and third["theme_id"].startswith("theme-workload_leave")
        first = await decision_of(client, signing_key, ids[0])
        assert first["theme_id"] == third["theme_id"]  # earlier concerns join the theme once it surfaces
        themes = await client.get("/themes", headers=signing_key.headers("committee_member"))
        assert themes.status_code == 200
        [theme] = themes.json()["items"]
        assert theme["unit"] == "unit-traffic" and theme["officer_count"] == 3 and theme["category"] == "workload_leave"
        assert (await client.get("/themes", headers=signing_key.headers("political_worker"))).status_code == 403


async def test_queue_orders_filters_and_bounds_pages(triage, publish, signing_key):
    _, client = triage
    low = await publish.concern("建议单位开通微信预约", author_member_id="off-q1")
    await decision_of(client, signing_key, low.concern_id)
    high = await publish.concern("孩子住院了急需用钱，家里揭不开锅了", author_member_id="off-q2")
    await decision_of(client, signing_key, high.concern_id)
    chatter = await publish.concern("收到", author_member_id="off-q3")
    await decision_of(client, signing_key, chatter.concern_id)
    headers = signing_key.headers("political_worker")
    items = (await client.get("/queue", headers=headers)).json()["items"]
    ranks = ["critical", "high", "medium", "low"]
    assert [ranks.index(i["severity"]) for i in items] == sorted(ranks.index(i["severity"]) for i in items)
    assert chatter.concern_id not in [i["concern_id"] for i in items]
    with_dismissed = (await client.get("/queue", headers=headers, params={"include_dismissed": "true"})).json()
    assert chatter.concern_id in [i["concern_id"] for i in with_dismissed["items"]]
    only = (await client.get("/queue", headers=headers, params={"category": "suggestion"})).json()
    assert [i["concern_id"] for i in only["items"]] == [low.concern_id]
    page = (await client.get("/queue", headers=headers, params={"limit": 1, "offset": 1})).json()
    assert len(page["items"]) == 1 and page["total"] == len(items)
    for params in ({"limit": 201}, {"limit": 0}, {"offset": -1}, {"severity": "urgent"}, {"category": "房子"}):
        bad = await client.get("/queue", headers=headers, params=params)
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
        assert next(iter(params)) in bad.json()["detail"]
    missing = await client.get("/decisions/c-nothing-here", headers=headers)
    assert missing.status_code == 404


async def test_every_endpoint_admits_exactly_its_declared_roles(triage, signing_key):
    app, client = triage
    problems = await walk_matrix(client, app, service="triage", headers_for=lambda role: signing_key.headers(role),
                                 path_values={"concern_id": "c-unknown", "version": "1"})
    assert problems == []


async def test_redelivered_concern_is_decided_once(triage, publish, signing_key, event_capture, mongo_client,
                                                   clean_run):
    _, client = triage
    raised = await publish.concern("宿舍漏水好几天了", author_member_id="off-d1")
    from tongpin.shared.events import make_event

    event = make_event(raised, subject=raised.concern_id)
    await publish.event(event)
    await publish.event(event)
    await decision_of(client, signing_key, raised.concern_id)
    await asyncio.sleep(0.6)
    triaged = [e for e in event_capture.of_type("concern.triaged") if e.data["concern_id"] == raised.concern_id]
    assert len(triaged) == 1
    assert await mongo_client[f"{clean_run}_triage"]["decisions"].count_documents({}) == 1

