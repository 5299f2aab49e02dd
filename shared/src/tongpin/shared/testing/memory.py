"""An in-memory database for handler unit tests: the services' own repository classes run on it unchanged.

It answers the part of PyMongo's async collection API the repositories use (inserts, finds with sort, skip
and limit, single and multi updates with upsert, whole-document replacement, find-and-update, deletes, counts
and the simple aggregations FerretDB 1.24 also runs), and keeps what makes their logic correct: unique indexes
(a missing field counts as null, as in MongoDB) raising ``DuplicateKeyError``, an upsert that collides with a
unique index raising it too, ``modified_count`` 0 for an update that changes nothing, copies in and out, and
dates stored as MongoDB stores them (UTC, milliseconds; read back time-zone aware, as the services' clients
ask). Events a repository stages in a document's outbox are read back with ``staged_events``.

It does not pretend to be a server: no transactions, no concurrency between writers beyond asyncio's, and
query operators outside the list below raise ``NotImplementedError`` rather than answer wrongly.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast, get_type_hints

from bson import ObjectId
from bson.errors import InvalidDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from tongpin.shared.envelope import CloudEvent

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_QUERY_OPS = {"$in", "$nin", "$ne", "$gt", "$gte", "$lt", "$lte", "$exists", "$eq", "$size"}
_MISSING = object()


@dataclass(frozen=True)
class UpdateResult:
    matched_count: int
    modified_count: int
    upserted_id: Any = None


@dataclass(frozen=True)
class DeleteResult:
    deleted_count: int


@dataclass(frozen=True)
class InsertOneResult:
    inserted_id: Any


# --- values as stored ---------------------------------------------------------------------------------


def _stored(value: Any) -> Any:
    """A value as MongoDB would keep it: UTC datetimes to the millisecond, lists for tuples, copies."""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    if isinstance(value, date):
        raise InvalidDocument(f"cannot encode object: {value!r}, of type: {type(value)}")
    if isinstance(value, Mapping):
        return {str(k): _stored(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_stored(v) for v in value]
    return value


def _values(doc: Any, path: str) -> list[Any]:
    """Every value a dotted path reaches, through arrays as MongoDB does; [] when it reaches nothing."""
    head, _, rest = path.partition(".")
    if isinstance(doc, list):
        if head.isdigit():
            index = int(head)
            found = doc[index] if index < len(doc) else _MISSING
            return [] if found is _MISSING else (_values(found, rest) if rest else [found])
        return [v for item in doc for v in _values(item, path)]
    if not isinstance(doc, Mapping) or head not in doc:
        return []
    value = doc[head]
    return _values(value, rest) if rest else [value]


def _candidates(doc: Any, path: str) -> list[Any]:
    """The values a query compares with: each reached value, and each element of a reached array."""
    out: list[Any] = []
    for value in _values(doc, path):
        out.append(value)
        if isinstance(value, list):
            out.extend(value)
    return out


_RANK = {type(None): 0, int: 1, float: 1, str: 2, dict: 3, list: 4, ObjectId: 5, bool: 6, datetime: 7}


def _rank(value: Any) -> int:
    if isinstance(value, bool):
        return 6
    for kind, rank in _RANK.items():
        if isinstance(value, kind):
            return rank
    return 8


def _order_key(value: Any) -> tuple[int, Any]:
    rank = _rank(value)
    if rank in (3, 4):
        return rank, repr(value)
    return rank, value if value is not None else 0


def _compare(op: str, have: Any, want: Any) -> bool:
    if have is None or want is None or _rank(have) != _rank(want):
        return False  # MongoDB compares within one type only
    if op == "$gt":
        return bool(have > want)
    if op == "$gte":
        return bool(have >= want)
    if op == "$lt":
        return bool(have < want)
    return bool(have <= want)


def _equal(candidates: list[Any], want: Any, reached: bool) -> bool:
    if want is None:
        return not reached or any(v is None for v in candidates)
    return any(_same(v, want) for v in candidates)


def _same(have: Any, want: Any) -> bool:
    if isinstance(have, bool) or isinstance(want, bool):
        return type(have) is type(want) and have == want
    return bool(_stored(have) == _stored(want))


def _field_matches(doc: Mapping[str, Any], path: str, condition: Any) -> bool:
    reached = bool(_values(doc, path))
    candidates = _candidates(doc, path)
    if not (isinstance(condition, Mapping) and condition and all(str(k).startswith("$") for k in condition)):
        return _equal(candidates, condition, reached)
    for op, want in condition.items():
        if op not in _QUERY_OPS:
            raise NotImplementedError(f"query operator {op} is not in the in-memory database")
        if op == "$eq" and not _equal(candidates, want, reached):
            return False
        if op == "$ne" and _equal(candidates, want, reached):
            return False
        if op == "$in" and not any(_equal(candidates, w, reached) for w in want):
            return False
        if op == "$nin" and any(_equal(candidates, w, reached) for w in want):
            return False
        if op == "$exists" and reached != bool(want):
            return False
        if op == "$size" and not any(isinstance(v, list) and len(v) == want for v in _values(doc, path)):
            return False
        if op in ("$gt", "$gte", "$lt", "$lte") and not any(_compare(op, v, _stored(want)) for v in candidates):
            return False
    return True


def matches(doc: Mapping[str, Any], query: Mapping[str, Any] | None) -> bool:
    """Whether a stored document matches a MongoDB filter (the subset the services use)."""
    for key, condition in (query or {}).items():
        if key == "$or":
            if not any(matches(doc, part) for part in condition):
                return False
        elif key == "$and":
            if not all(matches(doc, part) for part in condition):
                return False
        elif key.startswith("$"):
            raise NotImplementedError(f"query operator {key} is not in the in-memory database")
        elif not _field_matches(doc, key, condition):
            return False
    return True


# --- updates ------------------------------------------------------------------------------------------


def _parent(doc: dict[str, Any], path: str, *, create: bool) -> tuple[Any, str]:
    parts = path.split(".")
    node: Any = doc
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit():
            node = node[int(part)]
            continue
        if part not in node or node[part] is None:
            if not create:
                return None, parts[-1]
            node[part] = {}
        node = node[part]
    return node, parts[-1]


def _get(doc: dict[str, Any], path: str) -> Any:
    node, last = _parent(doc, path, create=False)
    if node is None:
        return _MISSING
    if isinstance(node, list):
        return node[int(last)] if last.isdigit() and int(last) < len(node) else _MISSING
    return node.get(last, _MISSING)


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    node, last = _parent(doc, path, create=True)
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def apply_update(doc: dict[str, Any], update: Mapping[str, Any], *, inserting: bool = False) -> None:
    """Apply a MongoDB update document in place (the operators the services use)."""
    for op, fields in update.items():
        if op == "$setOnInsert" and not inserting:
            continue
        for path, value in fields.items():
            value = _stored(value)
            current = _get(doc, path)
            if op in ("$set", "$setOnInsert"):
                _put(doc, path, value)
            elif op == "$unset":
                node, last = _parent(doc, path, create=False)
                if isinstance(node, dict):
                    node.pop(last, None)
            elif op == "$inc":
                _put(doc, path, (0 if current is _MISSING else current) + value)
            elif op in ("$push", "$addToSet"):
                items = value["$each"] if isinstance(value, dict) and "$each" in value else [value]
                array = [] if current is _MISSING or current is None else list(current)
                for item in items:
                    if op == "$push" or item not in array:
                        array.append(item)
                _put(doc, path, array)
            elif op in ("$max", "$min"):
                if current is _MISSING or current is None or (
                    _order_key(value) > _order_key(current) if op == "$max" else _order_key(value) < _order_key(current)
                ):
                    _put(doc, path, value)
            else:
                raise NotImplementedError(f"update operator {op} is not in the in-memory database")


def _project(doc: Mapping[str, Any], projection: Mapping[str, Any] | Sequence[str] | None) -> dict[str, Any]:
    out = copy.deepcopy(dict(doc))
    if not projection:
        return out
    spec = dict(projection) if isinstance(projection, Mapping) else dict.fromkeys(projection, 1)
    if any(v for v in spec.values()):  # inclusion: the fields named, and _id unless excluded
        kept = {k: v for k, v in out.items() if k != "_id" and spec.get(k)}
        return {"_id": out["_id"], **kept} if spec.get("_id", 1) and "_id" in out else kept
    return {k: v for k, v in out.items() if k not in spec}


def _sort_spec(key_or_list: Any, direction: int | None = None) -> list[tuple[str, int]]:
    if isinstance(key_or_list, str):
        return [(key_or_list, direction or 1)]
    if isinstance(key_or_list, Mapping):
        return [(str(k), int(v)) for k, v in key_or_list.items()]
    return [(str(k), int(v)) for k, v in key_or_list]


def _sorted(docs: list[dict[str, Any]], spec: list[tuple[str, int]]) -> list[dict[str, Any]]:
    for path, direction in reversed(spec):
        def key(doc: dict[str, Any], path: str = path) -> tuple[int, Any]:
            found = _values(doc, path)
            return _order_key(found[0] if found else None)
        docs = sorted(docs, key=key, reverse=direction < 0)
    return docs


# --- cursor, collection, database --------------------------------------------------------------------


class MemoryCursor:
    """A find's answer: sort, skip and limit, then ``to_list`` or ``async for``."""

    def __init__(self, docs: list[dict[str, Any]], projection: Any = None) -> None:
        self._docs = docs
        self._projection = projection
        self._sort: list[tuple[str, int]] = []
        self._skip = 0
        self._limit = 0

    def sort(self, key_or_list: Any, direction: int | None = None) -> MemoryCursor:
        self._sort = _sort_spec(key_or_list, direction)
        return self

    def skip(self, count: int) -> MemoryCursor:
        self._skip = count
        return self

    def limit(self, count: int) -> MemoryCursor:
        self._limit = count
        return self

    def _result(self) -> list[dict[str, Any]]:
        docs = _sorted(self._docs, self._sort) if self._sort else self._docs
        docs = docs[self._skip:]
        if self._limit:
            docs = docs[: self._limit]
        return [_project(d, self._projection) for d in docs]

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        result = self._result()
        return result[:length] if length else result

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async def walk() -> AsyncIterator[dict[str, Any]]:
            for doc in self._result():
                yield doc
        return walk()


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


class MemoryDatabase:
    """A database of in-memory collections; give it the service's ``INDEXES`` so unique indexes hold."""

    def __init__(self, indexes: Mapping[str, Sequence[Any]] | None = None, name: str = "memory") -> None:
        self.name = name
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


Stores = TypeVar("Stores", bound="DataclassInstance")


def in_memory_stores(stores: type[Stores], indexes: Mapping[str, Sequence[Any]]) -> Stores:
    """A service's repositories over one fresh in-memory database with the service's ``INDEXES``.

    ``stores`` is a dataclass whose ``db`` field receives the database and whose every other field (of those
    set at construction) is annotated with a repository class, built on the database as on a server.
    """
    memory = MemoryDatabase(indexes)
    database = cast("AsyncDatabase[Any]", memory)
    kinds = get_type_hints(stores)
    return stores(**{field.name: memory if field.name == "db" else kinds[field.name](database)
                     for field in dataclasses.fields(stores) if field.init})


def staged_events(database: MemoryDatabase, *, event_type: str | None = None,
                  collection: str | None = None) -> list[CloudEvent]:
    """The events the repositories staged in outboxes, in the order they were staged (of one type if given,
    e.g. ``concern.raised``; from one collection's documents if given)."""
    entries = [
        entry
        for name in ([collection] if collection else database.collection_names())
        for doc in database[name].documents.values()
        for entry in (doc.get("outbox") or {}).values()
    ]
    entries.sort(key=lambda entry: entry["seq"])
    found = [CloudEvent.model_validate(entry["event"]) for entry in entries]
    return [e for e in found if event_type is None or e.type.rsplit(".v", 1)[0] == event_type]
