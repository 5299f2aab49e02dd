"""Inbox of processed event ids: redelivery or a second publish of the same event has one effect.

FerretDB finds a document by scanning its whole collection (even by ``_id``), while an insert is
checked by the unique index alone. So the usual path makes two inserts and no lookup: a *claim* before
the handler runs (``inbox_claims``: a second claim of one event fails) and the *record* after it
(``inbox``). Only an event that was claimed before, or that the broker marks as redelivered, is looked
up in the inbox to tell a finished one from one whose handler never completed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

INBOX_COLLECTION = "inbox"
CLAIMS_COLLECTION = "inbox_claims"


class Inbox:
    """Remembers which events a consumer has fully handled (the event id is the document _id)."""

    def __init__(self, collection: AsyncCollection[Any], claims: AsyncCollection[Any] | None = None) -> None:
        self._coll = collection
        self._claims = claims if claims is not None else collection.database[CLAIMS_COLLECTION]

    async def ping(self) -> None:
        await self._coll.database.command("ping")

    async def claim(self, *, event_id: str, event_type: str) -> bool:
        """Claim an event before handling it; False if it was claimed before (handled, or begun)."""
        try:
            await self._claims.insert_one({"_id": event_id, "type": event_type, "claimed_at": datetime.now(UTC)})
        except DuplicateKeyError:
            return False
        return True

    async def seen(self, event_id: str) -> bool:
        """Whether the event was fully handled (a lookup: call it only for events claimed before)."""
        return await self._coll.find_one({"_id": event_id}, {"_id": 1}) is not None

    async def record(self, *, event_id: str, event_type: str) -> bool:
        """Record a handled event; False if it was already there."""
        try:
            await self._coll.insert_one({"_id": event_id, "type": event_type, "handled_at": datetime.now(UTC)})
        except DuplicateKeyError:
            return False
        return True
