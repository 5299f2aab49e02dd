"""Which staff roles may be held together (pen-test finding 12)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("roles", [
    ["auditor", "psychologist"], ["psychologist", "psychologist"], ["admin", "centre_coordinator"],
    ["committee_member", "political_worker"], ["auditor", "admin"],
])
async def test_role_sets_that_may_not_combine_are_refused_and_nothing_written(counselling, roles):
    created = await counselling.client.post("/staff", headers=counselling.as_("admin"), json={
        "username": "combo-user", "name": "组合", "password": "正确的密码-123", "roles": roles})
    assert created.status_code == 422, created.text
    assert created.json()["errors"][0]["field"].startswith("roles")
    assert await counselling.db["staff"].count_documents({}) == 0
    member = await counselling.add_staff("psychologist")
    changed = await counselling.client.patch(f"/staff/{member['staff_id']}", headers=counselling.as_("admin"),
                                             json={"roles": roles, "version": member["version"]})
    assert changed.status_code == 422, changed.text
    stored = await counselling.db["staff"].find_one({"_id": member["staff_id"]})
    assert stored["roles"] == ["psychologist"] and stored["version"] == member["version"]


async def test_case_worker_roles_combine(counselling):
    member = await counselling.add_staff("political_worker", "psychologist", "centre_coordinator")
    assert member["roles"] == ["political_worker", "psychologist", "centre_coordinator"]
