"""What a service knows of each staff member's standing, so a token outlives neither an account nor a role.

Tokens are short-lived but still valid for minutes after an account is deactivated or loses a role.
Every service keeps the latest staff.updated it heard per staff member and refuses, at once, a token
of someone deactivated or a token claiming roles they no longer hold. Staff it never heard of are
judged by their token alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

STAFF_STANDING_COLLECTION = "staff_standing"


@dataclass(frozen=True)
class Standing:
    """A staff member as the directory last described them."""

    active: bool
    roles: frozenset[str]


class StaffStandingStore:
    """The latest standing per staff member, from staff.updated (an older event never overwrites a newer)."""

    def __init__(self, collection: AsyncCollection[Any]) -> None:
        self._standing = collection

    async def record(self, *, staff_id: str, roles: list[str], active: bool, updated_at: datetime) -> None:
        fields = {"roles": list(roles), "active": active, "updated_at": updated_at}
        try:
            await self._standing.update_one({"_id": staff_id, "updated_at": {"$lte": updated_at}},
                                            {"$set": fields}, upsert=True)
        except DuplicateKeyError:
            pass  # a newer standing is stored already

    async def __call__(self, staff_id: str) -> Standing | None:
        doc = await self._standing.find_one({"_id": staff_id})
        if doc is None:
            return None
        return Standing(active=bool(doc.get("active", True)), roles=frozenset(doc.get("roles", ())))
