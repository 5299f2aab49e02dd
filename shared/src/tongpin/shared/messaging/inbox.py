"""Inbox of processed event ids: redelivery or a second publish of the same event has one effect.

FerretDB finds a document by scanning its whole collection (even by ``_id``), while an insert is
checked by the unique index alone. So the usual path makes two inserts and no lookup: a *claim* before
the handler runs (``inbox_claims``: a second claim of one event fails) and the *record* after it
(``inbox``). Only an event that was claimed before, or that the broker marks as redelivered, is looked
up in the inbox to tell a finished one from one whose handler never completed.

Claims and records are written in groups: the first waits for no one, and those that arrive while a
write is on its way go together in the next one (one unordered ``insert_many``, whose duplicate keys
answer each caller as a single insert would). Under load a consumer holding many deliveries thus
spends two round trips per group of events rather than two per event; idle, nothing waits.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

INBOX_COLLECTION = "inbox"
CLAIMS_COLLECTION = "inbox_claims"
_DUPLICATE_KEY = 11000
# The most documents one grouped insert carries.
MAX_GROUP = 500


class GroupedInsert:
    """Inserts documents into one collection, the waiting ones together; each caller learns whether its
    document went in (True) or its key was taken (False), or gets the error that stopped it."""

    def __init__(self, collection: AsyncCollection[Any]) -> None:
        self._coll = collection
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def insert(self, document: dict[str, Any]) -> bool:
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((document, answer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name=f"grouped-insert-{self._coll.name}")
        return await answer

    async def _write_all(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
            group = [(doc, answer) for doc, answer in group if not answer.done()]  # its caller was cancelled
            if not group:
                continue
            try:
                await self._write(group)
            except BaseException as exc:  # every caller of the group hears of it
                for _, answer in group:
                    if not answer.done():
                        answer.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
                if not isinstance(exc, Exception):
                    raise

    async def _write(self, group: list[tuple[dict[str, Any], asyncio.Future[bool]]]) -> None:
        if len(group) == 1:
            document, answer = group[0]
            try:
                await self._coll.insert_one(document)
            except DuplicateKeyError:
                _answer(answer, False)
                return
            _answer(answer, True)
            return
        refused: dict[int, dict[str, Any]] = {}
        try:
            await self._coll.insert_many([doc for doc, _ in group], ordered=False)
        except BulkWriteError as exc:
            refused = {int(error["index"]): error for error in exc.details.get("writeErrors", [])}
        for index, (_, answer) in enumerate(group):
            error = refused.get(index)
            if error is None or error.get("code") == _DUPLICATE_KEY:
                _answer(answer, error is None)
            elif not answer.done():
                answer.set_exception(OperationFailure(error.get("errmsg", "write refused"), error.get("code")))


def _answer(answer: asyncio.Future[bool], inserted: bool) -> None:
    if not answer.done():  # not when its caller was cancelled meanwhile
        answer.set_result(inserted)


class Inbox:
    """Remembers which events a consumer has fully handled (the event id is the document _id)."""

    def __init__(self, collection: AsyncCollection[Any], claims: AsyncCollection[Any] | None = None) -> None:
        self._coll = collection
        self._claims = claims if claims is not None else collection.database[CLAIMS_COLLECTION]
        self._claiming = GroupedInsert(self._claims)
        self._recording = GroupedInsert(self._coll)

    async def ping(self) -> None:
        await self._coll.database.command("ping")

    async def claim(self, *, event_id: str, event_type: str) -> bool:
        """Claim an event before handling it; False if it was claimed before (handled, or begun)."""
        return await self._claiming.insert({"_id": event_id, "type": event_type, "claimed_at": datetime.now(UTC)})

    async def seen(self, event_id: str) -> bool:
        """Whether the event was fully handled (a lookup: call it only for events claimed before)."""
        return await self._coll.find_one({"_id": event_id}, {"_id": 1}) is not None

    async def record(self, *, event_id: str, event_type: str) -> bool:
        """Record a handled event; False if it was already there."""
        return await self._recording.insert({"_id": event_id, "type": event_type, "handled_at": datetime.now(UTC)})
