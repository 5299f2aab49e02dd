"""The audit ledger: metadata of every lifecycle event, hash-chained so tampering shows.

A stored record is ``{"seq", "prev_hash", "hash", "entry"}``; ``seq`` starts at 1, the first
record's ``prev_hash`` is ``GENESIS``, and ``hash = chain_hash(prev_hash, seq, entry)``. An
entry keeps only ids, codes, flags, numbers and times. Times are kept as ISO-8601 UTC *strings*
so an entry hashes the same after a round trip through BSON (whose dates lose microseconds and
time zones). Editing an entry breaks its own hash; deleting one leaves a sequence gap; moving or
renumbering one breaks the chain of ``prev_hash``. A rewrite of the whole tail is caught by
comparing with the published daily digests (``anchors``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tongpin.shared import events
from tongpin.shared.envelope import CloudEvent

GENESIS = "0" * 64

HASH_MISMATCH = "hash mismatch"
SEQUENCE_GAP = "sequence gap"
PREV_HASH_MISMATCH = "prev hash mismatch"
ANCHOR_MISMATCH = "anchor mismatch"


def _pattern(annotated: Any) -> re.Pattern[str]:
    """The regex of a catalogue ``Annotated[str, StringConstraints(pattern=...)]`` alias."""
    return re.compile(annotated.__metadata__[0].pattern)


ID_RE = _pattern(events.Id)
CODE_RE = _pattern(events.Code)
SOURCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,127}$")
# Field names that could hold words people wrote, dropped whatever their value looks like.
TEXT_FIELD_NAMES = frozenset({"text", "title", "summary", "note", "body"})
_ISO_PREFIX_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def iso_utc(at: datetime) -> str:
    """An instant as ISO-8601 UTC with a ``Z`` suffix (naive datetimes are taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _scalar(value: Any) -> tuple[bool, Any]:
    """(keep, cleaned) for one data value that is not a list or mapping."""
    if value is None or isinstance(value, bool):
        return True, value
    if isinstance(value, int):
        return True, value
    if isinstance(value, float):
        return (True, value) if math.isfinite(value) else (False, None)
    if isinstance(value, datetime):
        return True, iso_utc(value)
    if isinstance(value, str):
        if _ISO_PREFIX_RE.match(value):
            try:
                return True, iso_utc(datetime.fromisoformat(value))
            except ValueError:
                return False, None
        if ID_RE.fullmatch(value) or CODE_RE.fullmatch(value):
            return True, value
    return False, None


def _scrub(data: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only metadata-shaped fields: code-like names, and ids, codes, flags, numbers, times."""
    kept: dict[str, Any] = {}
    for name, value in data.items():
        if not isinstance(name, str) or not CODE_RE.fullmatch(name) or name in TEXT_FIELD_NAMES:
            continue
        if isinstance(value, Mapping):
            kept[name] = _scrub(value)
        elif isinstance(value, list | tuple):
            items = [cleaned for keep, cleaned in map(_scalar, value) if keep]
            kept[name] = items
        else:
            keep, cleaned = _scalar(value)
            if keep:
                kept[name] = cleaned
    return kept


def ledger_entry_from_event(event: CloudEvent) -> dict[str, Any]:
    """The metadata of one event as a ledger entry; free text never gets in."""
    return {
        "event_id": event.id if ID_RE.fullmatch(event.id) else None,
        "type": event.type if ID_RE.fullmatch(event.type) else None,
        "source": event.source if SOURCE_RE.fullmatch(event.source) else None,
        "subject": event.subject if event.subject and ID_RE.fullmatch(event.subject) else None,
        "time": iso_utc(event.time),
        "data": _scrub(event.data),
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not allowed in a ledger entry")


def canonical_bytes(entry: Mapping[str, Any]) -> bytes:
    """Sorted-key, compact UTF-8 JSON of an entry (datetimes as ISO-8601 UTC); the bytes that get hashed."""
    return json.dumps(
        entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
        default=_json_default,
    ).encode("utf-8")


def chain_hash(*, prev_hash: str, seq: int, entry: Mapping[str, Any]) -> str:
    """SHA-256 hex over the previous hash, the sequence number and the entry."""
    return hashlib.sha256(canonical_bytes({"entry": entry, "prev_hash": prev_hash, "seq": seq})).hexdigest()


def next_record(*, head: Mapping[str, Any] | None, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The record that appends ``entry`` after ``head`` (None for an empty ledger)."""
    seq = 1 if head is None else int(head["seq"]) + 1
    prev_hash = GENESIS if head is None else str(head["hash"])
    return {
        "seq": seq,
        "prev_hash": prev_hash,
        "hash": chain_hash(prev_hash=prev_hash, seq=seq, entry=entry),
        "entry": dict(entry),
    }


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Outcome of a chain check: ``count`` is how many records verified before any break."""

    ok: bool
    count: int
    first_broken_seq: int | None = None
    reason: str | None = None
    head_hash: str = GENESIS


def verify_chain(
    records: Iterable[Mapping[str, Any]],
    *,
    start_seq: int = 1,
    prev_hash: str = GENESIS,
    anchors: Mapping[int, str] | None = None,
) -> ChainReport:
    """Walk records in seq order and report the first seq where the chain breaks, and why.

    ``start_seq``/``prev_hash`` let a check resume from a known point; ``anchors`` maps seq to a
    hash published earlier (a daily digest). A missing record is reported at the missing seq.
    """
    expected, running, count = start_seq, prev_hash, 0

    def broken(reason: str) -> ChainReport:
        return ChainReport(ok=False, count=count, first_broken_seq=expected, reason=reason, head_hash=running)

    for record in records:
        if record.get("seq") != expected:
            return broken(SEQUENCE_GAP)
        if record.get("prev_hash") != running:
            return broken(PREV_HASH_MISMATCH)
        entry = record.get("entry")
        recomputed: str | None = None
        if isinstance(entry, Mapping):
            try:
                recomputed = chain_hash(prev_hash=running, seq=expected, entry=entry)
            except (TypeError, ValueError):
                recomputed = None
        if recomputed is None or record.get("hash") != recomputed:
            return broken(HASH_MISMATCH)
        if anchors and expected in anchors and anchors[expected] != recomputed:
            return broken(ANCHOR_MISMATCH)
        running, expected, count = recomputed, expected + 1, count + 1
    return ChainReport(ok=True, count=count, head_hash=running)


def daily_digest(
    head: Mapping[str, Any] | None, *, date: date | str, previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What gets exported each day: the date, the head's seq and hash, and entry counts.

    ``count`` is all entries up to the head; ``added`` those since the ``previous`` digest.
    """
    seq = 0 if head is None else int(head["seq"])
    return {
        "date": date if isinstance(date, str) else date.isoformat(),
        "seq": seq,
        "hash": GENESIS if head is None else str(head["hash"]),
        "count": seq,
        "added": seq - (int(previous["seq"]) if previous is not None else 0),
    }


# Fields naming a person who spoke or is spoken about. Oversight keeps none of them, so no answer it
# gives can list which officers sought help (case and staff ids stay: they identify work, not people).
PERSON_ID_FIELDS = frozenset({"about_officer_id", "member_id", "author_member_id"})


def without_person_ids(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A ledger entry with person-identifying fields removed from its data."""
    data = entry.get("data")
    if not isinstance(data, Mapping):
        return dict(entry)
    return {**entry, "data": {k: v for k, v in data.items() if k not in PERSON_ID_FIELDS}}
