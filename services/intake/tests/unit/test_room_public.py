"""The public form on in-memory repositories: receipts shown once, threads, lock-outs, limits, oversight's status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tongpin.intake.handlers import channels as channel_room
from tongpin.intake.handlers import public
from tongpin.intake.handlers.common import Trace
from tongpin.intake.handlers.delivery import on_reply_requested
from tongpin.intake.memory import IntakeStores
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.events import ReplyRequested, make_event
from tongpin.shared.problems import NotFound
from tongpin.shared.testing.memory import staged_events

pytestmark = pytest.mark.unit

TRACE = Trace("corr-public", None)
SETTINGS = IntakeSettings(receipt_pepper="unit-pepper-0123456789", public_per_client_limit=3,  # type: ignore[arg-type]
                          receipt_free_failures=2, receipt_lockout_seconds=60)
TEXT = "社区群众反映：某民警执勤时态度很好，特此表扬！👍"


async def _supervision(stores: IntakeStores) -> None:
    await channel_room.create_channel(channels=stores.channels, document={
        "_id": "supervision-01", "kind": "supervision", "name": "社会监督群", "external_group_id": "g-sup",
        "unit": "unit-03", "delivery": {"adapter": "none", "url": None}})


async def _submit(stores: IntakeStores, *, client: str = "198.51.100.7", settings: IntakeSettings = SETTINGS,
                  text: str = TEXT) -> tuple[dict[str, Any], str]:
    return await public.submit_public(
        channels=stores.channels, messages=stores.messages, receipts=stores.receipts, guard=stores.guard,
        settings=settings, client=client, channel_kind="supervision", channel_id=None, text=text, anonymous=True,
        contact="13800000000", about_officer_id=None, trace=TRACE)


async def _open(stores: IntakeStores, code: str, *, client: str = "198.51.100.7",
                now: datetime | None = None) -> dict[str, Any]:
    return await public.open_receipt(receipts=stores.receipts, guard=stores.guard, settings=SETTINGS, client=client,
                                     code=code, now=now or datetime.now(UTC))


async def test_a_submission_raises_a_concern_in_its_channels_unit_and_keeps_only_the_codes_hash(
    stores: IntakeStores, business_clock: Any
) -> None:
    await _supervision(stores)
    doc, code = await _submit(stores)
    assert doc["unit"] == "unit-03" and doc["origin"] == "public_form" and doc["contact"] is None  # anonymous
    receipt = await _open(stores, code)
    assert receipt["_id"] != code and code not in str(receipt)
    raised = staged_events(stores.db, event_type="concern.raised")
    assert [(e.subject, e.data["has_receipt"], e.data["text"]) for e in raised] == [(doc["_id"], True, TEXT)]


async def test_the_thread_shows_follow_ups_replies_and_oversights_status(
    stores: IntakeStores, business_clock: Any
) -> None:
    await _supervision(stores)
    doc, code = await _submit(stores)
    receipt = await _open(stores, code)
    await public.add_public_message(receipt=receipt, messages=stores.messages, receipts=stores.receipts,
                                    guard=stores.guard, settings=SETTINGS, client="198.51.100.7",
                                    text="补充：是上周三。", trace=TRACE)
    reply = ReplyRequested(reply_id="r-1", concern_id=doc["_id"], case_id="case-1", channel_id=None, staff_id="s-1",
                           text="感谢您的监督，我们已转达。", requested_at=datetime(2026, 3, 9, 11, 0, tzinfo=UTC))
    await on_reply_requested(event=make_event(reply), data=reply, messages=stores.messages,
                             channels=stores.channels, receipts=stores.receipts, deliveries=stores.deliveries)
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    await public.on_oversight_status(concern_id=doc["_id"], item_id="item-1", status="in_progress", at=at,
                                     messages=stores.messages, receipts=stores.receipts)
    # An older status arriving late does not replace the newer one.
    await public.on_oversight_status(concern_id=doc["_id"], item_id="item-1", status="received",
                                     at=at - timedelta(hours=1), messages=stores.messages, receipts=stores.receipts)
    thread = await public.read_thread(receipt=await _open(stores, code), messages=stores.messages,
                                      deliveries=stores.deliveries)
    assert thread["status"] == "in_progress"
    assert [(e["kind"], e.get("text") or e.get("status")) for e in thread["entries"]] == [
        ("submission", TEXT), ("submission", "补充：是上周三。"), ("reply", "感谢您的监督，我们已转达。"),
        ("status", "in_progress"), ("status", "received")]
    assert len(staged_events(stores.db, event_type="concern.raised")) == 2


async def test_wrong_codes_lock_the_client_out_for_longer_and_longer(stores: IntakeStores, business_clock: Any) -> None:
    await _supervision(stores)
    _, code = await _submit(stores)
    now = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    for _ in range(SETTINGS.receipt_free_failures):
        with pytest.raises(NotFound):
            await _open(stores, "WRONG-CODE", now=now)
    with pytest.raises(public.TooManyRequests) as locked:
        await _open(stores, code, now=now)  # even the right code waits out the lock
    assert locked.value.status == 429 and locked.value.headers == {"Retry-After": "60"}
    assert (await _open(stores, code, now=now + timedelta(seconds=61)))["channel_kind"] == "supervision"
    with pytest.raises(NotFound):
        await _open(stores, "WRONG-AGAIN", now=now + timedelta(seconds=62))
    with pytest.raises(public.TooManyRequests) as longer:
        await _open(stores, code, now=now + timedelta(seconds=62))
    assert longer.value.headers == {"Retry-After": "120"}
    assert (await _open(stores, code, client="203.0.113.9", now=now))["channel_kind"] == "supervision"


async def test_a_client_over_its_limit_is_told_to_wait_and_nothing_is_stored(
    stores: IntakeStores, business_clock: Any
) -> None:
    await _supervision(stores)
    for _ in range(SETTINGS.public_per_client_limit):
        await _submit(stores)
    with pytest.raises(public.TooManyRequests):
        await _submit(stores)
    assert (await stores.messages.page(query={}, limit=10, offset=0))[1] == SETTINGS.public_per_client_limit
    await _submit(stores, client="203.0.113.9")


async def test_without_a_pepper_the_form_is_closed(stores: IntakeStores, business_clock: Any) -> None:
    await _supervision(stores)
    with pytest.raises(public.PublicFormClosed):
        await _submit(stores, settings=IntakeSettings())
    assert staged_events(stores.db) == []
