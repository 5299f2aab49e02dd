"""What a service process keeps of its database between reads: kept until its own write, never across one."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import pytest

from tongpin.shared import cache as cache_module
from tongpin.shared.cache import ProcessCache

pytestmark = pytest.mark.unit


class Store:
    """A stand-in for a collection: counts its reads."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {"a": {"_id": "a", "tags": ["x"]}, "b": {"_id": "b", "tags": []}}
        self.reads = 0

    async def find(self, doc_id: str) -> dict[str, Any] | None:
        self.reads += 1
        doc = self.docs.get(doc_id)
        return {**doc, "tags": list(doc["tags"])} if doc else None


async def test_a_value_is_read_once_and_handed_out_as_a_copy():
    kept: ProcessCache[dict[str, Any] | None] = ProcessCache()
    store = Store()
    first = await kept.read("db", "a", lambda: store.find("a"))
    assert first is not None
    first["tags"].append("changed by the caller")
    second = await kept.read("db", "a", lambda: store.find("a"))
    assert second == {"_id": "a", "tags": ["x"]} and store.reads == 1
    assert await kept.read("other-db", "a", lambda: store.find("a")) == second and store.reads == 2


async def test_nothing_found_is_not_kept():
    kept: ProcessCache[dict[str, Any] | None] = ProcessCache()
    store = Store()
    assert await kept.read("db", "c", lambda: store.find("c")) is None
    store.docs["c"] = {"_id": "c", "tags": []}
    assert await kept.read("db", "c", lambda: store.find("c")) == {"_id": "c", "tags": []} and store.reads == 2


async def test_a_change_drops_its_item_or_with_no_item_the_whole_scope():
    kept: ProcessCache[dict[str, Any] | None] = ProcessCache()
    store = Store()
    for doc_id in ("a", "b"):
        await kept.read("db", doc_id, partial(store.find, doc_id))
        await kept.read("other-db", doc_id, partial(store.find, doc_id))
    store.docs["a"]["tags"] = ["y"]
    kept.changing("db", "a")
    assert await kept.read("db", "a", lambda: store.find("a")) == {"_id": "a", "tags": ["y"]}
    assert store.reads == 5
    await kept.read("db", "b", lambda: store.find("b"))
    assert store.reads == 5  # b stays kept
    kept.changing("db")
    await kept.read("db", "a", lambda: store.find("a"))
    await kept.read("db", "b", lambda: store.find("b"))
    assert store.reads == 7
    assert await kept.read("other-db", "a", lambda: store.find("a")) == {"_id": "a", "tags": ["x"]}
    assert store.reads == 7  # another scope keeps what it read


async def test_a_value_read_while_a_change_began_is_returned_but_not_kept():
    kept: ProcessCache[dict[str, Any] | None] = ProcessCache()
    store = Store()

    async def read_across_a_write() -> dict[str, Any] | None:
        doc = await store.find("a")
        kept.changing("db", "b")  # any change in the scope, even of another item
        return doc

    assert await kept.read("db", "a", read_across_a_write) == {"_id": "a", "tags": ["x"]}
    await kept.read("db", "a", lambda: store.find("a"))
    assert store.reads == 2
    await kept.read("db", "a", lambda: store.find("a"))
    assert store.reads == 2


async def test_with_seconds_a_kept_value_is_read_again_once_they_have_passed(monkeypatch: pytest.MonkeyPatch):
    now = [1000.0]
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: now[0])
    kept: ProcessCache[dict[str, Any] | None] = ProcessCache(seconds=10)
    store = Store()
    await kept.read("db", "a", lambda: store.find("a"))
    now[0] += 9.9
    await kept.read("db", "a", lambda: store.find("a"))
    assert store.reads == 1
    now[0] += 0.2
    await kept.read("db", "a", lambda: store.find("a"))
    assert store.reads == 2


def test_each_event_loop_keeps_its_own():
    kept: ProcessCache[dict[str, Any] | None] = ProcessCache()
    store = Store()
    loops = [asyncio.new_event_loop(), asyncio.new_event_loop()]  # both alive: distinct loops
    try:
        for loop in loops:
            loop.run_until_complete(kept.read("db", "a", lambda: store.find("a")))
        assert store.reads == 2
        loops[0].run_until_complete(kept.read("db", "a", lambda: store.find("a")))
        assert store.reads == 2
    finally:
        for loop in loops:
            loop.close()


async def test_a_known_change_adjusts_the_kept_value_and_a_read_begun_before_it_is_not_kept():
    kept: ProcessCache[dict[str, Any] | None] = ProcessCache()
    store = Store()
    await kept.read("db", "a", lambda: store.find("a"))

    def tagged(doc: dict[str, Any] | None) -> None:
        assert doc is not None
        doc["tags"].append("y")

    store.docs["a"]["tags"].append("y")  # the write, then its known effect on what is kept
    kept.adjust("db", "a", tagged)
    assert await kept.read("db", "a", lambda: store.find("a")) == {"_id": "a", "tags": ["x", "y"]}
    assert store.reads == 1

    kept.adjust("db", "b", tagged)  # nothing kept for b: nothing to adjust, nothing made up
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow_find() -> dict[str, Any] | None:
        started.set()
        await release.wait()
        return await store.find("b")

    reading = asyncio.create_task(kept.read("db", "b", slow_find))
    await started.wait()
    store.docs["b"]["tags"].append("z")
    kept.adjust("db", "b", tagged)  # a write lands while the read is under way
    release.set()
    assert await reading == {"_id": "b", "tags": ["z"]}
    assert await kept.read("db", "b", lambda: store.find("b")) == {"_id": "b", "tags": ["z"]}
    assert store.reads == 3  # the read across the write was not kept, so b was read again
