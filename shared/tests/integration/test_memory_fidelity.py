"""The in-memory database answers as the real server does, for the operations the repositories use.

One script of writes and reads runs against the test server (FerretDB here, MongoDB where Docker runs) and
against ``MemoryDatabase``; every answer — documents, counts, update results, errors — must be the same.
What the handler unit tests rely on is only as good as this agreement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from tongpin.shared.mongo import ensure_indexes
from tongpin.shared.testing.memory import MemoryDatabase

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 9, 9, 30, 15, 123456, tzinfo=UTC)
INDEXES = {
    "things": [IndexModel([("code", ASCENDING)], unique=True, name="code"),
               IndexModel([("kind", ASCENDING), ("at", DESCENDING)], name="kind_at")],
    "pairs": [IndexModel([("a", ASCENDING), ("b", ASCENDING)], unique=True, name="a_b")],
}

Step = Callable[[Any], Awaitable[Any]]


def _result(value: Any) -> Any:
    """An answer in a form both databases give alike."""
    if hasattr(value, "modified_count"):
        return {"matched": value.matched_count, "modified": value.modified_count,
                "upserted": value.upserted_id is not None}
    if hasattr(value, "deleted_count"):
        return {"deleted": value.deleted_count}
    if hasattr(value, "inserted_id"):
        return {"inserted": value.inserted_id}
    return value


async def _run(db: Any, name: str, step: Step) -> tuple[str, Any]:
    try:
        return name, _result(await step(db))
    except BulkWriteError as exc:
        return name, ("BulkWriteError", sorted((e["index"], e["code"]) for e in exc.details["writeErrors"]))
    except DuplicateKeyError:
        return name, "DuplicateKeyError"
    except OperationFailure as exc:
        # FerretDB 1.24 answers an update that breaks a unique index with an internal error naming it.
        if "duplicate key" in str(exc):
            return name, "DuplicateKeyError"
        raise


async def _list(cursor: Any) -> list[dict[str, Any]]:
    return [doc async for doc in cursor]


SCRIPT: list[tuple[str, Step]] = [
    ("insert", lambda db: db.things.insert_one({"_id": "t1", "code": "A", "kind": "x", "at": T0, "n": 1,
                                                "tags": ["红", "蓝"], "log": [{"id": "e1", "v": 1}], "note": None})),
    ("insert 2", lambda db: db.things.insert_one({"_id": "t2", "code": "B", "kind": "x", "at": T0 + timedelta(hours=1),
                                                  "n": 5, "tags": [], "log": []})),
    ("insert 3", lambda db: db.things.insert_one({"_id": "t3", "code": "C", "kind": "y", "at": T0 - timedelta(days=1),
                                                  "n": 3, "flag": True})),
    ("same _id", lambda db: db.things.insert_one({"_id": "t1", "code": "Z"})),
    ("same unique", lambda db: db.things.insert_one({"_id": "t9", "code": "A"})),
    ("no code", lambda db: db.things.insert_one({"_id": "t4", "kind": "y"})),
    # Not in the script: a second document without the unique field (MongoDB counts the missing field as null
    # and refuses it, FerretDB 1.24 takes it); no repository writes a document without its unique fields.
    ("insert many, one taken", lambda db: db.pairs.insert_many(
        [{"_id": 1, "a": 1, "b": 1}, {"_id": 2, "a": 1, "b": 2}, {"_id": 3, "a": 1, "b": 1}, {"_id": 1, "a": 9}],
        ordered=False)),
    ("datetime precision", lambda db: db.things.find_one({"_id": "t1"}, {"at": 1})),
    ("equality and range", lambda db: _list(db.things.find(
        {"kind": "x", "at": {"$gte": T0, "$lt": T0 + timedelta(hours=2)}}, {"_id": 1}).sort("_id", ASCENDING))),
    ("$in on an array field", lambda db: _list(db.things.find({"tags": {"$in": ["蓝", "绿"]}}, {"_id": 1}))),
    ("array contains", lambda db: _list(db.things.find({"tags": "红"}, {"_id": 1}))),
    ("dotted into an array", lambda db: _list(db.things.find({"log.id": "e1"}, {"_id": 1}))),
    ("$ne into an array", lambda db: _list(db.things.find({"log.id": {"$ne": "e1"}}, {"_id": 1}).sort("_id", 1))),
    ("null matches missing", lambda db: _list(db.things.find({"note": None}, {"_id": 1}).sort("_id", 1))),
    ("$ne null", lambda db: _list(db.things.find({"flag": {"$ne": None}}, {"_id": 1}).sort("_id", 1))),
    ("$ne an empty array", lambda db: _list(db.things.find({"tags": {"$exists": True, "$ne": []}},
                                                           {"_id": 1}).sort("_id", 1))),
    ("$ne true", lambda db: _list(db.things.find({"flag": {"$ne": True}}, {"_id": 1}).sort("_id", 1))),
    ("$and", lambda db: _list(db.things.find({"$and": [{"kind": "x"}, {"n": {"$gte": 2}}]}, {"_id": 1}))),
    ("$exists", lambda db: _list(db.things.find({"flag": {"$exists": False}}, {"_id": 1}).sort("_id", 1))),
    ("$or", lambda db: _list(db.things.find({"$or": [{"n": {"$lte": 1}}, {"kind": "y", "n": {"$gt": 2}}]},
                                            {"_id": 1}).sort("_id", 1))),
    ("sort, skip, limit", lambda db: _list(db.things.find({"kind": {"$in": ["x", "y"]}}, {"_id": 1, "n": 1})
                                           .sort([("kind", ASCENDING), ("n", DESCENDING)]).skip(1).limit(2))),
    ("exclusion projection", lambda db: db.things.find_one({"_id": "t2"}, {"tags": 0, "log": 0, "at": 0})),
    ("_id only", lambda db: _list(db.things.find({"kind": "x"}, {"_id": 1}).sort("_id", 1))),
    ("find_one sorted", lambda db: db.things.find_one({"kind": "x"}, {"_id": 1}, sort=[("at", DESCENDING)])),
    ("count", lambda db: db.things.count_documents({"kind": "y"})),
    ("update changes nothing", lambda db: db.things.update_one({"_id": "t2"}, {"$set": {"n": 5}})),
    ("update at version", lambda db: db.things.update_one({"_id": "t2", "n": 5},
                                                          {"$inc": {"n": 1}, "$set": {"sub.x": "嵌套"}})),
    ("update lost the race", lambda db: db.things.update_one({"_id": "t2", "n": 5}, {"$inc": {"n": 1}})),
    ("push once by id", lambda db: db.things.update_one({"_id": "t1", "log.id": {"$ne": "e2"}},
                                                        {"$push": {"log": {"id": "e2", "v": 2}}})),
    # Not in the script: the same push again. MongoDB (and the in-memory database) match no document, as
    # ``{"log.id": {"$ne": "e2"}}`` excludes an array holding e2; FerretDB 1.24 matches it and pushes e2 twice.
    ("push at the length read", lambda db: db.things.update_one({"_id": "t1", "log": {"$size": 2}},
                                                                {"$push": {"log": {"id": "e3", "v": 3}}})),
    ("push at a stale length", lambda db: db.things.update_one({"_id": "t1", "log": {"$size": 2}},
                                                               {"$push": {"log": {"id": "e3", "v": 3}}})),
    ("addToSet and max", lambda db: db.things.update_one({"_id": "t1"}, {"$addToSet": {"tags": "红"},
                                                                         "$max": {"n": 4, "at": T0}})),
    ("unset", lambda db: db.things.update_one({"_id": "t1"}, {"$unset": {"note": ""}})),
    ("after the updates", lambda db: _list(db.things.find({"_id": {"$in": ["t1", "t2"]}}).sort("_id", 1))),
    ("upsert inserts", lambda db: db.counters.update_one({"_id": "k1"}, {"$inc": {"count": 1},
                                                                         "$setOnInsert": {"since": T0}}, upsert=True)),
    ("upsert updates", lambda db: db.counters.update_one({"_id": "k1"}, {"$inc": {"count": 1},
                                                                         "$setOnInsert": {"since": T0 + timedelta(1)}},
                                                         upsert=True)),
    ("upsert meets a newer version", lambda db: db.counters.update_one(
        {"_id": "k1", "count": {"$lt": 2}}, {"$set": {"count": 9}}, upsert=True)),
    ("counter", lambda db: db.counters.find_one({"_id": "k1"})),
    ("find and update: after", lambda db: db.counters.find_one_and_update(
        {"_id": "k2"}, {"$inc": {"count": 1}}, upsert=True, return_document=ReturnDocument.AFTER)),
    ("find and update: before", lambda db: db.counters.find_one_and_update(
        {"_id": "k2"}, {"$inc": {"count": 1}}, return_document=ReturnDocument.BEFORE)),
    ("find and update: no match", lambda db: db.counters.find_one_and_update({"_id": "k2", "count": 0},
                                                                             {"$inc": {"count": 1}})),
    ("replace upserts", lambda db: db.reports.replace_one({"_id": "r1"}, {"_id": "r1", "of": "b1", "sent": 3,
                                                                          "at": T0}, upsert=True)),
    ("replace whole", lambda db: db.reports.replace_one({"_id": "r1"}, {"_id": "r1", "of": "b1", "failed": 1},
                                                        upsert=True)),
    ("replace without _id", lambda db: db.reports.replace_one({"_id": "r1"}, {"of": "b1", "failed": 2})),
    ("replace no match", lambda db: db.reports.replace_one({"_id": "r2"}, {"_id": "r2", "of": "b2"})),
    ("replaced", lambda db: _list(db.reports.find({}).sort("_id", 1))),
    ("replace into a unique clash", lambda db: db.things.replace_one({"_id": "t2"}, {"_id": "t2", "code": "A"})),
    ("update many", lambda db: db.things.update_many({"kind": "y"}, {"$set": {"seen": True}})),
    ("update into a unique clash", lambda db: db.things.update_one({"_id": "t2"}, {"$set": {"code": "A"}})),
    ("aggregate", lambda db: _aggregate(db)),
    ("delete one", lambda db: db.things.delete_one({"kind": "y", "_id": {"$ne": "t3"}})),
    ("delete many", lambda db: db.pairs.delete_many({"a": 1})),
    ("left", lambda db: _list(db.things.find({}, {"_id": 1}).sort("_id", 1))),
]


async def _aggregate(db: Any) -> list[dict[str, Any]]:
    cursor = await db.things.aggregate([
        {"$match": {"kind": {"$in": ["x", "y"]}}},
        {"$unwind": "$tags"},
        {"$group": {"_id": "$tags", "n": {"$sum": 1}}},
        {"$sort": {"_id": 1}},
    ])
    return [doc async for doc in cursor]


class _Named:
    """Attribute access to collections, as the script reads them."""

    def __init__(self, database: Any) -> None:
        self._database = database

    def __getattr__(self, name: str) -> Any:
        return self._database[name]


async def test_the_in_memory_database_answers_as_the_server_does(mongo_client: Any, run_id: str,
                                                                   drop_databases: None) -> None:
    real = mongo_client[f"{run_id}_memory_fidelity"]
    await ensure_indexes(real, INDEXES)
    memory = MemoryDatabase(INDEXES)
    for name, step in SCRIPT:
        on_server = await _run(_Named(real), name, step)
        in_memory = await _run(_Named(memory), name, step)
        assert in_memory == on_server, name
