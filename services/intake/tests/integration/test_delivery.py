"""Issue 3, point 6: replies and broadcasts go back out through the channel's adapter, with retries."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from tongpin.intake.domain import signing
from tongpin.intake.handlers.roster import member_id_for
from tongpin.intake.testing import (
    WEBHOOK_SECRET,
    WebhookTarget,
    intake,
    now_iso,
    officer,
    publish,
    serve_target,
    setup_channel,
)
from tongpin.shared.events import BroadcastRequested, ReplyRequested
from tongpin.shared.testing.services import eventually

pytestmark = pytest.mark.integration

REPLY = "你好，住房的事情已经向局党委反映，下周约你面谈。🏠"


async def post_concern(client, signing_key, channel_id: str = "officers-01") -> str:
    response = await client.post("/messages", headers=signing_key.headers("system"), json={
        "channel_id": channel_id, "source_message_id": f"wecom:{uuid.uuid4().hex}",
        "author_member_id": member_id_for("P1"), "text": "没房子结不了婚", "sent_at": now_iso()})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_webhook_that_fails_three_times_then_succeeds_receives_the_reply_once(
    intake_settings, clean_run, signing_key, mongo_client
):
    async with serve_target(WebhookTarget(failures=3)) as target:
        settings = intake_settings(webhook_secrets={"officers-01": WEBHOOK_SECRET})
        async with intake(settings) as client:
            await setup_channel(client, signing_key.headers("admin"),
                                delivery={"adapter": "webhook", "url": target.url})
            await client.post("/roster", json={"rows": [officer("P1")]}, headers=signing_key.headers("admin"))
            concern_id = await post_concern(client, signing_key)
            reply = ReplyRequested(reply_id="r-42", case_id="case-1", concern_id=concern_id, staff_id="s-1",
                                   text=REPLY, requested_at=datetime.now(UTC))
            for _ in range(2):  # a redelivered request is still one delivery
                await publish(settings.amqp_url.get_secret_value(), settings.exchange, reply)
            await eventually(lambda: len(target.accepted) == 1, timeout=15)
            await asyncio.sleep(1.0)
            assert len(target.accepted) == 1 and len(target.calls) == 4
            call = target.accepted[0]
            signing.verify(header=call["headers"]["x-tongpin-signature"], body=call["body"], secret=WEBHOOK_SECRET,
                           now=int(time.time()))
            payload = json.loads(call["body"])
            assert payload["text"] == REPLY and payload["concern_id"] == concern_id
            assert call["headers"]["idempotency-key"] == "reply:r-42"
            delivery = await mongo_client[f"{clean_run}_intake"]["deliveries"].find_one({"_id": "reply:r-42"})
            assert delivery["status"] == "delivered" and delivery["attempts"] == 4
            assert [a["outcome"] for a in delivery["attempt_log"]] == ["failed"] * 3 + ["delivered"]
            listed = await client.get("/deliveries", headers=signing_key.headers("centre_coordinator"))
            assert listed.json()["items"][0]["attempts"] == 4 and "text" not in listed.json()["items"][0]


async def test_a_channel_that_is_down_loses_no_reply_across_a_restart(
    intake_settings, clean_run, signing_key, mongo_client
):
    target = WebhookTarget()
    settings = intake_settings(webhook_secrets={"officers-01": WEBHOOK_SECRET})
    deliveries = mongo_client[f"{clean_run}_intake"]["deliveries"]
    async with intake(settings) as client:
        await setup_channel(client, signing_key.headers("admin"), delivery={"adapter": "webhook", "url": target.url})
        await client.post("/roster", json={"rows": [officer("P1")]}, headers=signing_key.headers("admin"))
        concern_id = await post_concern(client, signing_key)
        await publish(settings.amqp_url.get_secret_value(), settings.exchange, ReplyRequested(
            reply_id="r-7", case_id="case-1", concern_id=concern_id, staff_id="s-1", text=REPLY,
            requested_at=datetime.now(UTC)))
        # Nobody listens on the target's port: attempts fail and are scheduled again.
        await eventually(lambda: deliveries.count_documents({"_id": "reply:r-7", "attempts": {"$gte": 2}}))
    assert (await deliveries.find_one({"_id": "reply:r-7"}))["status"] == "pending"
    async with serve_target(target), intake(settings):
        await eventually(lambda: len(target.accepted) == 1, timeout=15)
        await eventually(lambda: deliveries.count_documents({"_id": "reply:r-7", "status": "delivered"}))
    assert len(target.accepted) == 1


async def test_broadcast_goes_to_each_channel_and_announces_each_outcome(
    intake_settings, clean_run, signing_key, mongo_client, event_capture
):
    robot = WebhookTarget(reply={"errcode": 0, "errmsg": "ok"})
    hook = WebhookTarget()
    async with serve_target(robot), serve_target(hook):
        settings = intake_settings(
            webhook_secrets={"families-01": WEBHOOK_SECRET}, delivery_max_attempts=2,
            wecom_apps={"officers-01": {"token": "t", "aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
                                        "corp_id": "c", "robot_webhook_url": robot.url}})
        async with intake(settings) as client:
            admin = signing_key.headers("admin")
            await setup_channel(client, admin, delivery={"adapter": "wecom_robot"})
            await setup_channel(client, admin, channel_id="families-01", kind="families",
                                delivery={"adapter": "webhook", "url": hook.url})
            await setup_channel(client, admin, channel_id="supervision-01", kind="supervision",
                                delivery={"adapter": "webhook", "url": "http://127.0.0.1:9/down"})
            text = "本月教育任务：学习《条例》第三章，并在群内分享体会。"
            await publish(settings.amqp_url.get_secret_value(), settings.exchange, BroadcastRequested(
                broadcast_id="b-1", channel_ids=["officers-01", "families-01", "supervision-01", "ghost"],
                title="教育任务", text=text, requested_by="s-9", requested_at=datetime.now(UTC)))
            delivered = await event_capture.wait_for_type("broadcast.delivered", count=3, timeout=20)
            outcomes = {e.data["channel_id"]: (e.data["outcome"], e.data["attempts"]) for e in delivered}
            assert outcomes == {"officers-01": ("delivered", 1), "families-01": ("delivered", 1),
                                "supervision-01": ("failed", 2)}
            assert json.loads(robot.accepted[0]["body"]) == {"msgtype": "text",
                                                              "text": {"content": f"【教育任务】\n{text}"}}
            assert json.loads(hook.accepted[0]["body"])["text"] == text
            ghost = await mongo_client[f"{clean_run}_intake"]["deliveries"].find_one({"_id": "broadcast:b-1:ghost"})
            assert ghost["status"] == "failed" and ghost["attempt_log"][0]["detail"] == "unknown channel"


async def test_a_reply_naming_another_channel_goes_to_the_concerns_own_channel(
    intake_settings, clean_run, signing_key, mongo_client
):
    settings = intake_settings()
    async with intake(settings) as client:
        admin = signing_key.headers("admin")
        await setup_channel(client, admin)
        await setup_channel(client, admin, channel_id="supervision-01", kind="supervision")
        await client.post("/roster", json={"rows": [officer("P1")]}, headers=admin)
        concern_id = await post_concern(client, signing_key)
        reply = ReplyRequested(reply_id="r-elsewhere", case_id="case-1", concern_id=concern_id,
                               channel_id="supervision-01", staff_id="s-1", text=REPLY,
                               requested_at=datetime.now(UTC))
        await publish(settings.amqp_url.get_secret_value(), settings.exchange, reply)
        deliveries = mongo_client[f"{clean_run}_intake"]["deliveries"]
        delivery = await eventually(lambda: deliveries.find_one({"_id": "reply:r-elsewhere"}))
        assert delivery["channel_id"] == "officers-01" and delivery["channel_kind"] == "officers"
