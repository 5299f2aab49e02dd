"""A bounded schemathesis run over the four services as deployed (processes, real tokens): no server
error and no answer outside its documented schema.

Each service runs as its own process against the real servers. Counselling signs the tokens; the other
services fetch its key set, as in production. Every role logs in through POST /auth/token with a staff
account an admin created; the channel bridge uses its API key. Each operation is called as a role the
access policy admits (docs/access-policy.md), with a few generated examples of valid and of invalid
input, within a time limit. The figures are printed and kept in test-artifacts/fuzz.json.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from tongpin.shared.testing.fixtures import SigningKey
from tongpin.shared.testing.roles import load_policy
from tongpin.shared.testing.services import ServiceProcess, settings_to_env

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("counselling", "intake", "triage", "oversight")
STAFF_ROLES = ("political_worker", "psychologist", "centre_coordinator", "committee_member", "auditor")
# The role each operation is called as: the first of these its policy admits.
PREFERENCE = ("centre_coordinator", "admin", "auditor", "committee_member", "political_worker", "psychologist",
              "system")
POSITIVE_EXAMPLES = int(os.environ.get("TONGPIN_FUZZ_POSITIVE", "4"))
NEGATIVE_EXAMPLES = int(os.environ.get("TONGPIN_FUZZ_NEGATIVE", "2"))
TIME_LIMIT = float(os.environ.get("TONGPIN_FUZZ_SECONDS", "240"))


@dataclass
class Fuzzed:
    operations: int = 0
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    schema_violations: list[str] = field(default_factory=list)
    not_reached: list[str] = field(default_factory=list)
    by_operation: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class Deployment:
    urls: dict[str, str]
    credentials: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def deployment(mongodb_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    run_id = f"tf{uuid.uuid4().hex[:9]}"
    key = SigningKey()
    logs = tmp_path_factory.mktemp("fuzz-logs")
    bridge_key = secrets.token_urlsafe(24)
    common = {"MONGODB_URL": mongodb_url, "AMQP_URL": amqp_url, "exchange": f"{run_id}.events",
              "queue_prefix": f"{run_id}.", "retry_delays": [0.2, 0.4], "outbox_poll_seconds": 0.2,
              "log_level": "WARNING"}

    def values(name: str, **extra: Any) -> dict[str, Any]:
        return {**common, "service_name": name, "mongodb_database": f"{run_id}_{name}", **extra}

    counselling_settings = values(
        "counselling", jwt_private_key_pem=key.private_pem, jwt_key_id=key.kid, argon2_time_cost=1,
        argon2_memory_kib=8192, argon2_parallelism=1, login_base_delay_seconds=0.01,
        sealed_note_keys=f"fz:{base64.b64encode(os.urandom(32)).decode()}")
    processes = {"counselling": ServiceProcess("counselling", counselling_settings, log_dir=logs)}
    jwks = {"jwks_url": f"http://127.0.0.1:{processes['counselling'].port}/auth/jwks"}
    processes["intake"] = ServiceProcess("intake", values("intake", **jwks, api_keys=[f"bridge:{bridge_key}"],
                                                          receipt_pepper=secrets.token_hex(16)), log_dir=logs)
    processes["triage"] = ServiceProcess("triage", values("triage", **jwks), log_dir=logs)
    processes["oversight"] = ServiceProcess("oversight", values("oversight", **jwks), log_dir=logs)
    started: list[ServiceProcess] = []
    try:
        for name in SERVICES:
            started.append(processes[name].start(timeout=90))
        credentials = _log_everyone_in(processes["counselling"], counselling_settings, bridge_key)
        _seed(processes, credentials)
        yield Deployment(urls={name: p.url for name, p in processes.items()}, credentials=credentials)
    finally:
        for process in started:
            process.stop()
        from pymongo import MongoClient

        with MongoClient(mongodb_url) as client:
            for name in client.list_database_names():
                if name.startswith(run_id):
                    client.drop_database(name)


def _log_in(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    answer = client.post("/auth/token", data={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _log_everyone_in(counselling: ServiceProcess, counselling_settings: dict[str, Any],
                     bridge_key: str) -> dict[str, dict[str, str]]:
    """A real token for every staff role (the first admin made with the CLI, the rest by that admin)."""
    password = f"pw-{secrets.token_hex(8)}"
    env = {**os.environ, **settings_to_env(counselling_settings), "TONGPIN_ADMIN_PASSWORD": password}
    made = subprocess.run([sys.executable, "-m", "tongpin.counselling.admin", "create-admin", "--username",
                           "fuzz-admin", "--name", "模糊测试管理员"], env=env, capture_output=True, timeout=120,
                          check=False)
    assert made.returncode == 0, made.stderr.decode()
    with httpx.Client(base_url=counselling.url, timeout=30) as client:
        credentials = {"admin": _log_in(client, "fuzz-admin", password)}
        for role in STAFF_ROLES:
            username = f"fuzz-{role.replace('_', '-')}"
            created = client.post("/staff", headers=credentials["admin"], json={
                "username": username, "name": f"测试{role}", "password": password, "roles": [role],
                "unit": "unit-01"})
            assert created.status_code == 201, created.text
            credentials[role] = _log_in(client, username, password)
    credentials["system"] = {"X-API-Key": bridge_key}
    return credentials


def _seed(processes: dict[str, ServiceProcess], credentials: dict[str, dict[str, str]]) -> None:
    """A channel and a message, so the services hold some real data while they are fuzzed."""
    with httpx.Client(base_url=processes["intake"].url, timeout=30) as client:
        client.post("/channels", headers=credentials["centre_coordinator"], json={
            "id": "officers-fuzz", "kind": "officers", "name": "民警群", "external_group_id": "wx-fuzz"})
        posted = client.post("/messages", headers=credentials["system"], json={
            "channel_id": "officers-fuzz", "source_message_id": "fuzz-1", "anonymous": True,
            "text": "宿舍没有热水，已经一周了", "sent_at": "2026-01-05T08:00:00+08:00"})
        assert posted.status_code in (200, 201), posted.text


def _role_for(service: str, method: str, path: str) -> str | None:
    row = load_policy(service).get((method, path))
    if row is None or row.public:
        return None
    return next(role for role in PREFERENCE if role in row.admitted)


def test_bounded_fuzz_of_all_four_services_finds_no_server_error_and_no_schema_violation(
    deployment: Deployment,
) -> None:
    figures = Fuzzed()
    started = time.monotonic()
    for service in SERVICES:
        url = deployment.urls[service]
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        for result in schema.get_all_operations():
            operation = result.ok()
            label = f"{service} {operation.method.upper()} {operation.path}"
            if time.monotonic() - started > TIME_LIMIT:
                figures.not_reached.append(label)
                continue
            figures.operations += 1
            role = _role_for(service, operation.method.upper(), operation.path)
            headers = deployment.credentials[role] if role else {}
            for mode, examples in ((GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
                                   (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)):
                _fuzz(operation, mode, examples, url=url, headers=headers, label=label, figures=figures)
    elapsed = time.monotonic() - started
    report = {"operations": figures.operations, "requests": figures.requests, "server_errors":
              len(figures.server_errors), "schema_violations": len(figures.schema_violations),
              "statuses": dict(sorted(figures.statuses.items())), "seconds": round(elapsed, 1),
              "examples_per_operation": {"positive": POSITIVE_EXAMPLES, "negative": NEGATIVE_EXAMPLES},
              "not_reached": figures.not_reached, "server_error_samples": figures.server_errors[:20],
              "schema_violation_samples": figures.schema_violations[:20], "by_operation": figures.by_operation}
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "fuzz.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"\nfuzz: {figures.operations} operations, {figures.requests} requests, "
          f"{len(figures.server_errors)} 5xx, {len(figures.schema_violations)} schema violations, "
          f"{elapsed:.0f} s; statuses {report['statuses']}")
    assert figures.server_errors == [], figures.server_errors[:10]
    assert figures.schema_violations == [], figures.schema_violations[:10]
    assert figures.not_reached == [], f"the time limit ({TIME_LIMIT:.0f} s) left operations untried"
    assert figures.requests >= figures.operations * POSITIVE_EXAMPLES // 2


def _fuzz(operation: Any, mode: GenerationMode, examples: int, *, url: str, headers: dict[str, str], label: str,
          figures: Fuzzed) -> None:
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        try:
            response = case.call(base_url=url, headers=headers, timeout=30)
        except Exception as exc:  # a request the client cannot even send (e.g. an invalid header)
            figures.statuses["unsent"] = figures.statuses.get("unsent", 0) + 1
            del exc
            return
        figures.requests += 1
        status = str(response.status_code)
        figures.statuses[status] = figures.statuses.get(status, 0) + 1
        seen = figures.by_operation.setdefault(label, {})
        seen[status] = seen.get(status, 0) + 1
        if response.status_code >= 500:
            figures.server_errors.append(f"{label} [{mode.value}] {response.status_code}: {response.text[:300]}")
            return
        try:
            case.validate_response(response, checks=[response_schema_conformance], headers=headers)
        except Exception as exc:  # the check's failure, carrying what did not conform
            figures.schema_violations.append(f"{label} [{mode.value}] {response.status_code}: {str(exc)[:400]}")

    try:
        run()
    except Unsatisfiable:
        # An operation without inputs has no invalid input to generate.
        assert mode is GenerationMode.NEGATIVE, label
