"""deploy/: Kubernetes manifests, RabbitMQ topology and MongoDB users, checked without a cluster."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tongpin.shared.settings import ServiceSettings

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
RABBITMQ = ROOT / "deploy" / "rabbitmq"
MONGO = ROOT / "deploy" / "mongo"
# The Kubernetes version the manifests are written for (the oldest minor still supported upstream).
KUBERNETES_VERSION = "1.30.0"

PORTS = {"intake": 8101, "triage": 8102, "counselling": 8103, "oversight": 8104}
# Which service's Secret may carry which application secret.
SECRET_HOLDERS = {
    "TONGPIN_SEALED_NOTE_KEYS": {"counselling"},
    "TONGPIN_JWT_PRIVATE_KEY_PEM": {"counselling"},
    "TONGPIN_RECEIPT_PEPPER": {"intake"},
}
CREDENTIAL_VARS = {"MONGODB_URL", "AMQP_URL", *SECRET_HOLDERS}
SECRET_NAME = re.compile(r"(PASSWORD|PASS|SECRET|TOKEN|KEY|KEYS|PEPPER|PEM)$", re.IGNORECASE)
SECRET_VALUE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----|[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@|[A-Za-z0-9+/=]{40,}",
    re.IGNORECASE,
)
MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in _manifest_files():
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                docs.append((path, doc))
    return docs


def _of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in _documents() if doc["kind"] == kind}


def _memory_bytes(quantity: str) -> int:
    for unit, factor in MEMORY_UNITS.items():
        if quantity.endswith(unit):
            return int(quantity[: -len(unit)]) * factor
    return int(quantity)


def _cpu_millis(quantity: str) -> int:
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def _default(field: str) -> Any:
    """A ServiceSettings default as the code declares it, whatever this machine's environment says."""
    return ServiceSettings.model_fields[field].get_default(call_default_factory=True)


# --- Kubernetes ---------------------------------------------------------------------------------


def test_every_manifest_parses_and_names_itself() -> None:
    files = _manifest_files()
    assert files, "no manifests under deploy/k8s"
    for path, doc in _documents():
        assert {"apiVersion", "kind", "metadata"} <= set(doc), path.name
        assert doc["metadata"].get("name"), path.name
        assert "namespace" not in doc["metadata"] or doc["metadata"]["namespace"] == "tongpin", path.name


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(kustomization["resources"])
    present = {p.relative_to(K8S).as_posix() for p in _manifest_files()} - {"kustomization.yaml"}
    assert listed == present, f"unlisted: {present - listed}; missing files: {listed - present}"
    assert kustomization["namespace"] == "tongpin"


def test_every_manifest_is_valid_against_the_kubernetes_schema() -> None:
    # The schemas ship with kubernetes-validate, so this runs offline, on every machine, without a cluster.
    checked = 0
    for path, doc in _documents():
        if doc.get("kind") == "Kustomization":
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{path.name} {doc['kind']}/{doc['metadata']['name']}: {error.message} at {list(error.path)}")
        checked += 1
    assert checked >= 10  # every manifest under deploy/k8s but the kustomization


