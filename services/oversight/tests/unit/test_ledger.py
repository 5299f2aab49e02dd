"""The hash-chained audit ledger: what an entry keeps, and that tampering is found where it happened."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tongpin.oversight.domain.ledger import (
    ANCHOR_MISMATCH,
    GENESIS,
    HASH_MISMATCH,
    PREV_HASH_MISMATCH,
    SEQUENCE_GAP,
    canonical_bytes,
    chain_hash,
    daily_digest,
    ledger_entry_from_event,
    next_record,
    verify_chain,
)
from tongpin.shared import events
from tongpin.shared.envelope import CloudEvent

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
CANARY = "CANARY-同频-7f3a 这是一段不该出现的话"


def _triaged(n: int) -> CloudEvent:
    data = events.ConcernTriaged(
        concern_id=f"c-{n}", channel_id="ch-officers", channel_kind="officers", unit="U01",
        category="housing", severity="high", flags=["urgent_hardship"], route="answer_online",
        ruleset_version=3, rule_ids=["r.housing.1"], triaged_at=T0 + timedelta(minutes=n),
    )
    return events.make_event(data, subject=f"c-{n}")


def _chain(n: int) -> list[dict]:
    records: list[dict] = []
    head = None
    for i in range(1, n + 1):
        head = next_record(head=head, entry=ledger_entry_from_event(_triaged(i)))
        records.append(head)
    return records


def test_entry_keeps_metadata_only() -> None:
    event = _triaged(1)
    entry = ledger_entry_from_event(event)
    assert entry["event_id"] == event.id
    assert entry["type"] == "concern.triaged.v1"
    assert entry["source"] == "tongpin/triage"
    assert entry["subject"] == "c-1"
    assert entry["time"] == event.time.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert entry["data"]["category"] == "housing"
    assert entry["data"]["flags"] == ["urgent_hardship"]
    assert entry["data"]["ruleset_version"] == 3
    assert entry["data"]["triaged_at"] == "2026-03-01T09:31:15.123456Z"


def test_entry_drops_text_by_name_and_by_shape() -> None:
    event = CloudEvent(
        source="tongpin/intake", type="concern.raised.v1", subject="这不是 id",
        data={
            "concern_id": "c-9", "text": "CANARY-idlike", "title": "abc", "summary": "x", "note": "n",
            "body": "b", "channel_kind": "officers", "comment": CANARY, "tags": ["ok_code", CANARY],
            "sent_at": "2026-03-01T17:30:00+08:00", "count": 2, "flag": True, "ratio": float("nan"),
            "nested": {"text": CANARY, "code": "fine"}, "自由": "x",
        },
    )
    entry = ledger_entry_from_event(event)
    assert entry["subject"] is None
    assert entry["data"] == {
        "concern_id": "c-9", "channel_kind": "officers", "tags": ["ok_code"],
        "sent_at": "2026-03-01T09:30:00Z", "count": 2, "flag": True, "nested": {"code": "fine"},
    }
    blob = canonical_bytes(entry).decode("utf-8")
    assert "CANARY" not in blob and "同频" not in blob


def test_canonical_bytes_sorted_compact_utf8_and_utc() -> None:
    shanghai = timezone(timedelta(hours=8))
    entry = {"b": 1, "a": "同", "t": datetime(2026, 3, 1, 8, tzinfo=shanghai), "n": datetime(2026, 3, 1)}
    assert canonical_bytes(entry) == '{"a":"同","b":1,"n":"2026-03-01T00:00:00Z","t":"2026-03-01T00:00:00Z"}'.encode()


def test_chain_hash_formula() -> None:
    expected = hashlib.sha256(('{"entry":{"x":1},"prev_hash":"' + GENESIS + '","seq":1}').encode()).hexdigest()
    assert chain_hash(prev_hash=GENESIS, seq=1, entry={"x": 1}) == expected
    assert chain_hash(prev_hash=GENESIS, seq=2, entry={"x": 1}) != expected


def test_intact_chain_verifies() -> None:
    records = _chain(6)
    report = verify_chain(records)
    assert report.ok and report.count == 6 and report.first_broken_seq is None and report.reason is None
    assert report.head_hash == records[-1]["hash"]
    assert records[0]["prev_hash"] == GENESIS and [r["seq"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert verify_chain([]).ok


def test_chain_survives_a_bson_like_round_trip() -> None:
    # Stored documents come back with an _id and with keys in any order.
    records = [{"_id": f"oid{r['seq']}", **dict(reversed(list(r.items())))} for r in _chain(3)]
    assert verify_chain(records).ok


def test_edited_entry_is_a_hash_mismatch_at_its_seq() -> None:
    records = copy.deepcopy(_chain(6))
    records[2]["entry"]["data"]["category"] = "praise"
    report = verify_chain(records)
    assert (report.ok, report.first_broken_seq, report.reason, report.count) == (False, 3, HASH_MISMATCH, 2)


def test_edited_entry_with_its_hash_recomputed_breaks_the_next_link() -> None:
    records = copy.deepcopy(_chain(6))
    records[2]["entry"]["data"]["category"] = "praise"
    records[2]["hash"] = chain_hash(prev_hash=records[2]["prev_hash"], seq=3, entry=records[2]["entry"])
    report = verify_chain(records)
    assert (report.first_broken_seq, report.reason) == (4, PREV_HASH_MISMATCH)


def test_deleted_entry_is_a_sequence_gap_at_the_missing_seq() -> None:
    records = _chain(6)
    del records[2]
    report = verify_chain(records)
    assert (report.ok, report.first_broken_seq, report.reason) == (False, 3, SEQUENCE_GAP)


def test_deleted_entry_with_later_ones_renumbered_breaks_the_chain() -> None:
    records = copy.deepcopy(_chain(6))
    del records[2]
    for r in records[2:]:
        r["seq"] -= 1
    report = verify_chain(records)
    assert (report.first_broken_seq, report.reason) == (3, PREV_HASH_MISMATCH)


def test_reordered_entries_are_found() -> None:
    records = _chain(6)
    swapped = [*records[:2], records[3], records[2], *records[4:]]
    assert (verify_chain(swapped).first_broken_seq, verify_chain(swapped).reason) == (3, SEQUENCE_GAP)

    renumbered = copy.deepcopy(swapped)
    renumbered[2]["seq"], renumbered[3]["seq"] = 3, 4
    report = verify_chain(renumbered)
    assert (report.first_broken_seq, report.reason) == (3, PREV_HASH_MISMATCH)

    entries_swapped = copy.deepcopy(records)
    entries_swapped[2]["entry"], entries_swapped[3]["entry"] = records[3]["entry"], records[2]["entry"]
    report = verify_chain(entries_swapped)
    assert (report.first_broken_seq, report.reason) == (3, HASH_MISMATCH)


def test_rewritten_tail_is_caught_by_a_published_anchor() -> None:
    records = _chain(6)
    anchors = {5: records[4]["hash"]}
    forged = records[:2]
    head = forged[-1]
    for original in records[2:]:
        entry = copy.deepcopy(original["entry"])
        entry["data"]["severity"] = "low"
        head = next_record(head=head, entry=entry)
        forged.append(head)
    assert verify_chain(forged).ok  # self-consistent without the anchor
    report = verify_chain(forged, anchors=anchors)
    assert (report.first_broken_seq, report.reason, report.count) == (5, ANCHOR_MISMATCH, 4)


def test_malformed_record_is_a_hash_mismatch() -> None:
    records = copy.deepcopy(_chain(2))
    records[1]["entry"] = "not an entry"
    assert verify_chain(records).reason == HASH_MISMATCH


def test_verification_can_resume_from_a_known_point() -> None:
    records = _chain(6)
    report = verify_chain(records[3:], start_seq=4, prev_hash=records[2]["hash"])
    assert report.ok and report.count == 3


def test_daily_digest() -> None:
    records = _chain(6)
    first = daily_digest(records[2], date=datetime(2026, 3, 1).date())
    assert first == {"date": "2026-03-01", "seq": 3, "hash": records[2]["hash"], "count": 3, "added": 3}
    second = daily_digest(records[5], date="2026-03-02", previous=first)
    assert second == {"date": "2026-03-02", "seq": 6, "hash": records[5]["hash"], "count": 6, "added": 3}
    assert daily_digest(None, date="2026-03-01") == {
        "date": "2026-03-01", "seq": 0, "hash": GENESIS, "count": 0, "added": 0,
    }
