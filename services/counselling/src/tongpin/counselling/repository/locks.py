"""Per-document locks of this process, around a whole load-decide-save."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any


class DocumentLocks:
    """Per-document locks around a whole load-decide-save of one case in this process.

    Single updates are already serialised by the service database's write gate
    (tongpin.shared.mongo); these locks only spare concurrent handlers needless version retries.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[tuple[str, Any], asyncio.Lock] = weakref.WeakValueDictionary()

    def __call__(self, collection: str, document_id: Any) -> asyncio.Lock:
        key = (collection, document_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock
