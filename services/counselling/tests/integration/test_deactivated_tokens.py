"""A deactivated account's tokens stop working at once, here and in the other services (pen-test finding 9)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


async def test_deactivation_and_lost_roles_refuse_old_tokens_at_once(counselling):
    member = await counselling.add_staff("political_worker", "psychologist", name="离职干事")
    login = await counselling.client.post("/auth/token", data={"username": member["username"],
                                                              "password": member["password"]})
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await counselling.client.get("/auth/me", headers=bearer)).status_code == 200

    narrowed = await counselling.client.patch(f"/staff/{member['staff_id']}", headers=counselling.as_("admin"),
                                              json={"roles": ["political_worker"], "version": member["version"]})
    assert narrowed.status_code == 200, narrowed.text
    refused = await counselling.client.get("/auth/me", headers=bearer)
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    again = await counselling.client.post("/auth/token", data={"username": member["username"],
                                                              "password": member["password"]})
    fresh = {"Authorization": f"Bearer {again.json()['access_token']}"}
    assert (await counselling.client.get("/auth/me", headers=fresh)).status_code == 200

    await counselling.client.patch(f"/staff/{member['staff_id']}", headers=counselling.as_("admin"),
                                   json={"active": False, "version": narrowed.json()["version"]})
    assert (await counselling.client.get("/auth/me", headers=fresh)).status_code == 401
    assert (await counselling.client.get("/notifications", headers=fresh)).status_code == 401
