"""The inbox writes claims and records in groups, and answers each caller as a single insert would."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tongpin.shared.messaging.inbox import Inbox
from tongpin.shared.testing.commands import SentCommands

pytestmark = pytest.mark.integration


async def test_concurrent_claims_and_records_go_in_groups(mongodb_url, run_id, drop_databases):
    inserts = SentCommands()
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url, tz_aware=True, event_listeners=[inserts])
    try:
        db = client[f"{run_id}_inbox"]
        inbox = Inbox(db["inbox"])
        assert await inbox.claim(event_id="e-earlier", event_type="concern.raised.v1")
        ids = [f"e-{n}" for n in range(60)]
        # Every event once, one of them twice at the same moment, and one claimed before.
        claimed = await asyncio.gather(*(inbox.claim(event_id=i, event_type="concern.raised.v1")
                                         for i in [*ids, "e-7", "e-earlier"]))
        assert claimed[:60] == [True] * 60 and claimed[60:] == [False, False]
        assert inserts.count("insert", "inbox_claims") <= 3  # the earlier one, then the waiting ones together
        recorded = await asyncio.gather(*(inbox.record(event_id=i, event_type="concern.raised.v1") for i in ids))
        assert recorded == [True] * 60
        assert await inbox.record(event_id="e-3", event_type="concern.raised.v1") is False
        assert inserts.count("insert", "inbox") <= 3
        assert await inbox.seen("e-59") and not await inbox.seen("e-earlier")
        assert await db["inbox"].count_documents({}) == 60
        assert await db["inbox_claims"].count_documents({}) == 61
    finally:
        await client.close()
