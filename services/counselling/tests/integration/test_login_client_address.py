"""The login log records the real client, not what a client claims in X-Forwarded-For (pen-test finding 3)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tongpin.shared.testing.services import ServiceProcess

pytestmark = pytest.mark.integration


async def test_login_attempts_record_the_connecting_address(counselling_settings, clean_run, mongo_client,
                                                            tmp_path: Path):
    process = ServiceProcess("counselling", counselling_settings(), log_dir=tmp_path).start(timeout=60)
    try:
        async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
            response = await client.post("/auth/token", data={"username": "nobody-xff", "password": "guess"},
                                         headers={"X-Forwarded-For": "203.0.113.77"})
            assert response.status_code == 401
    finally:
        process.stop()
    attempts = mongo_client[f"{clean_run}_counselling"]["login_attempts"]
    recorded = [a async for a in attempts.find({"username": "nobody-xff"})]
    assert [a["client"] for a in recorded] == ["127.0.0.1"]
