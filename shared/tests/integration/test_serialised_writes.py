"""Concurrent updates of one document through a service's database lose nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tongpin.shared.mongo import service_database

pytestmark = pytest.mark.integration


async def test_concurrent_updates_of_one_document_all_land(mongo_client, clean_run):
    db = service_database(mongo_client, f"{clean_run}_writes")
    await db["cases"].insert_one({"_id": "case-1", "count": 0, "flags": {}})
    await asyncio.gather(
        *(db["cases"].update_one({"_id": "case-1"}, {"$inc": {"count": 1}}) for _ in range(30)),
        *(db["cases"].update_one({"_id": "case-1"}, {"$set": {f"flags.f{i}": True}}) for i in range(30)),
        *(db.get_collection("cases").find_one_and_update({"_id": "case-1"}, {"$inc": {"count": 1}})
          for _ in range(10)),
    )
    doc = await db["cases"].find_one({"_id": "case-1"})
    assert doc["count"] == 40
    assert len(doc["flags"]) == 30


async def test_service_database_keeps_the_clients_codec_options(mongo_client, clean_run):
    db = service_database(mongo_client, f"{clean_run}_writes")
    await db["t"].insert_one({"_id": 1, "at": datetime(2026, 3, 1, 8, 0, tzinfo=UTC)})
    assert (await db["t"].find_one({"_id": 1}))["at"].tzinfo is not None


async def test_updates_listing_their_documents_and_single_updates_of_those_documents_all_land(
    mongo_client, clean_run
):
    db = service_database(mongo_client, f"{clean_run}_writes")
    ids = [f"m-{i}" for i in range(6)]
    await db["messages"].insert_many([{"_id": i, "count": 0, "flags": {}} for i in ids])
    await asyncio.gather(
        *(db["messages"].update_many({"_id": {"$in": ids[k % 3:k % 3 + 4]}}, {"$inc": {"count": 1}})
          for k in range(12)),
        *(db["messages"].update_one({"_id": ids[k % 6]}, {"$set": {f"flags.f{k}": True}}) for k in range(24)),
        *(db["messages"].update_one({"_id": ids[k % 6]}, {"$inc": {"count": 1}}) for k in range(12)),
    )
    docs = {d["_id"]: d async for d in db["messages"].find({})}
    listed = [sum(1 for k in range(12) if i in ids[k % 3:k % 3 + 4]) for i in ids]
    assert [docs[i]["count"] for i in ids] == [n + 2 for n in listed]
    assert [len(docs[i]["flags"]) for i in ids] == [4] * 6
