"""NUL characters and numbers beyond 8-byte integers are refused at the edge (pen-test finding 5)."""

from __future__ import annotations

import pytest

from tongpin.intake.testing import intake, setup_channel

pytestmark = pytest.mark.integration

BIG = 2**64


def problem(response, field: str | None = None) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert field in [e["field"] for e in response.json()["errors"]], response.json()


async def test_nul_in_public_submissions_and_receipt_messages_is_refused_without_login(
    intake_settings, clean_run, signing_key, mongo_client
):
    async with intake(intake_settings()) as client:
        await setup_channel(client, signing_key.headers("admin"), channel_id="families-01", kind="families")
        messages = mongo_client[f"{clean_run}_intake"]["messages"]
        refused = await client.post("/public/submissions", json={"channel_kind": "families", "text": "他\u0000失眠"})
        problem(refused, "text")
        assert await messages.count_documents({}) == 0
        submitted = await client.post("/public/submissions", json={"channel_kind": "families", "text": "他失眠"})
        code = submitted.json()["receipt_code"]
        follow_up = await client.post("/public/receipts/messages",
                                      json={"receipt_code": code, "text": "补充\u0000一下"})
        problem(follow_up, "text")
        problem(await client.post("/public/receipts/thread", json={"receipt_code": "\u0000"}), "receipt_code")
        assert await messages.count_documents({}) == 1


async def test_nul_and_huge_numbers_from_staff_and_bridges_are_refused(intake_settings, clean_run, signing_key,
                                                                       mongo_client):
    async with intake(intake_settings()) as client:
        admin = signing_key.headers("admin")
        await setup_channel(client, admin)
        problem(await client.patch("/channels/officers-01", headers=admin, json={"version": BIG, "name": "x"}),
                "version")
        problem(await client.patch("/channels/officers-01", headers=admin, json={"version": 1, "name": "群\u0000"}),
                "name")
        problem(await client.get("/members/m-%00", headers=admin))
        problem(await client.post("/messages", headers=signing_key.headers("system"), json={
            "channel_id": "officers-01", "source_message_id": "s-1", "anonymous": True, "text": "ok",
            "sent_at": "2026-01-01T00:00:00Z",
            "attachments": [{"name": "a.jpg", "content_type": "image/jpeg", "size_bytes": BIG}]}))
        channel = await client.get("/channels", headers=admin)
        assert channel.json()["items"][0]["name"] != "群\u0000" and channel.json()["items"][0]["version"] == 1
        assert await mongo_client[f"{clean_run}_intake"]["messages"].count_documents({}) == 0
