"""Who may set an assignee through an override, and to whom (pen-test finding 2)."""

from __future__ import annotations

import asyncio

import pytest

from tongpin.shared.testing.services import eventually

from .test_triage_service import COORDINATOR, decision_of, staff_known

pytestmark = pytest.mark.integration


async def test_only_roles_that_assign_may_set_an_assignee(triage, publish, signing_key, event_capture):
    _, client = triage
    for staff_id, role in (("pw-ov1", "political_worker"), ("pw-ov1z", "political_worker"),
                           ("psy-ov1", "psychologist")):
        await publish.staff(staff_id, role)
    await staff_known(client, signing_key, "pw-ov1", "pw-ov1z", "psy-ov1")
    raised = await publish.concern("这个月工资怎么少发了三百，绩效到底怎么算的", author_member_id="off-ov1")
    before = await decision_of(client, signing_key, raised.concern_id)
    assert before["assignee_id"] == "pw-ov1"
    url = f"/decisions/{raised.concern_id}/overrides"

    for staff_id, role in (("pw-ov1z", "political_worker"), ("psy-ov1", "psychologist")):
        response = await client.post(url, headers=signing_key.headers(role, sub=staff_id),
                                     json={"assignee_id": staff_id, "reason": "这个我来跟"})
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "assignee_id" in response.json()["detail"]
    await asyncio.sleep(0.3)
    after = await decision_of(client, signing_key, raised.concern_id)
    assert after["version"] == before["version"] and after["assignee_id"] == before["assignee_id"]
    assert not [e for e in event_capture.of_type("concern.triaged")
                if e.data["concern_id"] == raised.concern_id and e.data["overridden"]]

    # A political worker still corrects what triage decided; only the assignee is not theirs to choose.
    corrected = await client.post(url, headers=signing_key.headers("political_worker", sub="pw-ov1z"),
                                  json={"severity": "high", "reason": "连续三个月少发"})
    assert corrected.status_code == 200, corrected.text


async def test_an_assignee_must_be_staff_who_work_the_route(triage, publish, signing_key, event_capture):
    _, client = triage
    for staff_id, role in (("pw-ov2", "political_worker"), ("pw-ov2z", "political_worker"),
                           ("psy-ov2", "psychologist"), ("aud-ov2", "auditor"),
                           ("cm-ov2", "committee_member"), ("co-ov2", "centre_coordinator")):
        await publish.staff(staff_id, role)
    await staff_known(client, signing_key, "pw-ov2", "pw-ov2z", "psy-ov2", "aud-ov2", "cm-ov2", "co-ov2")
    raised = await publish.concern("这个月工资怎么少发了三百，绩效到底怎么算的", author_member_id="off-ov2")
    before = await decision_of(client, signing_key, raised.concern_id)
    assert before["route"] == "answer_online"
    url = f"/decisions/{raised.concern_id}/overrides"
    coordinator = signing_key.headers(COORDINATOR, sub="co-ov2")

    for outsider in ("aud-ov2", "cm-ov2", "psy-ov2"):
        refused = await client.post(url, headers=coordinator, json={"assignee_id": outsider, "reason": "换人"})
        assert refused.status_code == 422, (outsider, refused.text)
        assert refused.json()["errors"][0]["field"] == "assignee_id"
    # Moving the concern to the psychologists' route and naming a political worker is refused too.
    mismatched = await client.post(url, headers=coordinator, json={
        "route": "psych_support", "assignee_id": "pw-ov2", "reason": "需要心理老师"})
    assert mismatched.status_code == 422 and mismatched.json()["errors"][0]["field"] == "assignee_id"
    unchanged = await decision_of(client, signing_key, raised.concern_id)
    assert unchanged["version"] == before["version"]

    to_worker = await client.post(url, headers=coordinator, json={"assignee_id": "pw-ov2z", "reason": "熟悉情况"})
    assert to_worker.status_code == 200, to_worker.text
    assert to_worker.json()["assignee_id"] == "pw-ov2z" and to_worker.json()["assignee_role"] == "political_worker"
    to_psychologist = await client.post(url, headers=coordinator, json={
        "route": "psych_support", "assignee_id": "psy-ov2", "reason": "需要心理老师"})
    assert to_psychologist.status_code == 200, to_psychologist.text
    assert to_psychologist.json()["assignee_role"] == "psychologist"

    async def announced() -> list:
        return [e for e in event_capture.of_type("concern.triaged")
                if e.data["concern_id"] == raised.concern_id and e.data["overridden"]]

    events = await eventually(announced)
    assert {e.data["assignee_id"] for e in events} <= {"pw-ov2z", "psy-ov2"}
