"""Index bootstrap, and indexes that serve the filters the services send; lookups of many ids."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from tongpin.shared.mongo import ensure_indexes, find_by_ids, is_ferretdb, service_database

pytestmark = pytest.mark.integration

PLAN = {"things": [IndexModel([("code", 1)], name="code", unique=True),
                   IndexModel([("unit", 1), ("at", -1)], name="unit_at")],
        "plain": [IndexModel([("at", 1)], name="at")]}


async def test_every_declared_index_is_made_once_and_unique_ones_hold(mongo_client, run_id, drop_databases):
    db = service_database(mongo_client, f"{run_id}_indexes")
    await ensure_indexes(db, PLAN)
    await ensure_indexes(db, PLAN)  # again: nothing repeated, nothing refused
    assert {index["name"] async for index in await db["things"].list_indexes()} == {"_id_", "code", "unit_at"}
    assert {index["name"] async for index in await db["plain"].list_indexes()} == {"_id_", "at"}
    await db["things"].insert_one({"_id": 1, "code": "同频", "unit": "xtj", "at": 1})
    with pytest.raises(DuplicateKeyError):
        await db["things"].insert_one({"_id": 2, "code": "同频", "unit": "xtj", "at": 2})
    assert [d["_id"] async for d in db["things"].find({"unit": "xtj"})] == [1]


def _plan_text(explained: dict[str, Any]) -> str:
    return json.dumps(explained.get("queryPlanner", {}), ensure_ascii=False)


@pytest.mark.parametrize("filter_", [{"_id": "t0042"}, {"unit": "单位7"}, {"code": "c0042"}],
                         ids=["by-id", "by-indexed-field", "by-unique-field"])
async def test_an_equality_filter_on_an_indexed_field_reads_an_index(mongo_client, run_id, drop_databases,
                                                                      filter_):
    """On FerretDB the filter reaches PostgreSQL as jsonb containment, which only the GIN twins of its
    indexes serve (deploy/local/ferretdb-gin.sql): without them every such find reads the collection."""
    db = service_database(mongo_client, f"{run_id}_served")
    await ensure_indexes(db, PLAN)
    await db["things"].insert_many([{"_id": f"t{i:04d}", "code": f"c{i:04d}", "unit": f"单位{i % 20}", "at": i}
                                    for i in range(400)])
    explained = await db.command({"explain": {"find": "things", "filter": filter_}})
    plan = _plan_text(explained)
    if await is_ferretdb(db):
        assert '"Index Name": "tpgin_' in plan, plan
        assert '"Node Type": "Seq Scan"' not in plan, plan
    else:
        assert "IXSCAN" in plan or "IDHACK" in plan or "EXPRESS" in plan, plan
    found = await db["things"].find(filter_).to_list()
    assert found and all(all(doc[k] == v for k, v in filter_.items()) for doc in found)


@pytest.mark.parametrize("one_by_one", [False, True, None], ids=["in-query", "one-by-one", "plain-database"])
async def test_find_by_ids_keeps_the_asked_order_and_leaves_out_the_missing(mongo_client, run_id, drop_databases,
                                                                          one_by_one):
    if one_by_one is None:  # a plain AsyncDatabase, as tests and tools hand over: no flag, one $in query
        db = mongo_client[f"{run_id}_byids"]
    else:
        db = service_database(mongo_client, f"{run_id}_byids")
        db.ids_one_by_one = one_by_one  # type: ignore[attr-defined]
    coll = db["things"]
    await coll.insert_many([{"_id": f"t{i:03d}", "n": i, "text": "同频共振"} for i in range(60)])
    asked = ["t050", "missing", "t003", "t050", "t017", *[f"t{i:03d}" for i in range(20, 40)]]
    docs = await find_by_ids(coll, asked)
    assert [d["_id"] for d in docs] == ["t050", "t003", "t017", *[f"t{i:03d}" for i in range(20, 40)]]
    assert docs[0] == {"_id": "t050", "n": 50, "text": "同频共振"}
    assert await find_by_ids(coll, ["t001", "t002"], {"text": 0}) == [{"_id": "t001", "n": 1}, {"_id": "t002", "n": 2}]
    assert await find_by_ids(coll, []) == []
