"""What the handlers need of each store: the Protocols the handlers are typed against, which the MongoDB
repositories answer to (on a server, or on the in-memory database in handler unit tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from tongpin.shared.envelope import CloudEvent


class CaseStore(Protocol):
    """Cases and the concerns (text and triage decision) they were opened from."""

    def lock(self, case_id: str) -> asyncio.Lock:
        """Serialises this process's writes to one case."""

    async def merge_concern(self, concern_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Merge one half of a concern (its text, or its triage decision) and return both halves so far."""

    async def get_concern(self, concern_id: str) -> dict[str, Any] | None:
        ...

    async def concerns(self, concern_ids: Sequence[str]) -> list[dict[str, Any]]:
        ...

    async def concerns_merged_into(self, primary_concern_id: str) -> list[dict[str, Any]]:
        ...

    async def forget_text(self, concern_id: str) -> None:
        ...

    async def insert_case(self, document: dict[str, Any], events: list[CloudEvent]) -> bool:
        """Store a new case with the events its opening causes; False if it exists already."""

    async def get_case(self, case_id: str) -> dict[str, Any] | None:
        ...

    async def save_case(
        self, case_id: str, *, expected_version: int, update: dict[str, Any], events: list[CloudEvent]
    ) -> bool:
        """Apply an update and store its events if the case still has the version read; False otherwise."""

    async def flag(self, case_id: str, fields: dict[str, Any]) -> None:
        """Set bookkeeping flags that are not part of the case's versioned state."""

    async def list_cases(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        ...

    async def find_cases(self, query: dict[str, Any], projection: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        ...

    async def case_with_escalation(self, escalation_id: str) -> dict[str, Any] | None:
        ...

    async def count_live_for(self, staff_id: str) -> int:
        ...


class StaffStore(Protocol):
    """The staff directory and the record of login attempts."""

    async def insert(self, document: dict[str, Any], events: list[CloudEvent]) -> bool:
        ...

    async def get(self, staff_id: str) -> dict[str, Any] | None:
        ...

    async def by_username(self, username: str) -> dict[str, Any] | None:
        ...

    async def update(
        self, staff_id: str, *, update: dict[str, Any], events: list[CloudEvent], expected_version: int | None = None
    ) -> dict[str, Any] | None:
        ...

    async def page(self, *, query: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        ...

    async def find(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        ...

    async def record_attempt(self, document: dict[str, Any]) -> None:
        ...

    async def attempts_since(self, username: str, since: datetime) -> list[dict[str, Any]]:
        ...

    async def throttle_counter(self, key: str) -> dict[str, Any] | None:
        ...

    async def save_throttle_counter(self, key: str, *, version: int | None, fields: dict[str, Any]) -> bool:
        """Store a counter if it is still at the version read (None: not there yet); False if it moved."""

    async def change_throttle_counter(self, key: str, update: dict[str, Any]) -> None:
        ...


class NoteStore(Protocol):
    """Sealed notes (ciphertext only), the record of every read, and refused attempts."""

    async def insert(self, document: dict[str, Any]) -> None:
        ...

    async def get(self, note_id: str) -> dict[str, Any] | None:
        ...

    async def for_case(self, case_id: str) -> list[dict[str, Any]]:
        ...

    async def record_read(self, document: dict[str, Any]) -> None:
        ...

    async def reads_of(self, note_id: str) -> list[dict[str, Any]]:
        ...

    async def record_denial(self, document: dict[str, Any]) -> None:
        ...


class NotificationStore(Protocol):
    """Each staff member's feed; the webhook worker delivers what is pending."""

    async def add(self, document: dict[str, Any]) -> bool:
        """Add one notification; False if that id is already in the feed (a redelivered cause)."""

    async def for_staff(
        self, staff_id: str, *, unread_only: bool, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        ...

    async def mark_read(self, notification_id: str, *, staff_id: str, at: datetime) -> dict[str, Any] | None:
        ...

    async def webhook_pending(self, limit: int = 50) -> list[dict[str, Any]]:
        ...

    async def webhook_done(self, notification_id: str, *, at: datetime) -> None:
        ...


class BroadcastStore(Protocol):
    """Broadcasts composed by the committee or the centre, and the delivery figures intake reports."""

    async def insert(self, document: dict[str, Any], events: list[CloudEvent]) -> None:
        ...

    async def get(self, broadcast_id: str) -> dict[str, Any] | None:
        ...

    async def page(self, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        ...

    async def record_delivery(self, document: dict[str, Any]) -> None:
        """One channel's outcome; the latest report per (broadcast, channel) wins."""

    async def deliveries(self, broadcast_id: str) -> list[dict[str, Any]]:
        ...


class BreakGlassStore(Protocol):
    """Reads of cases the reader could not open, each with its stated reason."""

    async def insert(self, document: dict[str, Any]) -> None:
        ...

    async def page(self, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        ...

    async def months(self) -> list[str]:
        """The month of every read (counted by the caller; FerretDB groups no date expressions)."""
