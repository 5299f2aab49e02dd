"""What a service process keeps of its own database between reads, and how its writes keep that correct.

A service runs as one process (README), and some documents change only through that process: it can keep them
instead of reading them for every message, provided each of its writes drops what is kept. A write calls
``changing`` before and after it writes: that drops the kept value and counts a change; a write whose effect is
known (one more open item, say) may instead ``adjust`` the kept value once it has written. A read keeps what it
read only if no change began while it read, so a value read across a write is never kept.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class ProcessCache(Generic[Value]):
    """Values read from the database, kept by this process per event loop and scope (say, a database name).

    Within a scope each value has its own item key. A value is handed out and kept as a copy, so callers may
    change what they get. None (nothing found) is never kept. With ``seconds``, a kept value is read again once
    that long has passed (a bound on how long a change made around the service goes unseen).
    """

    def __init__(self, *, seconds: float | None = None) -> None:
        self._seconds = seconds
        self._kept: dict[tuple[int, Hashable], dict[Hashable, tuple[float, Value]]] = {}
        self._changes: dict[tuple[int, Hashable], int] = {}

    @staticmethod
    def _key(scope: Hashable) -> tuple[int, Hashable]:
        # Per event loop: a database client belongs to one loop, and tests run several loops in one process.
        return id(asyncio.get_running_loop()), scope

    def changing(self, scope: Hashable, item: Hashable | None = None) -> None:
        """A write to the scope begins or has ended: drop the item's kept value (every item's without one)."""
        key = self._key(scope)
        self._changes[key] = self._changes.get(key, 0) + 1
        if item is None:
            self._kept.pop(key, None)
        else:
            self._kept.get(key, {}).pop(item, None)

    def adjust(self, scope: Hashable, item: Hashable, change: Callable[[Value], None]) -> None:
        """A write whose effect on an item is known has just succeeded: apply ``change`` to the kept value (if
        one is kept) instead of dropping it, and count a change, so a read begun before the write is not kept.

        Call it right after the write returns, with no ``await`` between, so nobody reads the value unchanged.
        """
        key = self._key(scope)
        self._changes[key] = self._changes.get(key, 0) + 1
        found = self._kept.get(key, {}).get(item)
        if found is not None:
            change(found[1])

    async def read(self, scope: Hashable, item: Hashable, load: Callable[[], Awaitable[Value]]) -> Value:
        """The kept value, or what ``load`` reads now (kept unless None or a change began meanwhile)."""
        key = self._key(scope)
        now = time.monotonic()
        found = self._kept.get(key, {}).get(item)
        if found is not None and found[0] > now:
            return copy.deepcopy(found[1])
        changes = self._changes.get(key, 0)
        value = await load()
        if value is not None and self._changes.get(key, 0) == changes:
            until = now + self._seconds if self._seconds is not None else float("inf")
            self._kept.setdefault(key, {})[item] = (until, copy.deepcopy(value))
        return value
