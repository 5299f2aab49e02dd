"""An in-memory database for handler unit tests: the services' own repository classes run on it unchanged.

It answers the part of PyMongo's async collection API the repositories use (inserts, finds with sort, skip
and limit, single and multi updates with upsert, whole-document replacement, find-and-update, deletes, counts
and the simple aggregations FerretDB 1.24 also runs), and keeps what makes their logic correct: unique indexes
(a missing field counts as null, as in MongoDB) raising ``DuplicateKeyError``, an upsert that collides with a
unique index raising it too, ``modified_count`` 0 for an update that changes nothing, copies in and out, and
dates stored as MongoDB stores them (UTC, milliseconds; read back time-zone aware, as the services' clients
ask). Events a repository stages in a document's outbox are read back with ``staged_events``.

It does not pretend to be a server: no transactions, no concurrency between writers beyond asyncio's, and
query operators outside the list in ``filters`` raise ``NotImplementedError`` rather than answer wrongly.
"""

from tongpin.shared.testing.memory.cursor import MemoryCursor
from tongpin.shared.testing.memory.database import MemoryCollection, MemoryDatabase
from tongpin.shared.testing.memory.filters import matches
from tongpin.shared.testing.memory.results import DeleteResult, InsertOneResult, UpdateResult
from tongpin.shared.testing.memory.stores import Stores, in_memory_stores, staged_events
from tongpin.shared.testing.memory.updates import apply_update

__all__ = [
    "DeleteResult",
    "InsertOneResult",
    "MemoryCollection",
    "MemoryCursor",
    "MemoryDatabase",
    "Stores",
    "UpdateResult",
    "apply_update",
    "in_memory_stores",
    "matches",
    "staged_events",
]
