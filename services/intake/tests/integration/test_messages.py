"""Issue 3, point 3: one message endpoint, idempotent on the source's id, announced as concern.raised."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tongpin.intake.handlers.roster import member_id_for
from tongpin.intake.testing import intake, now_iso, officer, setup_channel
from tongpin.shared.events import MAX_TEXT

pytestmark = pytest.mark.integration

TEXT = "宿舍没有热水，已经一周了！请帮帮忙🙏（全角标点）Mixed 文字 e\u0301 👨‍👩‍👧"


def message(**extra):
    return {"channel_id": "officers-01", "source_message_id": f"wecom:{uuid.uuid4().hex}",
            "author_member_id": member_id_for("P1001"), "text": TEXT, "sent_at": now_iso(), **extra}


async def test_same_message_twice_gives_one_concern_and_one_event(
    intake_settings, clean_run, signing_key, mongo_client, event_capture
):
    admin, system = signing_key.headers("admin"), signing_key.headers("system")
    async with intake(intake_settings()) as client:
        await setup_channel(client, admin)
        roster = await client.post("/roster", json={"rows": [officer("P1001", unit="unit-07"), officer("P2002")]},
                                   headers=admin)
        assert roster.status_code == 200, roster.text
        body = message(about_officer_id=member_id_for("P2002"),
                       attachments=[{"name": "照片.jpg", "content_type": "image/jpeg", "size_bytes": 2048}])
        first = await client.post("/messages", json=body, headers=system)
        second = await client.post("/messages", json=body, headers=system)
        assert first.status_code == 201, first.text
        assert second.status_code == 200, second.text
        assert first.json()["id"] == second.json()["id"]
        assert first.json()["text"] == TEXT
        assert first.content.decode("utf-8").count(TEXT) == 1 or TEXT in json.loads(first.content)["text"]

        raised = await event_capture.wait_for_type("concern.raised")
        await asyncio.sleep(0.5)
        assert len(event_capture.of_type("concern.raised")) == 1
        data = raised[0].data
        assert data["concern_id"] == first.json()["id"]
        assert data["text"] == TEXT
        assert data["origin"] == "api" and data["channel_kind"] == "officers"
        assert data["about_officer_id"] == member_id_for("P2002")
        assert data["unit"] == "unit-01"  # the unit of the officer the message is about
        assert data["attachment_count"] == 1 and data["has_receipt"] is False
        stored = mongo_client[f"{clean_run}_intake"]["messages"]
        assert await stored.count_documents({}) == 1
        doc = await stored.find_one({})
        assert doc["text"].encode("utf-8") == TEXT.encode("utf-8")


async def test_bad_input_is_a_problem_naming_the_field_and_stores_nothing(
    intake_settings, clean_run, signing_key, mongo_client
):
    admin, system = signing_key.headers("admin"), signing_key.headers("system")
    async with intake(intake_settings()) as client:
        await setup_channel(client, admin)
        await client.post("/roster", json={"rows": [officer("P1001")]}, headers=admin)
        cases = [
            (message(channel_id="no-such-channel"), 404, None),
            (message(author_member_id="m-unknown"), 404, None),
            (message(text=""), 422, "text"),
            (message(text=" \u3000\u200b\n"), 422, "text"),
            (message(text="字" * (MAX_TEXT + 1)), 422, "text"),
            (message(author_member_id=None), 422, "author_member_id"),
            (message(sent_at="yesterday"), 422, "sent_at"),
            (message(channel_kind="families"), 422, "channel_kind"),
        ]
        for body, status, field in cases:
            response = await client.post("/messages", json=body, headers=system)
            assert response.status_code == status, (body, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            if field:
                assert field in response.json()["detail"]
        # A lone surrogate is not valid UTF-8 text.
        raw = json.dumps(message()).replace(json.dumps(TEXT)[1:-1], "\\ud800abc")
        response = await client.post("/messages", content=raw.encode(), headers={
            **system, "content-type": "application/json"})
        assert response.status_code == 422 and "text" in response.json()["detail"]
        # Bytes that are not UTF-8 at all.
        response = await client.post("/messages", content=b'{"text": "\xff\xfe"}', headers={
            **system, "content-type": "application/json"})
        assert 400 <= response.status_code < 500
        assert await mongo_client[f"{clean_run}_intake"]["messages"].count_documents({}) == 0

        # Exactly the limit is accepted; anonymous needs no author.
        ok = await client.post("/messages", json=message(text="字" * MAX_TEXT), headers=system)
        assert ok.status_code == 201
        anon = await client.post("/messages", json=message(author_member_id=None, anonymous=True), headers=system)
        assert anon.status_code == 201 and anon.json()["anonymous"] is True


async def test_a_reused_source_id_with_a_different_message_is_a_conflict_naming_it(
    intake_settings, clean_run, signing_key, mongo_client, event_capture
):
    admin, system = signing_key.headers("admin"), signing_key.headers("system")
    async with intake(intake_settings()) as client:
        await setup_channel(client, admin)
        await client.post("/roster", json={"rows": [officer("P1001"), officer("P2002")]}, headers=admin)
        body = message()
        first = await client.post("/messages", json=body, headers=system)
        assert first.status_code == 201, first.text
        # The same message again, its time written in another zone and the author by external id: the stored answer.
        same_instant = datetime.fromisoformat(body["sent_at"]).astimezone(timezone(timedelta(hours=8))).isoformat()
        again = await client.post("/messages", headers=system, json={
            **{k: v for k, v in body.items() if k != "author_member_id"}, "author_external_id": "P1001",
            "sent_at": same_instant})
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
        for change in ({"text": TEXT + "（改）"}, {"author_member_id": member_id_for("P2002")},
                       {"sent_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()},
                       {"attachments": [{"name": "a.png", "content_type": "image/png", "size_bytes": 1}]}):
            reused = await client.post("/messages", json={**body, **change}, headers=system)
            assert reused.status_code == 409, (change, reused.text)
            problem = reused.json()
            assert reused.headers["content-type"] == "application/problem+json"
            assert body["source_message_id"] in problem["detail"] and problem["source_message_id"] == \
                body["source_message_id"]
            assert problem["existing_id"] == first.json()["id"]
        await event_capture.wait_for_type("concern.raised")
        await asyncio.sleep(0.5)
        assert len(event_capture.of_type("concern.raised")) == 1
        stored = await mongo_client[f"{clean_run}_intake"]["messages"].find_one({})
        assert stored["text"] == TEXT
