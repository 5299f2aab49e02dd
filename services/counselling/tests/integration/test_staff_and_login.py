"""Staff directory, the first admin, login by the OAuth2 password flow, JWKS and the throttle."""

from __future__ import annotations

import uuid

import pytest

from tongpin.counselling.admin import create_admin
from tongpin.counselling.app import create_app
from tongpin.counselling.settings import CounsellingSettings
from tongpin.shared.auth import TokenVerifier
from tongpin.shared.settings import ServiceSettings
from tongpin.shared.testing.services import running

pytestmark = pytest.mark.integration


async def test_first_admin_logs_in_and_manages_the_directory(counselling, counselling_settings, event_capture):
    username = f"admin{uuid.uuid4().hex[:6]}"
    admin_id = await create_admin(settings=CounsellingSettings(**counselling_settings()), username=username,
                                  name="系统管理员", password="管理员的密码-2024")
    response = await counselling.client.post("/auth/token",
                                             data={"username": username, "password": "管理员的密码-2024"})
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "bearer" and token["roles"] == ["admin"] and token["staff_id"] == admin_id
    assert token["name"] == "系统管理员" and 0 < token["expires_in"] <= 900
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    me = await counselling.client.get("/auth/me", headers=bearer)
    assert me.json() == {"staff_id": admin_id, "roles": ["admin"], "name": "系统管理员", "kind": "staff"}

    created = await counselling.client.post("/staff", headers=bearer, json={
        "username": f"psy{uuid.uuid4().hex[:6]}", "name": "李心理", "password": "心理老师密码123",
        "roles": ["psychologist"], "skills": ["crisis_intervention"], "on_call": True})
    assert created.status_code == 201, created.text
    staff_id = created.json()["staff_id"]
    assert "password" not in created.text and "password_hash" not in created.text
    events = await event_capture.wait_for(
        lambda _: any(e.data["staff_id"] == staff_id for e in event_capture.of_type("staff.updated")))
    updated = next(e for e in events if e.type == "staff.updated.v1" and e.data["staff_id"] == staff_id).data
    assert updated["roles"] == ["psychologist"] and updated["on_call"] and updated["skills"] == ["crisis_intervention"]

    leave = await counselling.client.put(f"/staff/{staff_id}/availability",
                                         headers=counselling.as_("centre_coordinator"),
                                         json={"on_leave": True, "on_call": False})
    assert leave.status_code == 200 and leave.json()["on_leave"] is True and leave.json()["version"] == 2
    await event_capture.wait_for(lambda _: any(e.data["staff_id"] == staff_id and e.data["on_leave"]
                                               for e in event_capture.of_type("staff.updated")))
    stale = await counselling.client.patch(f"/staff/{staff_id}", headers=bearer, json={"roles": ["auditor"],
                                                                                     "version": 1})
    assert stale.status_code == 409
    renamed = await counselling.client.patch(f"/staff/{staff_id}", headers=bearer,
                                             json={"name": "李心理（主任）", "version": 2})
    assert renamed.status_code == 200 and renamed.json()["name"] == "李心理（主任）"
    coordinator_edit = await counselling.client.patch(f"/staff/{staff_id}",
                                                      headers=counselling.as_("centre_coordinator"),
                                                      json={"roles": ["admin"]})
    assert coordinator_edit.status_code == 403
    duplicate = await counselling.client.post("/staff", headers=bearer, json={
        "username": username, "name": "重复", "password": "12345678abc", "roles": ["admin"]})
    assert duplicate.status_code == 409
    bad_role = await counselling.client.post("/staff", headers=bearer, json={
        "username": "x-new", "name": "x", "password": "12345678abc", "roles": ["boss"]})
    assert bad_role.status_code == 422 and bad_role.json()["errors"][0]["field"].startswith("roles")
    listing = await counselling.client.get("/staff?role=psychologist&limit=500", headers=bearer)
    assert listing.status_code == 422
    listing = await counselling.client.get("/staff?role=psychologist", headers=bearer)
    assert [s["staff_id"] for s in listing.json()["items"]] == [staff_id]


async def test_login_tokens_verify_by_jwks_as_other_services_do(counselling):
    member = await counselling.add_staff("political_worker", name="张干事")
    response = await counselling.client.post("/auth/token", data={"username": member["username"],
                                                                  "password": member["password"]})
    token = response.json()["access_token"]
    jwks = await counselling.client.get("/auth/jwks")
    assert jwks.status_code == 200 and jwks.json()["keys"][0]["kty"] == "OKP"
    verifier = TokenVerifier(ServiceSettings(jwks_json=jwks.text))
    principal = await verifier.verify(token)
    assert principal.subject == member["staff_id"] and principal.roles == {"political_worker"}
    assert principal.name == "张干事"


async def test_counselling_without_a_configured_verifier_trusts_its_own_key(counselling_settings, signing_key):
    settings = CounsellingSettings(**{**counselling_settings(), "jwks_json": None})
    app = create_app(settings)
    async with running(app) as client:
        created = await client.post("/staff", headers=signing_key.headers("admin"), json={
            "username": "own-key", "name": "自签", "password": "自己的密码123", "roles": ["auditor"]})
        assert created.status_code == 201, created.text
        login = await client.post("/auth/token", data={"username": "own-key", "password": "自己的密码123"})
        me = await client.get("/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
        assert me.status_code == 200 and me.json()["roles"] == ["auditor"]


async def test_repeated_failures_slow_down_and_every_attempt_is_recorded(counselling):
    member = await counselling.add_staff("psychologist")
    username = member["username"]
    statuses = []
    for _ in range(12):
        response = await counselling.client.post("/auth/token", data={"username": username, "password": "wrong"})
        statuses.append(response.status_code)
    assert statuses[0] == 401
    assert 429 in statuses  # slowed down: an attempt inside the delay is refused unchecked
    last = await counselling.client.post("/auth/token", data={"username": username, "password": member["password"]})
    # Even the right password is refused unchecked while the delay runs.
    if last.status_code == 429:
        assert int(last.headers["retry-after"]) >= 1 and last.headers["content-type"] == "application/problem+json"
    attempts = counselling.db["login_attempts"]
    recorded = [a async for a in attempts.find({"username": username})]
    assert len(recorded) == 13
    assert {a["outcome"] for a in recorded} >= {"failure", "throttled"}
    assert all("password" not in a for a in recorded)
    unknown = await counselling.client.post("/auth/token", data={"username": "nobody-here", "password": "x"})
    assert unknown.status_code == 401 and unknown.json()["detail"] == "the username or password is wrong"
    missing = await counselling.client.post("/auth/token", data={"username": "nobody-here"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "password"


async def test_create_admin_command_reads_the_password_from_the_environment(counselling, counselling_settings):
    import os
    import subprocess
    import sys

    from tongpin.shared.testing.services import settings_to_env

    env = {**os.environ, **settings_to_env(counselling_settings()), "TONGPIN_ADMIN_PASSWORD": "命令行密码-123"}
    done = subprocess.run(
        [sys.executable, "-m", "tongpin.counselling.admin", "create-admin", "--username", "cli-admin",
         "--name", "首个管理员"], env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    staff_id = done.stdout.decode().strip()
    login = await counselling.client.post("/auth/token", data={"username": "cli-admin", "password": "命令行密码-123"})
    assert login.status_code == 200 and login.json()["staff_id"] == staff_id
    again = subprocess.run(
        [sys.executable, "-m", "tongpin.counselling.admin", "create-admin", "--username", "cli-admin",
         "--name", "重复"], env=env, capture_output=True, timeout=60, check=False)
    assert again.returncode == 1 and "exists" in again.stderr.decode()
