"""Accepting a message, on in-memory repositories: once per source id, the unit it counts in, refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tongpin.intake.domain.roster import validate_rows
from tongpin.intake.handlers import channels as channel_room
from tongpin.intake.handlers import roster
from tongpin.intake.handlers.common import Trace
from tongpin.intake.handlers.messages import post_message
from tongpin.intake.memory import IntakeStores
from tongpin.shared.problems import Conflict, Invalid, NotFound
from tongpin.shared.testing.memory import staged_events

pytestmark = pytest.mark.unit

TRACE = Trace("corr-unit", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
SENT = datetime(2026, 3, 9, 8, 15, 30, 123456, tzinfo=UTC)
TEXT = "我想反映一下：住房问题，已经拖了两年了！！（急）😀"


async def _world(stores: IntakeStores) -> None:
    for channel_id, kind, unit in (("officers-01", "officers", None), ("families-01", "families", "unit-07")):
        await channel_room.create_channel(channels=stores.channels, document={
            "_id": channel_id, "kind": kind, "name": "群", "external_group_id": f"g-{channel_id}", "unit": unit,
            "delivery": {"adapter": "none", "url": None}})
    rows, errors = validate_rows([
        {"external_id": "P001", "name": "王警官", "member_kind": "officer", "unit": "unit-01"},
        {"external_id": "P002", "name": "李警官", "member_kind": "officer", "unit": "unit-02"},
        {"external_id": "F001", "name": "王家属", "member_kind": "family", "linked_officer_external_id": "P001"},
    ])
    assert not errors
    await roster.upsert_roster(members=stores.members, rows=rows, errors=[], trace=TRACE, bureau_unit="bureau",
                               zone=UTC)


async def _post(stores: IntakeStores, **overrides: Any) -> tuple[dict[str, Any], bool]:
    arguments: dict[str, Any] = {
        "channel_id": "officers-01", "source_message_id": "wx-msg-1", "text": TEXT, "sent_at": SENT,
        "author_external_id": "P001", "attachments": [{"name": "图.png", "content_type": "image/png", "size_bytes": 9}],
    } | overrides
    return await post_message(channels=stores.channels, members=stores.members, messages=stores.messages,
                              trace=TRACE, bureau_unit="bureau", **arguments)


async def test_a_message_is_stored_as_received_and_raises_one_concern(
    stores: IntakeStores, business_clock: Any
) -> None:
    await _world(stores)
    doc, created = await _post(stores)
    assert created
    stored = await stores.messages.get(doc["_id"])
    assert stored is not None and stored["text"] == TEXT  # unchanged, byte for byte
    assert stored["sent_at"] == SENT.replace(microsecond=123000)  # the stored precision
    raised = staged_events(stores.db, event_type="concern.raised")
    assert [e.subject for e in raised] == [doc["_id"]]
    assert raised[0].data["text"] == TEXT and raised[0].data["unit"] == "unit-01"
    assert raised[0].correlationid == "corr-unit" and raised[0].data["attachment_count"] == 1


async def test_a_retry_with_the_same_body_gets_the_stored_answer_and_raises_nothing_more(
    stores: IntakeStores, business_clock: Any
) -> None:
    await _world(stores)
    first, created = await _post(stores)
    business_clock.set(datetime(2026, 3, 9, 10, 0, tzinfo=UTC))  # the retry comes later
    again, created_again = await _post(stores)
    assert created and not created_again
    assert again["_id"] == first["_id"] and again["received_at"] == first["received_at"]
    assert len(staged_events(stores.db, event_type="concern.raised")) == 1
    assert await stores.messages.page(query={}, limit=10, offset=0) == ([await stores.messages.get(first["_id"])], 1)


@pytest.mark.parametrize("change", [
    {"text": TEXT + "（补充）"},
    {"sent_at": datetime(2026, 3, 9, 8, 16, tzinfo=UTC)},
    {"author_external_id": "P002"},
    {"attachments": []},
])
async def test_the_same_source_id_with_a_different_body_is_a_conflict_naming_the_stored_message(
    stores: IntakeStores, business_clock: Any, change: dict[str, Any]
) -> None:
    await _world(stores)
    first, _ = await _post(stores)
    with pytest.raises(Conflict) as refused:
        await _post(stores, **change)
    assert refused.value.status == 409
    assert refused.value.extensions == {"source_message_id": "wx-msg-1", "existing_id": first["_id"]}
    assert (await stores.messages.get(first["_id"]) or {})["text"] == TEXT  # the first one stands
    assert len(staged_events(stores.db, event_type="concern.raised")) == 1


async def test_a_concern_counts_in_its_officers_unit_else_its_authors_else_its_channels(
    stores: IntakeStores, business_clock: Any
) -> None:
    await _world(stores)
    about, _ = await _post(stores, source_message_id="a", about_officer_id=roster.member_id_for("P002"))
    family, _ = await _post(stores, source_message_id="b", channel_id="families-01", author_external_id="F001")
    anonymous, _ = await _post(stores, source_message_id="c", channel_id="families-01", author_external_id=None,
                               anonymous=True)
    bureau, _ = await _post(stores, source_message_id="d", author_external_id=None, anonymous=True)
    assert [about["unit"], family["unit"], anonymous["unit"], bureau["unit"]] == [
        "unit-02", "unit-01", "unit-07", "bureau"]


@pytest.mark.parametrize(("change", "problem", "field"), [
    ({"channel_id": "officers-99"}, NotFound, None),
    ({"channel_kind": "families"}, Invalid, "channel_kind"),
    ({"anonymous": True}, Invalid, "anonymous"),
    ({"author_external_id": None}, Invalid, "author_member_id"),
    ({"about_officer_id": "m-nobody"}, NotFound, None),
    ({"text": "   "}, Invalid, "text"),
])
async def test_a_refused_message_writes_nothing(
    stores: IntakeStores, business_clock: Any, change: dict[str, Any], problem: type[Exception], field: str | None
) -> None:
    await _world(stores)
    with pytest.raises(problem) as refused:
        await _post(stores, **change)
    if field is not None:
        assert refused.value.extensions["errors"][0]["field"] == field  # type: ignore[attr-defined]
    assert await stores.messages.page(query={}, limit=10, offset=0) == ([], 0)
    assert staged_events(stores.db, event_type="concern.raised") == []
