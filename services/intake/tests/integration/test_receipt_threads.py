"""A receipt thread shows each reply and each status once, however often its event is delivered."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tongpin.intake.handlers.delivery import on_reply_requested
from tongpin.intake.handlers.messages import accept_message
from tongpin.intake.handlers.public import on_oversight_status, read_thread
from tongpin.intake.repository import ChannelRepository, DeliveryRepository, MessageRepository, ReceiptRepository
from tongpin.shared.events import ReplyRequested, make_event

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)


async def test_a_redelivered_reply_or_status_appears_once_on_the_receipt_thread(mongo_client, run_id, drop_databases):
    db = mongo_client[f"{run_id}_intake"]
    messages, receipts = MessageRepository(db), ReceiptRepository(db)
    channels, deliveries = ChannelRepository(db), DeliveryRepository(db)
    await receipts.insert({"_id": "rcpt-1", "concern_id": "c-1", "channel_id": "supervision-01",
                           "channel_kind": "supervision", "unit": "bureau", "status": "received", "status_at": None,
                           "created_at": NOW, "thread": [{"id": "m:c-1", "kind": "submission", "ref": "c-1",
                                                          "at": NOW}]})
    await accept_message(repo=messages, channel_id="supervision-01", channel_kind="supervision",
                         source_message_id="form:1", text="反映问题", sent_at=NOW, author_member_id=None,
                         correlation_id=None, traceparent=None, origin="public_form", receipt_id="rcpt-1",
                         concern_id="c-1")
    reply = ReplyRequested(reply_id="r-1", case_id="case-1", concern_id="c-1", staff_id="s-1",
                           text="已收到，正在核实。", requested_at=NOW)
    for _ in range(2):  # at least once: the same event again
        await on_reply_requested(event=make_event(reply), data=reply, messages=messages, channels=channels,
                                 receipts=receipts, deliveries=deliveries)
        await on_oversight_status(concern_id="c-1", item_id="oi-1", status="under_review", at=NOW,
                                  messages=messages, receipts=receipts)
    receipt = await receipts.get("rcpt-1")
    assert receipt is not None
    assert [entry["id"] for entry in receipt["thread"]] == ["m:c-1", "r:r-1", f"s:oi-1:under_review:{NOW.isoformat()}"]
    thread = await read_thread(receipt=receipt, messages=messages, deliveries=deliveries)
    assert [e["kind"] for e in thread["entries"]] == ["submission", "reply", "status"]
