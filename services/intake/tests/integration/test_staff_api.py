"""Issue 3, points 7 and 8: staff APIs with declared roles, message listing, and retention of raw text."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tongpin.intake.handlers import retention
from tongpin.intake.handlers.roster import member_id_for
from tongpin.intake.repository import DeliveryRepository, MessageRepository
from tongpin.intake.testing import intake, officer, setup_channel
from tongpin.shared.auth import ALL_ROLES
from tongpin.shared.testing.roles import route_roles, walk_matrix

pytestmark = pytest.mark.integration


async def test_every_endpoint_admits_exactly_its_declared_roles(intake_settings, clean_run, signing_key):
    async with intake(intake_settings()) as client:
        table = {(r.method, r.path): r.roles for r in route_roles(client.app)}
        assert table[("POST", "/public/submissions")] is None
        assert table[("POST", "/wecom/{channel_id}/callback")] is None
        assert table[("GET", "/messages")] == {"political_worker", "psychologist", "centre_coordinator"}
        assert "auditor" in table[("GET", "/participation")]
        assert "auditor" not in table[("GET", "/members")]
        assert table[("POST", "/messages")] == {"system", "admin"}
        problems = await walk_matrix(client, client.app, service="intake",
                                     headers_for=lambda role: signing_key.headers(role))
        assert problems == []
        assert set(ALL_ROLES) >= {role for roles in table.values() if roles for role in roles}


async def test_messages_list_filters_and_pages(intake_settings, clean_run, signing_key):
    async with intake(intake_settings()) as client:
        admin, system = signing_key.headers("admin"), signing_key.headers("system")
        await setup_channel(client, admin)
        await setup_channel(client, admin, channel_id="officers-02")
        await client.post("/roster", json={"rows": [officer("P1")]}, headers=admin)
        base = datetime(2024, 5, 1, tzinfo=UTC)
        for i in range(5):
            await client.post("/messages", headers=system, json={
                "channel_id": "officers-01" if i < 3 else "officers-02", "source_message_id": f"src-{i}",
                "author_member_id": member_id_for("P1"), "text": f"第{i}条",
                "sent_at": (base + timedelta(hours=i)).isoformat()})
        reader = signing_key.headers("political_worker")
        page = await client.get("/messages", params={"channel_id": "officers-01", "limit": 2}, headers=reader)
        assert page.status_code == 200
        assert page.json()["total"] == 3 and [m["text"] for m in page.json()["items"]] == ["第2条", "第1条"]
        rest = await client.get("/messages", params={"channel_id": "officers-01", "limit": 2, "offset": 2},
                                headers=reader)
        assert [m["text"] for m in rest.json()["items"]] == ["第0条"]
        window = await client.get("/messages", headers=reader, params={
            "sent_from": (base + timedelta(hours=1)).isoformat(), "sent_to": (base + timedelta(hours=4)).isoformat()})
        assert window.json()["total"] == 3
        too_big = await client.get("/messages", params={"limit": 201}, headers=reader)
        assert too_big.status_code == 422 and "limit" in too_big.json()["detail"]
        assert (await client.get("/messages", headers=signing_key.headers("auditor"))).status_code == 403
        members = await client.get("/members", params={"member_kind": "officer"},
                                   headers=signing_key.headers("centre_coordinator"))
        assert members.json()["total"] == 1 and members.json()["items"][0]["name"] == "民警P1"
        channel = (await client.get("/channels", headers=reader)).json()["items"][0]
        stale = await client.patch(f"/channels/{channel['id']}", json={"version": 99, "name": "新名字"},
                                   headers=admin)
        assert stale.status_code == 409
        renamed = await client.patch(f"/channels/{channel['id']}", json={"version": channel["version"],
                                                                          "name": "新名字"}, headers=admin)
        assert renamed.status_code == 200 and renamed.json()["name"] == "新名字"
        dup = await client.post("/channels", headers=admin, json={"id": "officers-01", "kind": "officers",
                                                                  "name": "x", "external_group_id": "other"})
        assert dup.status_code == 409


async def test_retention_deletes_raw_text_and_keeps_ids_times_and_channel(
    intake_settings, clean_run, signing_key, mongo_client
):
    settings = intake_settings(message_retention_days=180)
    now = datetime(2025, 6, 1, tzinfo=UTC)
    async with intake(settings) as client:
        admin = signing_key.headers("admin")
        await setup_channel(client, admin)
        await client.post("/roster", json={"rows": [officer("P1")]}, headers=admin)
        ids = {}
        for label, sent in (("old", now - timedelta(days=181)), ("new", now - timedelta(days=179))):
            r = await client.post("/messages", headers=signing_key.headers("system"), json={
                "channel_id": "officers-01", "source_message_id": f"src-{uuid.uuid4().hex}",
                "author_member_id": member_id_for("P1"), "text": f"{label}：内容", "sent_at": sent.isoformat(),
                "attachments": [{"name": "病历.pdf", "content_type": "application/pdf", "size_bytes": 10}]})
            ids[label] = r.json()["id"]
        db = client.app.state.runtime.db
        purged = await retention.purge_expired_text(messages=MessageRepository(db), deliveries=DeliveryRepository(db),
                                                   retention_days=settings.message_retention_days, now=now)
        assert purged["messages"] == 1
        old = await mongo_client[f"{clean_run}_intake"]["messages"].find_one({"_id": ids["old"]})
        assert old["text"] is None and old["attachments"] == [] and old["channel_id"] == "officers-01"
        assert old["sent_at"] == now - timedelta(days=181) and old["source_message_id"]
        reader = signing_key.headers("psychologist")
        assert (await client.get(f"/messages/{ids['old']}", headers=reader)).json()["text"] is None
        assert (await client.get(f"/messages/{ids['new']}", headers=reader)).json()["text"] == "new：内容"
        again = await retention.purge_expired_text(messages=MessageRepository(db), deliveries=DeliveryRepository(db),
                                                  retention_days=180, now=now)
        assert again["messages"] == 0
