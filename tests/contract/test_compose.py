"""docker-compose.yml, the one service Dockerfile and the compose env file: checked without a Docker engine."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / "compose.env.example"
DOCKER_COMPOSE_V1 = Path("/usr/bin/docker-compose")

PORTS = {"intake": 8101, "triage": 8102, "counselling": 8103, "oversight": 8104}
JWKS_URL = "http://counselling:8103/auth/jwks"
SECRETS = ("TONGPIN_SEALED_NOTE_KEYS", "TONGPIN_JWT_PRIVATE_KEY_PEM", "TONGPIN_RECEIPT_PEPPER")
# Which service may hold which secret; the compose file blanks the rest of the shared env file.
SECRET_HOLDERS = {
    "TONGPIN_SEALED_NOTE_KEYS": {"counselling"},
    "TONGPIN_JWT_PRIVATE_KEY_PEM": {"counselling"},
    "TONGPIN_RECEIPT_PEPPER": {"intake"},
}

# Things that must never be written into docker-compose.yml itself.
SECRET_PATTERNS = {
    "PEM block": re.compile(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----"),
    "credentials in a URL": re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE),
    "long base64 or hex run": re.compile(r"[A-Za-z0-9+/=_-]{40,}"),
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
}
SECRET_NAME = re.compile(r"(PASSWORD|PASS|SECRET|TOKEN|KEY|KEYS|PEPPER|PEM)$", re.IGNORECASE)


def _compose_env() -> dict[str, str]:
    """The environment docker-compose runs in: the caller's, without overrides of our variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TONGPIN_", "COMPOSE_"))}
    env.pop("DOCKER_HOST", None)
    return env


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _as_dict(environment: Any) -> dict[str, str]:
    if environment is None:
        return {}
    if isinstance(environment, dict):
        return {k: "" if v is None else str(v) for k, v in environment.items()}
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)


def _published_ports(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(host, container) pairs from short-syntax port strings such as "8080:8080"."""
    pairs = []
    for entry in service.get("ports", []):
        parts = str(entry).split("/")[0].split(":")
        assert len(parts) in (2, 3), f"port {entry!r} must name the host port explicitly"
        pairs.append((int(parts[-2]), int(parts[-1])))
    return pairs


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


# --- validated by a real Compose implementation -----------------------------------------------


def _run_compose_v1(*args: str) -> subprocess.CompletedProcess[str]:
    if not DOCKER_COMPOSE_V1.exists():
        pytest.fail(
            f"{DOCKER_COMPOSE_V1} is missing: install Debian's docker-compose package "
            "(`apt-get install -y docker-compose`); CI validates docker-compose.yml with it."
        )
    return subprocess.run(
        [str(DOCKER_COMPOSE_V1), "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), *args],
        cwd=ROOT,
        env=_compose_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_docker_compose_v1_accepts_the_file_with_the_example_env_file() -> None:
    result = _run_compose_v1("config", "-q")
    assert result.returncode == 0, f"docker-compose config -q failed:\n{result.stderr}"


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The configuration as docker-compose v1 resolves it (env file read, anchors merged)."""
    result = _run_compose_v1("config")
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def test_resolved_services_get_settings_and_only_their_own_secrets(resolved: dict[str, Any]) -> None:
    for name, port in PORTS.items():
        env = _as_dict(resolved["services"][name].get("environment"))
        assert env["TONGPIN_SERVICE_NAME"] == name
        assert env["TONGPIN_HOST"] == "0.0.0.0"
        assert env["TONGPIN_PORT"] == str(port)
        assert env["MONGODB_URL"].startswith("mongodb://mongo:27017/")
        assert "replicaSet=rs0" in env["MONGODB_URL"]
        assert re.match(r"amqps?://[^@]+@rabbitmq:5672/", env["AMQP_URL"]), env["AMQP_URL"]
        if name == "counselling":
            assert not env.get("TONGPIN_JWKS_URL"), "counselling signs tokens; it needs no JWKS URL"
        else:
            assert env["TONGPIN_JWKS_URL"] == JWKS_URL
        for secret, holders in SECRET_HOLDERS.items():
            if name in holders:
                assert env.get(secret), f"{name} needs {secret} from the env file"
            else:
                assert not env.get(secret), f"{name} must not receive {secret}"
    pem = _as_dict(resolved["services"]["counselling"]["environment"])["TONGPIN_JWT_PRIVATE_KEY_PEM"]
    assert pem.startswith("-----BEGIN PRIVATE KEY-----\n"), "the PEM's \\n escapes must become newlines"
    assert pem.rstrip().endswith("-----END PRIVATE KEY-----")


# --- the file itself ----------------------------------------------------------------------------


def test_all_services_are_defined(services: dict[str, Any]) -> None:
    assert set(services) == {*PORTS, "rabbitmq", "mongo", "web"}


def test_images_are_the_agreed_ones(services: dict[str, Any]) -> None:
    assert services["rabbitmq"]["image"] == "rabbitmq:3.13-management"
    assert services["mongo"]["image"] == "mongo:7"
    assert services["web"]["image"] == "nginx:1.27-alpine"


@pytest.mark.parametrize("name", sorted(PORTS))
def test_service_builds_from_the_one_dockerfile_in_the_workspace(services: dict[str, Any], name: str) -> None:
    build = services[name]["build"]
    assert build["context"] == "."
    assert build["dockerfile"] == "Dockerfile"
    assert _as_dict(build["args"]) == {"SERVICE": name, "PORT": str(PORTS[name])}


def test_no_service_keeps_a_dockerfile_of_its_own() -> None:
    assert sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("services/*/Dockerfile")) == []


