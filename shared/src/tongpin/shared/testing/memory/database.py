"""The in-memory database and its collections: inserts, finds, updates, replacements, deletes, counts and
aggregations over each collection's documents, with the unique indexes the service declares enforced."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bson import ObjectId
from pymongo.errors import BulkWriteError, DuplicateKeyError

from tongpin.shared.testing.memory.cursor import MemoryCursor, _project, _sort_spec, _sorted
from tongpin.shared.testing.memory.filters import matches
from tongpin.shared.testing.memory.results import DeleteResult, InsertOneResult, UpdateResult
from tongpin.shared.testing.memory.updates import _put, apply_update
from tongpin.shared.testing.memory.values import _MISSING, _stored, _values


class MemoryCollection:
    """One collection: documents by ``_id`` in insertion order, and its unique indexes."""

    def __init__(self, database: MemoryDatabase, name: str, unique: Iterable[tuple[str, ...]] = ()) -> None:
        self.database = database
        self.name = name
        self.documents: dict[Any, dict[str, Any]] = {}
        self._unique = [tuple(keys) for keys in unique]

    # checks

    def _duplicate(self, doc: Mapping[str, Any], *, ignore: Any = _MISSING) -> str | None:
        if doc["_id"] in self.documents and doc["_id"] != ignore:
            return "_id_"
        for keys in self._unique:
            wanted = tuple((_values(doc, k) or [None])[0] for k in keys)
            for other_id, other in self.documents.items():
                if other_id == ignore or other_id == doc["_id"]:
                    continue
                if tuple((_values(other, k) or [None])[0] for k in keys) == wanted:
                    return "_".join(keys)
        return None

    def _check(self, doc: Mapping[str, Any], *, ignore: Any = _MISSING) -> None:
        index = self._duplicate(doc, ignore=ignore)
        if index is not None:
            raise DuplicateKeyError(f"E11000 duplicate key error collection: {self.name} index: {index}", 11000)

    def _matching(self, query: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        return [doc for doc in self.documents.values() if matches(doc, query)]

    # writes

    async def insert_one(self, document: Mapping[str, Any]) -> InsertOneResult:
        doc = _stored(dict(document))
        doc.setdefault("_id", ObjectId())
        self._check(doc)
        self.documents[doc["_id"]] = doc
        return InsertOneResult(doc["_id"])

    async def insert_many(self, documents: Iterable[Mapping[str, Any]], ordered: bool = True) -> None:
        errors: list[dict[str, Any]] = []
        for index, document in enumerate(documents):
            try:
                await self.insert_one(document)
            except DuplicateKeyError as exc:
                errors.append({"index": index, "code": 11000, "errmsg": str(exc)})
                if ordered:
                    break
        if errors:
            raise BulkWriteError({"writeErrors": errors, "nInserted": 0})

    async def _update(self, query: Mapping[str, Any], update: Mapping[str, Any], *, upsert: bool,
                      many: bool) -> tuple[UpdateResult, dict[str, Any] | None, dict[str, Any] | None]:
        if not update or not all(str(k).startswith("$") for k in update):
            raise NotImplementedError("replacement documents are not in the in-memory database")
        found = self._matching(query)
        if not many:
            found = found[:1]
        modified = 0
        before = after = None
        for doc in found:
            changed = copy.deepcopy(doc)
            apply_update(changed, update)
            self._check(changed, ignore=doc["_id"])
            if changed != doc:
                modified += 1
            before, after = doc, changed
            self.documents[doc["_id"]] = changed
        if found or not upsert:
            return UpdateResult(len(found), modified), before, after
        seed = {k: v for k, v in query.items()
                if not k.startswith("$") and not (isinstance(v, Mapping) and any(str(o).startswith("$") for o in v))}
        created: dict[str, Any] = {}
        for path, value in seed.items():
            _put(created, path, _stored(value))
        apply_update(created, update, inserting=True)
        created.setdefault("_id", ObjectId())
        self._check(created)
        self.documents[created["_id"]] = created
        return UpdateResult(0, 0, created["_id"]), None, created

    async def update_one(self, filter: Mapping[str, Any], update: Mapping[str, Any],
                         upsert: bool = False) -> UpdateResult:
        result, _, _ = await self._update(filter, update, upsert=upsert, many=False)
        return result

    async def replace_one(self, filter: Mapping[str, Any], replacement: Mapping[str, Any],
                          upsert: bool = False) -> UpdateResult:
        """Replace the first match whole (keeping its ``_id``), or insert the replacement on an upsert."""
        if any(str(k).startswith("$") for k in replacement):
            raise ValueError("replacement can not include $ operators")
        found = self._matching(filter)[:1]
        for doc in found:
            replaced = _stored(dict(replacement))
            if replaced.setdefault("_id", doc["_id"]) != doc["_id"]:
                raise NotImplementedError("a replacement that changes _id is not in the in-memory database")
            self._check(replaced, ignore=doc["_id"])
            self.documents[doc["_id"]] = replaced
            return UpdateResult(1, int(replaced != doc))
        if not upsert:
            return UpdateResult(0, 0)
        created = _stored(dict(replacement))
        if "_id" not in created:
            seed = filter.get("_id") if not isinstance(filter.get("_id"), Mapping) else None
            created["_id"] = seed if seed is not None else ObjectId()
        self._check(created)
        self.documents[created["_id"]] = created
        return UpdateResult(0, 0, created["_id"])

    async def update_many(self, filter: Mapping[str, Any], update: Mapping[str, Any],
                          upsert: bool = False) -> UpdateResult:
        result, _, _ = await self._update(filter, update, upsert=upsert, many=True)
        return result

    async def find_one_and_update(
        self, filter: Mapping[str, Any], update: Mapping[str, Any], projection: Any = None,
        sort: Any = None, upsert: bool = False, return_document: bool = False,
    ) -> dict[str, Any] | None:
        if sort:
            first = await self.find_one(filter, sort=sort)
            filter = {"_id": first["_id"]} if first else filter
        _, before, after = await self._update(filter, update, upsert=upsert, many=False)
        chosen = after if return_document else before
        return None if chosen is None else _project(chosen, projection)

    async def delete_one(self, filter: Mapping[str, Any]) -> DeleteResult:
        for doc in self._matching(filter)[:1]:
            del self.documents[doc["_id"]]
            return DeleteResult(1)
        return DeleteResult(0)

    async def delete_many(self, filter: Mapping[str, Any]) -> DeleteResult:
        found = self._matching(filter)
        for doc in found:
            del self.documents[doc["_id"]]
        return DeleteResult(len(found))

    # reads

    def find(self, filter: Mapping[str, Any] | None = None, projection: Any = None) -> MemoryCursor:
        return MemoryCursor(self._matching(filter), projection)

    async def find_one(self, filter: Mapping[str, Any] | None = None, projection: Any = None,
                       sort: Any = None) -> dict[str, Any] | None:
        cursor = self.find(filter, projection)
        if sort:
            cursor.sort(sort)
        found = await cursor.limit(1).to_list()
        return found[0] if found else None

    async def count_documents(self, filter: Mapping[str, Any]) -> int:
        return len(self._matching(filter))

    async def estimated_document_count(self) -> int:
        return len(self.documents)

    async def aggregate(self, pipeline: Sequence[Mapping[str, Any]]) -> MemoryCursor:
        docs = [copy.deepcopy(d) for d in self.documents.values()]
        for stage in pipeline:
            (op, spec), = stage.items()
            if op == "$match":
                docs = [d for d in docs if matches(d, spec)]
            elif op == "$unwind":
                path = str(spec).lstrip("$")
                docs = [{**d, path: item} for d in docs for item in (d.get(path) or [])]
            elif op == "$sort":
                docs = _sorted(docs, _sort_spec(spec))
            elif op == "$skip":
                docs = docs[int(spec):]
            elif op == "$limit":
                docs = docs[: int(spec)]
            elif op == "$project":
                docs = [_project(d, spec) for d in docs]
            elif op == "$group":
                docs = _group(docs, spec)
            else:
                raise NotImplementedError(f"aggregation stage {op} is not in the in-memory database")
        return MemoryCursor(docs)


def _group(docs: list[dict[str, Any]], spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    key_path = str(spec["_id"]).lstrip("$") if spec["_id"] is not None else None
    groups: dict[Any, dict[str, Any]] = {}
    for doc in docs:
        key = (_values(doc, key_path) or [None])[0] if key_path else None
        group = groups.setdefault(key, {"_id": key})
        for name, accumulator in spec.items():
            if name == "_id":
                continue
            (op, operand), = accumulator.items()
            if op != "$sum":
                raise NotImplementedError(f"accumulator {op} is not in the in-memory database")
            amount = operand if not isinstance(operand, str) else (_values(doc, operand.lstrip("$")) or [0])[0]
            group[name] = group.get(name, 0) + amount
    return list(groups.values())


_numbers = itertools.count(1)


class MemoryDatabase:
    """A database of in-memory collections; give it the service's ``INDEXES`` so unique indexes hold.

    Each has a name of its own unless given one: what a process keeps per database name (tongpin.shared.cache)
    must not pass from one fresh database to the next."""

    def __init__(self, indexes: Mapping[str, Sequence[Any]] | None = None, name: str | None = None) -> None:
        self.name = name or f"memory-{next(_numbers)}"
        self._collections: dict[str, MemoryCollection] = {}
        self._unique: dict[str, list[tuple[str, ...]]] = {}
        for collection, models in (indexes or {}).items():
            for model in models:
                spec = model.document
                if spec.get("unique"):
                    self._unique.setdefault(collection, []).append(tuple(spec["key"].keys()))

    def __getitem__(self, name: str) -> MemoryCollection:
        if name not in self._collections:
            self._collections[name] = MemoryCollection(self, name, self._unique.get(name, ()))
        return self._collections[name]

    def get_collection(self, name: str) -> MemoryCollection:
        return self[name]

    def collection_names(self) -> list[str]:
        return sorted(self._collections)

