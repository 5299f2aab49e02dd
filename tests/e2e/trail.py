"""Where membership events went: intake's records, the broker and oversight's ledger and figures side by side.

Printed by the year tests when a report does not settle, so a figure one short names the stage that lost it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pymongo.asynchronous.mongo_client import AsyncMongoClient

from tongpin.shared.testing.fixtures import EventCapture

MEMBER_TYPES = ("member.joined", "member.left")


async def membership_trail(capture: EventCapture, mongo: AsyncMongoClient[Any], run_id: str) -> list[str]:
    """One line per stage and per event that went missing after it."""
    intake, oversight = mongo[f"{run_id}_intake"], mongo[f"{run_id}_oversight"]
    lines: list[str] = []
    memberships = await intake["memberships"].find(
        {}, {"intervals": 1, "member_id": 1, "channel_id": 1, "outbox_pending": 1, "outbox_dirty": 1}).to_list()
    stored = Counter()
    for m in memberships:
        stored["member.joined"] += len(m["intervals"])
        stored["member.left"] += sum(1 for i in m["intervals"] if i.get("left_at"))
    pending = [m["_id"] for m in memberships if m.get("outbox_dirty") or m.get("outbox_pending")]
    lines.append(f"intake: {len(memberships)} memberships, {stored['member.joined']} joins and "
                 f"{stored['member.left']} leaves in their intervals; outbox pending in {pending[:5]}")
    for kind in MEMBER_TYPES:
        published = {e.id: e for e in capture.of_type(kind)}
        per_membership = Counter(f"{e.data['member_id']}:{e.data['channel_id']}" for e in published.values())
        field = "joined_at" if kind == "member.joined" else "left_at"
        for m in memberships:
            want = sum(1 for i in m["intervals"] if i.get(field))
            if per_membership[m["_id"]] != want:
                lines.append(f"  {kind}: membership {m['_id']} has {want} in intake, "
                             f"{per_membership[m['_id']]} published")
        full = capture.of_type(kind)[0].type if published else kind
        in_ledger = {d["_id"] for d in await oversight["ledger"].find({"type": full}, {"_id": 1}).to_list()}
        claimed = {d["_id"] for d in await oversight["ledger_claims"].find(
            {"_id": {"$in": list(published)}}, {"_id": 1}).to_list()}
        by_channel = dict(Counter(e.data["channel_kind"] for e in published.values()))
        lines.append(f"{kind}: {stored[kind]} in intake, {len(published)} published {by_channel}, {len(claimed)} "
                     f"claimed by oversight, {len(in_ledger)} in its ledger")
        for event_id in sorted(set(published) - in_ledger):
            event = published[event_id]
            rejected = await oversight["rejected"].find_one({"_id": event_id}, {"reason": 1, "final": 1, "attempts": 1})
            lines.append(f"  not in the ledger: {event_id} {event.data} claimed={event_id in claimed} "
                         f"rejected={rejected}")
    months = await oversight["statistics"].find({"kind": "month", "unit": "*"}, {"participation": 1}).to_list()
    counted = Counter()
    for doc in months:
        for figure, by_kind in (doc.get("participation") or {}).items():
            for channel_kind, amount in by_kind.items():
                counted[f"{figure}.{channel_kind}"] += amount
    lines.append(f"oversight statistics, all months, all units: {dict(sorted(counted.items()))}")
    ledger_counts = Counter()
    for doc in await oversight["ledger"].find({"type": {"$regex": "^member\\."}}, {"type": 1}).to_list():
        ledger_counts[doc["type"]] += 1
    lines.append(f"oversight ledger member events: {dict(ledger_counts)}; "
                 f"unfinished batches: {await oversight['ledger_batches'].count_documents({})}")
    return lines
