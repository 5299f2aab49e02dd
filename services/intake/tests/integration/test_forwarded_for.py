"""A forged X-Forwarded-For never changes who the client is (pen-test finding 3).

These run intake as its own process under uvicorn, as deployed: the in-process ASGI client would
bypass the server's own handling of forwarded headers, which is where the hole was.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tongpin.intake.testing import PEPPER
from tongpin.shared.testing.services import ServiceProcess

pytestmark = pytest.mark.integration

BODY = {"channel_kind": "families", "text": "我爱人最近总是失眠，很担心他。"}


async def submissions(url: str, headers_for: list[dict[str, str]], admin: dict[str, str]) -> list[int]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        created = await client.post("/channels", headers=admin, json={
            "id": "families-xff", "kind": "families", "name": "家属群", "external_group_id": "wx-families-xff"})
        assert created.status_code == 201, created.text
        return [(await client.post("/public/submissions", json=BODY, headers=h)).status_code for h in headers_for]


async def test_a_forged_forwarded_for_from_a_direct_client_is_ignored(settings_env, clean_run, signing_key,
                                                                      tmp_path: Path):
    settings = settings_env("intake", receipt_pepper=PEPPER, public_per_client_limit=2)
    process = ServiceProcess("intake", settings, log_dir=tmp_path).start(timeout=60)
    try:
        forged = [{"X-Forwarded-For": f"198.51.100.{n}"} for n in range(1, 4)]
        # Three "different" clients are one client from 127.0.0.1: the third is over its limit.
        assert await submissions(process.url, forged, signing_key.headers("admin")) == [201, 201, 429]
    finally:
        process.stop()


async def test_behind_a_configured_proxy_the_forwarded_address_is_the_client(settings_env, clean_run, signing_key,
                                                                             tmp_path: Path):
    settings = settings_env("intake", receipt_pepper=PEPPER, public_per_client_limit=2,
                            trusted_proxies=["127.0.0.0/8"])
    process = ServiceProcess("intake", settings, log_dir=tmp_path).start(timeout=60)
    try:
        # The proxy (nginx) writes the address it saw; each is its own client with its own limit.
        seen = [{"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.1"},
                {"X-Forwarded-For": "198.51.100.2"}, {"X-Forwarded-For": "198.51.100.1"}]
        assert await submissions(process.url, seen, signing_key.headers("admin")) == [201, 201, 201, 429]
    finally:
        process.stop()
