"""The login throttle under parallel attempts, per account and per client (pen-test findings 1 and 10)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tongpin.counselling.app import create_app
from tongpin.counselling.settings import CounsellingSettings
from tongpin.shared.testing.services import running

pytestmark = pytest.mark.integration

PASSWORD = "正确的密码-2024"


@asynccontextmanager
async def counselling_app(counselling_settings: Any, **overrides: Any) -> AsyncIterator[Any]:
    app = create_app(CounsellingSettings(**counselling_settings(**overrides)))
    async with running(app) as client:
        yield app, client


def from_client(app: Any, address: str) -> httpx.AsyncClient:
    """A client whose requests come from another address (the app sees it as request.client)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30)


async def add_account(client: httpx.AsyncClient, signing_key: Any) -> str:
    username = f"u{uuid.uuid4().hex[:10]}"
    created = await client.post("/staff", headers=signing_key.headers("admin"), json={
        "username": username, "name": "王老师", "password": PASSWORD, "roles": ["political_worker"]})
    assert created.status_code == 201, created.text
    return username


async def test_parallel_wrong_passwords_are_counted_before_any_is_checked(counselling_settings, clean_run,
                                                                          signing_key):
    async with counselling_app(counselling_settings, login_base_delay_seconds=5) as (app, client):
        username = await add_account(client, signing_key)
        burst = await asyncio.gather(*[
            client.post("/auth/token", data={"username": username, "password": f"wrong-{i}"}) for i in range(20)])
        statuses = Counter(r.status_code for r in burst)
        # One attempt is checked; the other nineteen are refused unchecked, because the first was counted first.
        assert statuses == {401: 1, 429: 19}, statuses
        assert all(r.headers["content-type"] == "application/problem+json" for r in burst)

        other = await add_account(client, signing_key)
        attempts = [client.post("/auth/token", data={"username": other, "password": f"wrong-{i}"})
                    for i in range(15)]
        attempts.append(client.post("/auth/token", data={"username": other, "password": PASSWORD}))
        burst = await asyncio.gather(*attempts)
        checked = [r for r in burst if r.status_code != 429]
        assert len(checked) == 1, Counter(r.status_code for r in burst)
        if checked[0] is not burst[-1]:
            assert burst[-1].status_code == 429 and "access_token" not in burst[-1].text
        records = [a async for a in app.state.runtime.db["login_attempts"].find({"username": other})]
        assert Counter(a["outcome"] for a in records)["throttled"] == 15


async def wrong_until_checked(client: httpx.AsyncClient, username: str) -> None:
    """Send a wrong password until one is checked (401) rather than refused unchecked (429)."""
    for _ in range(200):
        response = await client.post("/auth/token", data={"username": username, "password": "guess"})
        if response.status_code == 401:
            return
        assert response.status_code == 429
        await asyncio.sleep(0.02)
    raise AssertionError("no wrong password was checked")


async def test_a_stranger_cannot_lock_someone_else_out(counselling_settings, clean_run, signing_key):
    async with counselling_app(counselling_settings, login_base_delay_seconds=0.05,
                               login_account_free_failures=50) as (app, client):
        username = await add_account(client, signing_key)
        async with from_client(app, "198.51.100.66") as stranger:
            for _ in range(6):
                await wrong_until_checked(stranger, username)
            # The stranger is slowed down more and more (six failures: 1.6 s before the next try) ...
            slowed = await stranger.post("/auth/token", data={"username": username, "password": PASSWORD})
            assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) >= 1
            assert "locked" not in slowed.json()
        # ... while the account's owner, from their own address, still gets in at once.
        async with from_client(app, "192.0.2.10") as owner:
            response = await owner.post("/auth/token", data={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.text


async def test_failures_from_many_clients_slow_the_account_down_without_locking_it(counselling_settings, clean_run,
                                                                                  signing_key):
    async with counselling_app(counselling_settings, login_base_delay_seconds=0.5, login_account_free_failures=3,
                               login_account_max_delay_seconds=1) as (app, client):
        username = await add_account(client, signing_key)
        statuses = []
        for n in range(6):
            async with from_client(app, f"203.0.113.{n + 1}") as guesser:
                response = await guesser.post("/auth/token", data={"username": username, "password": "guess"})
                statuses.append(response.status_code)
        # Three free failures; the fourth slows the whole account down, so the next are refused unchecked.
        assert statuses == [401, 401, 401, 401, 429, 429], statuses
        async with from_client(app, "192.0.2.10") as owner:
            at_once = await owner.post("/auth/token", data={"username": username, "password": PASSWORD})
            assert at_once.status_code == 429 and int(at_once.headers["retry-after"]) == 1
            # The account's delay is capped: the owner is never kept out for long.
            await asyncio.sleep(1.1)
            later = await owner.post("/auth/token", data={"username": username, "password": PASSWORD})
            assert later.status_code == 200, later.text