def test_the_schema_check_rejects_a_misspelt_field() -> None:
    # The check above can fail: an unknown field in a container (strict) and a port given as text.
    deployment = next(doc for _, doc in _documents() if doc["kind"] == "Deployment")
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, KUBERNETES_VERSION, strict=True)
    mistyped = copy.deepcopy(deployment)
    mistyped["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eighty"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(mistyped, KUBERNETES_VERSION, strict=True)


def test_a_deployment_and_a_service_per_service() -> None:
    deployments, services = _of_kind("Deployment"), _of_kind("Service")
    assert set(deployments) == set(PORTS)
    assert set(services) == set(PORTS)
    for name, port in PORTS.items():
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert [p["containerPort"] for p in container["ports"]] == [port]
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env["TONGPIN_PORT"] == str(port)
        assert env["TONGPIN_SERVICE_NAME"] == name
        assert container["image"].startswith(f"tongpin-{name}:")
        (service_port,) = services[name]["spec"]["ports"]
        assert service_port["port"] == port
        selector = services[name]["spec"]["selector"]
        assert selector.items() <= deployments[name]["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("name", sorted(PORTS))
def test_deployment_probes_resources_and_security(name: str) -> None:
    deployment = _of_kind("Deployment")[name]
    pod = deployment["spec"]["template"]["spec"]
    for container in pod["containers"]:
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        requests = container["resources"]["requests"]
        assert 0 < _cpu_millis(str(requests["cpu"])) <= 500, "CPU request should stay modest"
        assert 0 < _memory_bytes(str(requests["memory"])) <= 512 * 2**20, "memory request should stay modest"
        assert _memory_bytes(str(container["resources"]["limits"]["memory"])) >= _memory_bytes(str(requests["memory"]))
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False


def test_no_inline_secret_values() -> None:
    docs = _documents()
    for path, doc in docs:
        assert doc["kind"] != "Secret", f"{path.name}: Secrets are created out of band, not kept here"
        if doc["kind"] == "ConfigMap":
            for key, value in doc.get("data", {}).items():
                assert not SECRET_NAME.search(key), f"{path.name}: {key} belongs in a Secret"
                assert not SECRET_VALUE.search(str(value)), f"{path.name}: {key} looks like a secret"
    for name, deployment in _of_kind("Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for entry in container.get("env", []):
                if entry["name"] in CREDENTIAL_VARS or SECRET_NAME.search(entry["name"]):
                    assert "value" not in entry, f"{name}: {entry['name']} is inlined"
                    ref = entry["valueFrom"]["secretKeyRef"]
                    assert ref["name"] == f"tongpin-{name}", f"{name} must read only its own Secret"
                else:
                    assert not SECRET_VALUE.search(str(entry.get("value", ""))), entry["name"]


def test_each_secret_goes_only_to_the_service_that_needs_it() -> None:
    for name, deployment in _of_kind("Deployment").items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"] for e in container.get("env", [])}
        assert {"MONGODB_URL", "AMQP_URL"} <= env
        for secret, holders in SECRET_HOLDERS.items():
            assert (secret in env) == (name in holders), f"{name} and {secret}"
        jwks = "TONGPIN_JWKS_URL" in env
        assert jwks == (name != "counselling"), f"{name}: TONGPIN_JWKS_URL"


def test_configmap_holds_the_non_secret_settings() -> None:
    config = _of_kind("ConfigMap")
    assert config["tongpin-config"]["data"]["TONGPIN_HOST"] == "0.0.0.0"
    assert "TONGPIN_JWKS_URL" not in config["tongpin-config"]["data"]
    assert config["tongpin-auth"]["data"]["TONGPIN_JWKS_URL"] == "http://counselling:8103/auth/jwks"


def _selects(policy: dict[str, Any], name: str) -> bool:
    selector = policy["spec"]["podSelector"]
    if not selector:
        return True
    if selector.get("matchLabels", {}).get("app.kubernetes.io/name") == name:
        return True
    return any(
        e["key"] == "app.kubernetes.io/name" and e["operator"] == "In" and name in e["values"]
        for e in selector.get("matchExpressions", [])
    )


def test_network_policies_fence_the_services() -> None:
    policies = list(_of_kind("NetworkPolicy").values())
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert len(deny) == 1
    assert set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert not deny[0]["spec"].get("ingress") and not deny[0]["spec"].get("egress")

    for name in PORTS:
        ingress_peers = [
            peer
            for p in policies
            if _selects(p, name) and p["spec"]["podSelector"]
            for rule in p["spec"].get("ingress", [])
            for peer in rule["from"]
        ]
        assert ingress_peers, f"nothing may reach {name}"
        for peer in ingress_peers:
            namespace = peer.get("namespaceSelector", {}).get("matchLabels", {})
            pod = peer.get("podSelector", {})
            allowed = (
                namespace == {"kubernetes.io/metadata.name": "ingress-nginx"}
                or pod.get("matchLabels") == {"app.kubernetes.io/name": "tongpin-web"}
                # the JWKS fetch, the one HTTP call between services
                or (name == "counselling" and "matchExpressions" in pod)
            )
            assert allowed, f"{name} admits an unexpected peer: {peer}"

        egress_ports = {
            port_spec["port"]
            for p in policies
            if _selects(p, name) and p["spec"]["podSelector"]
            for rule in p["spec"].get("egress", [])
            for port_spec in rule.get("ports", [])
        }
        assert {5672, 27017, 53} <= egress_ports, f"{name} egress: {egress_ports}"
        # Only the JWKS fetch goes from one service to another.
        assert (PORTS["counselling"] in egress_ports) == (name != "counselling"), name


def test_ingress_routes_each_api_prefix_to_its_service() -> None:
    (ingress,) = _of_kind("Ingress").values()
    routes = {
        path["path"]: path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert routes == {f"/api/{name}(/|$)(.*)": name for name in PORTS}


# --- RabbitMQ -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    return json.loads((RABBITMQ / "definitions.json").read_text(encoding="utf-8"))


def test_exchanges(definitions: dict[str, Any]) -> None:
    exchanges = {e["name"]: e for e in definitions["exchanges"]}
    assert exchanges["tongpin.events"]["type"] == "topic"
    assert exchanges["tongpin.dlx"]["type"] == "direct"
    assert all(e["durable"] and not e["auto_delete"] for e in exchanges.values())
    assert _default("exchange") == "tongpin.events"


@pytest.mark.parametrize("service", sorted(PORTS))
def test_service_queues_match_the_settings(definitions: dict[str, Any], service: str) -> None:
    """The services redeclare these queues: any argument that differs is a PRECONDITION_FAILED."""
    queues = {q["name"]: q for q in definitions["queues"]}
    main = queues[f"{service}.events"]
    assert main["arguments"] == {
        "x-queue-type": "quorum",
        "x-delivery-limit": _default("delivery_limit"),
        "x-dead-letter-exchange": "tongpin.dlx",
        "x-dead-letter-routing-key": f"{service}.dlq",
    }
    retry_names = sorted(n for n in queues if n.startswith(f"{service}.retry."))
    expected_ms = sorted(round(delay * 1000) for delay in _default("retry_delays"))
    assert retry_names == sorted(f"{service}.retry.{ms}ms" for ms in expected_ms)
    for ms in expected_ms:
        assert queues[f"{service}.retry.{ms}ms"]["arguments"] == {
            "x-queue-type": "quorum",
            "x-message-ttl": ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": f"{service}.events",
        }
    assert queues[f"{service}.dlq"]["arguments"] == {"x-queue-type": "quorum"}
    for name in (f"{service}.events", f"{service}.dlq", *retry_names):
        assert queues[name]["durable"] is True and queues[name]["auto_delete"] is False
    dlq_bindings = [
        b for b in definitions["bindings"] if b["destination"] == f"{service}.dlq" and b["source"] == "tongpin.dlx"
    ]
    assert [b["routing_key"] for b in dlq_bindings] == [f"{service}.dlq"]


def test_event_bindings_are_left_to_the_services(definitions: dict[str, Any]) -> None:
    """Each service binds the types it consumes; oversight must never get a catch-all binding."""
    assert not [b for b in definitions["bindings"] if b["source"] == "tongpin.events"]


def test_policy_makes_dead_lettering_at_least_once(definitions: dict[str, Any]) -> None:
    (policy,) = definitions["policies"]
    pattern = re.compile(policy["pattern"])
    for service in PORTS:
        assert pattern.search(f"{service}.events")
        assert pattern.search(f"{service}.retry.5000ms")
        assert not pattern.search(f"{service}.dlq")
    assert policy["definition"] == {"dead-letter-strategy": "at-least-once", "overflow": "reject-publish"}


def test_boot_import_brings_its_own_users(definitions: dict[str, Any]) -> None:
    """Importing definitions at boot skips the default user, so the file must carry users."""
    users = {u["name"]: u for u in definitions["users"]}
    assert "guest" not in users
    assert "tongpin" in users and "administrator" in users["tongpin-admin"]["tags"]
    assert all(u["hashing_algorithm"] == "rabbit_password_hashing_sha256" for u in users.values())
    assert {(p["user"], p["vhost"]) for p in definitions["permissions"]} == {(u, "/") for u in users}
    env_example = (ROOT / "deploy" / "compose.env.example").read_text(encoding="utf-8")
    assert re.search(r"^AMQP_URL=amqp://tongpin:[^@]+@rabbitmq:5672/$", env_example, re.MULTILINE)


# --- MongoDB ------------------------------------------------------------------------------------


def test_mongo_users_are_limited_to_their_own_database() -> None:
    script = (MONGO / "create-users.js").read_text(encoding="utf-8")
    assert re.search(r"services\s*=\s*\['intake', 'triage', 'counselling', 'oversight'\]", script)
    assert "const dbName = `tongpin_${service}`;" in script
    assert "const roles = [{ role: 'readWrite', db: dbName }];" in script
    assert "db.getSiblingDB(dbName)" in script
    assert not re.search(r"role:\s*'(root|\w*AnyDatabase|cluster\w*|dbOwner|userAdmin)'", script)
    assert "process.env[variable]" in script, "passwords come from the environment, never the file"
    for service in PORTS:
        settings = ServiceSettings.model_construct(service_name=service, mongodb_database=None)
        assert settings.database_name == f"tongpin_{service}"