@pytest.mark.parametrize("name", sorted(PORTS))
def test_service_waits_for_healthy_broker_and_database(services: dict[str, Any], name: str) -> None:
    deps = _depends_on(services[name])
    assert deps.get("rabbitmq") == "service_healthy"
    assert deps.get("mongo") == "service_healthy"


@pytest.mark.parametrize("name", sorted(PORTS))
def test_service_has_its_port_and_publishes_none(services: dict[str, Any], name: str) -> None:
    service = services[name]
    env = _as_dict(service.get("environment"))
    assert env.get("TONGPIN_PORT") == str(PORTS[name])
    assert str(PORTS[name]) in [str(p) for p in service.get("expose", [])]
    assert not service.get("ports"), f"{name} must not be published on the host"


def test_only_nginx_and_rabbitmq_management_are_published(services: dict[str, Any]) -> None:
    published = {name: _published_ports(svc) for name, svc in services.items() if svc.get("ports")}
    assert set(published) == {"web", "rabbitmq"}
    assert [host for host, _ in published["web"]] == [8080]
    assert [host for host, _ in published["rabbitmq"]] == [15672]


def test_infrastructure_has_healthchecks(services: dict[str, Any]) -> None:
    rabbit_test = " ".join(services["rabbitmq"]["healthcheck"]["test"])
    assert "rabbitmq-diagnostics -q ping" in rabbit_test
    mongo_test = " ".join(services["mongo"]["healthcheck"]["test"])
    assert "mongosh" in mongo_test
    assert "rs.initiate(" in mongo_test
    assert "host: 'mongo:27017'" in mongo_test


def test_mongo_runs_as_a_replica_set(services: dict[str, Any]) -> None:
    command = services["mongo"]["command"]
    command = command if isinstance(command, list) else command.split()
    assert "--replSet" in command
    assert command[command.index("--replSet") + 1] == "rs0"
    assert "_id: 'rs0'" in " ".join(services["mongo"]["healthcheck"]["test"])


def test_rabbitmq_loads_the_definitions(services: dict[str, Any]) -> None:
    volumes = services["rabbitmq"]["volumes"]
    assert "./deploy/rabbitmq/definitions.json:/etc/rabbitmq/definitions.json:ro" in volumes
    assert "./deploy/rabbitmq/rabbitmq.conf:/etc/rabbitmq/conf.d/20-tongpin.conf:ro" in volumes
    conf = (ROOT / "deploy/rabbitmq/rabbitmq.conf").read_text(encoding="utf-8")
    assert re.search(r"^load_definitions\s*=\s*/etc/rabbitmq/definitions\.json$", conf, re.MULTILINE)
    # RabbitMQ names its data directory after the node, so the host name must be fixed.
    assert services["rabbitmq"].get("hostname") == "rabbitmq"


def test_web_serves_the_console_and_the_proxy_config(services: dict[str, Any]) -> None:
    web = services["web"]
    assert "./deploy/nginx/tongpin.conf:/etc/nginx/conf.d/default.conf:ro" in web["volumes"]
    assert "./web:/usr/share/nginx/html:ro" in web["volumes"]
    assert set(_depends_on(web)) == set(PORTS)


def test_nginx_listens_on_the_port_compose_maps() -> None:
    conf = ROOT / "deploy/nginx/tongpin.conf"
    listens = {int(m) for m in re.findall(r"^\s*listen\s+(?:[\w.\[\]:]*:)?(\d+)", conf.read_text(), re.M)}
    services = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]
    container_ports = {container for _, container in _published_ports(services["web"])}
    assert container_ports <= listens, f"compose maps to {container_ports}; nginx listens on {listens}"


def test_named_volumes_hold_the_data(compose: dict[str, Any], services: dict[str, Any]) -> None:
    assert {"rabbitmq-data", "mongo-data", "mongo-config"} <= set(compose["volumes"])
    assert "rabbitmq-data:/var/lib/rabbitmq" in services["rabbitmq"]["volumes"]
    assert "mongo-data:/data/db" in services["mongo"]["volumes"]


