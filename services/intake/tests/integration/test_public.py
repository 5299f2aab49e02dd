"""Issue 3, point 5: the public form, receipt threads, brute-force resistance, and oversight status on the thread."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from tongpin.intake.testing import PEPPER, intake, publish, setup_channel
from tongpin.shared.events import OversightItemOpened, OversightItemUpdated, ReplyRequested
from tongpin.shared.testing.services import eventually

pytestmark = pytest.mark.integration

TEXT = "派出所某民警接警态度恶劣，希望核实！（匿名）😡"


def client_headers(ip: str) -> dict[str, str]:
    return {"x-forwarded-for": ip}


async def test_receipt_code_reads_its_thread_and_a_wrong_code_reads_nothing_and_is_locked_out(
    intake_settings, clean_run, signing_key, mongo_client, event_capture
):
    settings = intake_settings(trusted_proxies=["127.0.0.1"], receipt_free_failures=3, receipt_lockout_seconds=600)
    async with intake(settings) as client:
        await setup_channel(client, signing_key.headers("admin"), channel_id="supervision-01", kind="supervision")
        submitted = await client.post("/public/submissions", headers=client_headers("10.0.0.1"),
                                      json={"channel_kind": "supervision", "text": TEXT})
        assert submitted.status_code == 201, submitted.text
        code, concern_id = submitted.json()["receipt_code"], submitted.json()["concern_id"]
        db = mongo_client[f"{clean_run}_intake"]
        # Only the keyed hash is stored, nowhere the code itself.
        stored = await db["receipts"].find_one({})
        assert stored["_id"] != code and code.replace("-", "") not in str(stored)
        assert stored["_id"] != hashlib.sha256(code.replace("-", "").encode()).hexdigest()
        raised = await event_capture.wait_for_type("concern.raised")
        assert raised[0].data["has_receipt"] is True and raised[0].data["origin"] == "public_form"
        assert raised[0].data["anonymous"] is True

        thread = await client.post("/public/receipts/thread", json={"receipt_code": code.lower()},
                                   headers=client_headers("10.0.0.1"))
        assert thread.status_code == 200, thread.text
        assert thread.json()["status"] == "received"
        assert [e["text"] for e in thread.json()["entries"]] == [TEXT]

        added = await client.post("/public/receipts/messages", headers=client_headers("10.0.0.1"),
                                  json={"receipt_code": code, "text": "补充：时间是周三下午。"})
        assert added.status_code == 201
        assert [e["text"] for e in added.json()["entries"]] == [TEXT, "补充：时间是周三下午。"]

        # Oversight's public status and a staff reply reach the thread.
        now = datetime.now(UTC)
        await publish(settings.amqp_url.get_secret_value(), settings.exchange, OversightItemOpened(
            item_id="oi-1", concern_id=concern_id, channel_kind="supervision", category="service_complaint",
            status="under_review", opened_at=now))
        await publish(settings.amqp_url.get_secret_value(), settings.exchange, ReplyRequested(
            reply_id="r-1", case_id="case-1", concern_id=concern_id, staff_id="s-1",
            text="您好，已转交督察核实，结果会在此告知。", requested_at=now))

        async def thread_now():
            r = await client.post("/public/receipts/thread", json={"receipt_code": code},
                                  headers=client_headers("10.0.0.1"))
            body = r.json()
            return body if body["status"] == "under_review" and len(body["entries"]) == 4 else None

        body = await eventually(thread_now)
        kinds = [e["kind"] for e in body["entries"]]
        assert sorted(kinds) == ["reply", "status", "submission", "submission"]
        assert any(e.get("text") == "您好，已转交督察核实，结果会在此告知。" for e in body["entries"])
        # An older status arriving late does not overwrite a newer one.
        await publish(settings.amqp_url.get_secret_value(), settings.exchange, OversightItemUpdated(
            item_id="oi-1", concern_id=concern_id, status="received", changed_at=datetime(2020, 1, 1, tzinfo=UTC)))
        async def three_handled():
            return await db["inbox"].count_documents({}) == 3

        await eventually(three_handled)
        assert (await db["receipts"].find_one({}))["status"] == "under_review"

        # Wrong codes read nothing; after three the client is locked out, even with the right code.
        wrong = "ABCD-EFGH-JKMN-PQRS"
        for attempt, guess in enumerate((wrong, "not a code", "ZZZZ-ZZZZ-ZZZZ-ZZZZ")):
            r = await client.post("/public/receipts/thread", json={"receipt_code": guess},
                                  headers=client_headers("10.6.6.6"))
            assert r.status_code == 404, (attempt, r.text)
            assert "entries" not in r.json()
        # The third wrong code set the lock: now even the right code is refused for a while.
        locked = await client.post("/public/receipts/thread", json={"receipt_code": code},
                                   headers=client_headers("10.6.6.6"))
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 500
        lock = await db["receipt_lockouts"].find_one({"_id": "10.6.6.6"})
        assert lock["failures"] == 3 and lock["locked_until"] > datetime.now(UTC)
        # Another client is unaffected.
        ok = await client.post("/public/receipts/thread", json={"receipt_code": code},
                               headers=client_headers("10.0.0.2"))
        assert ok.status_code == 200

    # The lock lives in MongoDB: a restarted service (or another worker) keeps it.
    async with intake(settings) as client:
        again = await client.post("/public/receipts/thread", json={"receipt_code": code},
                                  headers=client_headers("10.6.6.6"))
        assert again.status_code == 429


async def test_public_form_is_rate_limited_per_client_and_overall(intake_settings, clean_run, signing_key,
                                                                   mongo_client):
    settings = intake_settings(trusted_proxies=["127.0.0.1"], public_per_client_limit=2, public_overall_limit=3)
    async with intake(settings) as client:
        await setup_channel(client, signing_key.headers("admin"), channel_id="families-01", kind="families")
        body = {"channel_kind": "families", "text": "我爱人最近总是失眠，很担心他。", "anonymous": False,
                "contact": "王女士 138****0000"}
        statuses = []
        for _ in range(3):
            r = await client.post("/public/submissions", json=body, headers=client_headers("10.1.1.1"))
            statuses.append(r.status_code)
        assert statuses == [201, 201, 429]
        other = await client.post("/public/submissions", json=body, headers=client_headers("10.1.1.2"))
        assert other.status_code == 201
        overall = await client.post("/public/submissions", json=body, headers=client_headers("10.1.1.3"))
        assert overall.status_code == 429 and "retry-after" in overall.headers
        # Refused ones stored nothing; bad input is named.
        assert await mongo_client[f"{clean_run}_intake"]["messages"].count_documents({}) == 3
        officers_form = await client.post("/public/submissions", json={**body, "channel_kind": "officers"},
                                          headers=client_headers("10.1.1.9"))
        assert officers_form.status_code == 422 and "channel_kind" in officers_form.json()["detail"]
    closed = intake_settings(receipt_pepper=None)
    async with intake(closed) as client:
        r = await client.post("/public/submissions", json=body)
        assert r.status_code == 503
    assert PEPPER
