"""NUL characters and numbers beyond 8-byte integers are refused at the edge (pen-test finding 5)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

BIG = 2**64


def problem(response, field: str | None = None) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert field in [e["field"] for e in response.json()["errors"]], response.json()


async def test_nul_in_a_login_name_is_refused_and_nothing_recorded(counselling):
    response = await counselling.client.post("/auth/token", data={"username": "adm\u0000in", "password": "x"})
    problem(response, "username")
    assert await counselling.db["login_attempts"].count_documents({}) == 0


async def test_nul_in_staff_replies_and_broadcasts_is_refused_and_nothing_written(counselling, event_capture):
    created = await counselling.client.post("/staff", headers=counselling.as_("admin"), json={
        "username": "nul-name", "name": "王\u0000老师", "password": "正确的密码-123", "roles": ["psychologist"]})
    problem(created, "name")
    assert await counselling.db["staff"].count_documents({}) == 0

    concern_id = await counselling.raise_concern()
    case_id = f"case-{concern_id}"
    case = await counselling.case(case_id)
    coordinator = counselling.as_("centre_coordinator")
    reply = await counselling.client.post(f"/cases/{case_id}/replies", headers=coordinator,
                                          json={"text": "您好\u0000", "version": case["version"]})
    problem(reply, "text")
    broadcast = await counselling.client.post("/broadcasts", headers=coordinator, json={
        "title": "通知", "text": "学习\u0000任务", "channel_ids": ["officers-all"]})
    problem(broadcast, "text")
    assert (await counselling.case(case_id))["version"] == case["version"]
    assert await counselling.db["broadcasts"].count_documents({}) == 0
    assert event_capture.of_type("reply.requested") == event_capture.of_type("broadcast.requested") == []


async def test_nul_in_a_path_or_query_is_refused(counselling):
    coordinator = counselling.as_("centre_coordinator")
    problem(await counselling.client.get("/cases/case-%00x", headers=coordinator))
    problem(await counselling.client.get("/cases", params={"state": "open\u0000"}, headers=coordinator), "state")


async def test_numbers_beyond_eight_bytes_are_refused(counselling):
    coordinator = counselling.as_("centre_coordinator")
    problem(await counselling.client.get("/cases", params={"offset": BIG}, headers=coordinator), "offset")
    problem(await counselling.client.get("/notifications", params={"offset": BIG}, headers=coordinator), "offset")
    concern_id = await counselling.raise_concern()
    case_id = f"case-{concern_id}"
    version = (await counselling.case(case_id))["version"]
    problem(await counselling.client.post(f"/cases/{case_id}/replies", headers=coordinator,
                                          json={"text": "您好", "version": BIG}), "version")
    problem(await counselling.client.post(f"/cases/{case_id}/replies",
                                          headers={**coordinator, "If-Match": f'"{BIG}"'}, json={"text": "您好"}),
            "If-Match")
    staff = await counselling.add_staff("psychologist")
    problem(await counselling.client.patch(f"/staff/{staff['staff_id']}", headers=counselling.as_("admin"),
                                           json={"name": "新名字", "version": BIG}), "version")
    assert (await counselling.case(case_id))["version"] == version
