"""The real stack for browser tests: the four services as processes behind nginx (deploy/local/web.sh with
deploy/nginx/tongpin.conf), and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from tongpin.shared.testing.fixtures import SigningKey
from tongpin.shared.testing.services import ServiceProcess, delete_test_topology, free_port

ROOT = Path(__file__).resolve().parents[2]
WEB_SH = ROOT / "deploy" / "local" / "web.sh"
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
SERVICE_NAMES = ("intake", "triage", "counselling", "oversight")
RETRY_DELAYS = [0.2, 0.4]


@dataclass
class WebProxy:
    """An nginx started by deploy/local/web.sh with its own directory, port and upstreams."""

    directory: Path
    upstreams: dict[str, str]
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "TONGPIN_NGINX_DIR": str(self.directory), "TONGPIN_WEB_PORT": str(self.port)}
        env.update({f"TONGPIN_UPSTREAM_{name.upper()}": address for name, address in self.upstreams.items()})
        env.update(self.env)
        return subprocess.run([str(WEB_SH), command], env=env, capture_output=True, text=True, timeout=60, check=False)

    def start(self) -> WebProxy:
        result = self.run("start")
        assert result.returncode == 0, f"web.sh start failed:\n{result.stdout}\n{result.stderr}"
        return self

    def stop(self) -> None:
        self.run("stop")

    def status(self) -> str:
        return self.run("status").stdout


@dataclass
class Stack:
    run_id: str
    key: SigningKey
    services: dict[str, ServiceProcess]
    web: WebProxy
    bridge_key: str
    clock_file: Path  # oversight's business clock while this file exists (tongpin.shared.clock)

    @property
    def url(self) -> str:
        return self.web.url

    def token(self, *roles: str, name: str = "测试用户", sub: str | None = None) -> str:
        return self.key.token(*roles, name=name, sub=sub)

    def api(self, service: str) -> httpx.Client:
        """An HTTP client for one service's API through nginx, as the console reaches it."""
        return httpx.Client(base_url=f"{self.url}/api/{service}", timeout=15)


def _settings(name: str, *, mongodb_url: str, amqp_url: str, run_id: str) -> dict[str, Any]:
    return {
        "service_name": name, "MONGODB_URL": mongodb_url, "AMQP_URL": amqp_url,
        "mongodb_database": f"{run_id}_{name}", "exchange": f"{run_id}.events", "queue_prefix": f"{run_id}.",
        "retry_delays": RETRY_DELAYS, "delivery_limit": 5, "outbox_poll_seconds": 0.2, "log_json": True,
        # Behind the stack's nginx, as `make up` runs them.
        "trusted_proxies": ["127.0.0.1"],
    }


@pytest.fixture(scope="session", autouse=True)
def fresh_screenshots() -> None:
    """Screenshots of an earlier run are removed first, so a check of what is on disk sees this run's only."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)


@pytest.fixture(scope="session")
def stack(mongodb_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_id = f"tb{uuid.uuid4().hex[:9]}"
    key = SigningKey()
    logs = ARTIFACTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    bridge_key = secrets.token_urlsafe(24)
    note_key = base64.b64encode(os.urandom(32)).decode()
    clock_file = tmp_path_factory.mktemp("clock") / "clock.json"
    extra: dict[str, dict[str, Any]] = {
        # A crisis's reading target of a few seconds, so the reading list shows one overdue.
        "intake": {"jwks_json": key.jwks_json, "api_keys": [f"bridge:{bridge_key}"],
                   "receipt_pepper": secrets.token_hex(32), "reading_crisis_minutes": 0.05,
                   "reading_scan_seconds": 0.5},
        "triage": {"jwks_json": key.jwks_json},
        # Counselling signs the staff tokens itself with the same key the others verify.
        "counselling": {"jwks_json": key.jwks_json, "jwt_private_key_pem": key.private_pem, "jwt_key_id": key.kid,
                        "sealed_note_keys": f"dev1:{note_key}", "sealed_note_current_kid": "dev1",
                        "argon2_memory_kib": 8192, "argon2_time_cost": 1, "login_base_delay_seconds": 0},
        "oversight": {"jwks_json": key.jwks_json, "clock_file": str(clock_file)},
    }
    services: dict[str, ServiceProcess] = {}
    web: WebProxy | None = None
    try:
        for name in SERVICE_NAMES:
            settings = _settings(name, mongodb_url=mongodb_url, amqp_url=amqp_url, run_id=run_id) | extra[name]
            services[name] = ServiceProcess(name, settings, log_dir=logs).start(timeout=60)
        web = WebProxy(tmp_path_factory.mktemp("nginx"),
                       {name: f"127.0.0.1:{proc.port}" for name, proc in services.items()}).start()
        yield Stack(run_id=run_id, key=key, services=services, web=web, bridge_key=bridge_key, clock_file=clock_file)
    finally:
        if web is not None:
            web.stop()
        for proc in services.values():
            proc.stop()
        with MongoClient(mongodb_url) as client:
            for name in client.list_database_names():
                if name.startswith(run_id):
                    client.drop_database(name)
        asyncio.run(delete_test_topology(amqp_url, run_id=run_id, retry_delays=RETRY_DELAYS))


@pytest.fixture(scope="session")
def down_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebProxy]:
    """The same console and proxy, with every service down (nothing listens on the upstream ports)."""
    web = WebProxy(tmp_path_factory.mktemp("nginx-down"),
                   {name: f"127.0.0.1:{free_port()}" for name in SERVICE_NAMES}).start()
    yield web
    web.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope: Playwright's sync API keeps an event loop running while it is open, which would
    # stop pytest-asyncio from running async tests of other modules in the same session.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context at tablet width, failing the test on any console error or CSP violation."""
    context = browser.new_context(viewport={"width": 768, "height": 1024}, locale="zh-CN")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.problems = problems
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in_with_token(page: Any, stack: Stack, *roles: str, name: str = "测试用户", sub: str | None = None) -> None:
    """Put a session signed with the stack's key into sessionStorage, as the login page does after login."""
    token = stack.token(*roles, name=name, sub=sub)
    page.goto(f"{stack.url}/#/login")
    session = {"token": token, "expiresAt": None, "roles": list(roles), "name": name, "staffId": sub}
    page.evaluate("s => sessionStorage.setItem('tongpin.session', s)", json.dumps(session))