def test_env_file_defaults_to_the_example(services: dict[str, Any]) -> None:
    for name in PORTS:
        env_file = services[name]["env_file"]
        env_files = env_file if isinstance(env_file, list) else [env_file]
        assert env_files == ["${TONGPIN_ENV_FILE:-deploy/compose.env.example}"]


def test_no_secret_values_in_the_compose_file(services: dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for what, pattern in SECRET_PATTERNS.items():
        match = pattern.search(text)
        assert match is None, f"docker-compose.yml contains a {what}: {match.group(0)[:20]}..."
    for name, service in services.items():
        for key, value in _as_dict(service.get("environment")).items():
            if SECRET_NAME.search(key):
                assert value in ("", None) or value.startswith("${"), f"{name}: {key} is set inline"


# --- the env file with the development defaults -------------------------------------------------


def test_env_example_marks_every_secret_as_development_only() -> None:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert "DEVELOPMENT DEFAULTS ONLY" in text
    for secret in SECRETS:
        match = re.search(rf"^{secret}=(.+)$", text, re.MULTILINE)
        assert match, f"{secret} missing from {ENV_EXAMPLE.name}"
        value = match.group(1)
        # Either the value says so itself or the comment block right above it does.
        preceding = text[: match.start()].rsplit("\n\n", 1)[-1]
        assert "dev-only" in value.lower() or "dev-only" in preceding.lower(), secret


# --- the Dockerfile ------------------------------------------------------------------------------


DOCKERFILE = ROOT / "Dockerfile"


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.MULTILINE)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\} AS build$", text, re.MULTILINE)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\} AS runtime$", text, re.MULTILINE)
    assert re.search(r"^ARG UV_VERSION=\S+$", text, re.MULTILINE)
    assert 'pip install "uv==' in text
    # Each stage that uses the service's name declares the build argument; an unknown one fails the build.
    assert len(re.findall(r"^ARG SERVICE$", text, re.MULTILINE)) == 2
    assert re.search(r'case "\$\{SERVICE\}" in intake\|triage\|counselling\|oversight\) ;;', text)
    for path in ("pyproject.toml uv.lock", "shared/ shared/", "services/ services/"):
        assert f"COPY {path}" in text
    assert 'uv sync --frozen --no-dev --package "tongpin-${SERVICE}" --no-editable' in text
    assert "ENV PATH=/app/.venv/bin:$PATH" in text
    assert "TONGPIN_SERVICE_NAME=${SERVICE}" in text
    assert "TONGPIN_HOST=0.0.0.0" in text
    assert "TONGPIN_PORT=${PORT}" in text
    assert "EXPOSE ${PORT}" in text
    users = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the service must not run as root"
    assert re.search(r"^HEALTHCHECK .*\n.*urllib\.request\.urlopen\(.*/healthz", text, re.MULTILINE)
    assert "curl" not in text and "wget" not in text
    # docker-compose v1 may build with the legacy builder, which knows no BuildKit-only syntax.
    assert not re.search(r"^\s*#\s*syntax=|--mount=|<<\s*['\"]?[A-Z]+", text, re.MULTILINE)
    assert 'ln -s "tongpin-${SERVICE}" /app/.venv/bin/tongpin-service' in text
    assert text.rstrip().splitlines()[-1] == 'CMD ["tongpin-service"]'


def test_triage_image_trains_its_packaged_model_at_build() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    match = re.search(r'^RUN if \[ "\$\{SERVICE\}" = triage \]; then \\\n\s+(.+?); \\\n\s+fi$', text, re.MULTILINE)
    assert match, "the build stage must train triage's model when SERVICE=triage"
    assert match[1] == "/app/.venv/bin/python -m tongpin.triage.train --corpus services/triage/eval/labelled.jsonl"
    assert (ROOT / "services/triage/eval/labelled.jsonl").is_file()
    # Trained after the workspace is installed, in the build stage, whose venv the runtime stage copies.
    build_stage = text.split("AS runtime")[0]
    assert build_stage.index("--no-editable") < build_stage.index("tongpin.triage.train")


@pytest.mark.parametrize("name", sorted(PORTS))
def test_every_service_has_the_entry_point_the_image_links(name: str) -> None:
    text = (ROOT / "services" / name / "pyproject.toml").read_text(encoding="utf-8")
    assert f'tongpin-{name} = "tongpin.{name}.__main__:main"' in text


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    lines = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"**/.venv", "**/.git", "**/.env", ".run/"} <= lines
    for needed in ("pyproject.toml", "uv.lock", "shared/", "services/", "shared/src/", "services/*/src/"):
        assert needed not in lines, f".dockerignore must not exclude {needed}"
