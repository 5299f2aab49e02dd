"""Index bootstrap: unique indexes everywhere; the others only where the server can use them."""

from __future__ import annotations

import pytest
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from tongpin.shared.mongo import ensure_indexes, is_ferretdb, service_database

pytestmark = pytest.mark.integration


async def test_unique_indexes_always_others_only_off_ferretdb(mongo_client, run_id, drop_databases):
    db = service_database(mongo_client, f"{run_id}_indexes")
    plan = {"things": [IndexModel([("code", 1)], name="code", unique=True), IndexModel([("unit", 1)], name="unit")],
            "plain": [IndexModel([("at", 1)], name="at")]}
    await ensure_indexes(db, plan)
    await ensure_indexes(db, plan)  # again: nothing repeated, nothing refused
    names = {index["name"] async for index in await db["things"].list_indexes()}
    ferretdb = await is_ferretdb(db)
    assert names == ({"_id_", "code"} if ferretdb else {"_id_", "code", "unit"})
    await db["things"].insert_one({"_id": 1, "code": "同频", "unit": "xtj"})
    with pytest.raises(DuplicateKeyError):
        await db["things"].insert_one({"_id": 2, "code": "同频", "unit": "xtj"})
    # The query an index would serve answers the same without it.
    assert [d["_id"] async for d in db["things"].find({"unit": "xtj"})] == [1]
