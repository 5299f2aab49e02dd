"""Every counselling endpoint × every role: each admits exactly the roles it declares."""

from __future__ import annotations

import pytest

from tongpin.shared.testing.roles import route_roles, walk_matrix

pytestmark = pytest.mark.integration

NO_DIALOGUE_OR_NOTES = ("/cases", "/notes", "/escalations/{escalation_id}", "/broadcasts")


async def test_every_route_admits_exactly_its_declared_roles(counselling):
    problems = await walk_matrix(counselling.client, counselling.app, service="counselling",
                                 headers_for=lambda role: counselling.as_(role))
    assert problems == []


async def test_auditors_never_read_dialogue_or_notes(counselling):
    table = route_roles(counselling.app)
    readable = {(r.method, r.path) for r in table if r.roles is not None and "auditor" in r.roles}
    assert ("GET", "/sla/summary") in readable
    for method, path in readable:
        if path == "/cases/{case_id}/notes/{note_id}/reads":
            continue  # who read a note and when; never its content
        assert not path.startswith(NO_DIALOGUE_OR_NOTES), (method, path)
    public = {(r.method, r.path) for r in table if r.public}
    assert public == {("POST", "/auth/token"), ("GET", "/auth/jwks")}


@pytest.mark.parametrize("body", [
    [], "不是对象", {"version": "x", "text": 12, "scheduled_for": "明天", "method": None},
    {"version": 0, "text": "\u0000" * 6000, "channel_ids": ["../../etc"], "rating": 99, "due_by": "2020-13-45"},
])
async def test_bad_input_to_any_route_is_a_4xx_problem_never_a_500(counselling, body):
    concern_id = await counselling.raise_concern()
    values = {"case_id": f"case-{concern_id}", "staff_id": "staff-none", "talk_id": "talk-none",
              "note_id": "note-none", "escalation_id": "esc-none", "broadcast_id": "bc-none",
              "notification_id": "n-none"}
    for entry in route_roles(counselling.app):
        role = "admin" if entry.roles is None else sorted(entry.roles)[0]
        path = entry.path
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        response = await counselling.client.request(
            entry.method, path, headers={**counselling.as_(role), "If-Match": "garbage"},
            json=body if entry.path != "/auth/token" else None,
            data={"username": "x", "password": body if isinstance(body, str) else "y"}
            if entry.path == "/auth/token" else None)
        assert response.status_code < 500, (entry.method, entry.path, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json", (entry.path, response.text)
