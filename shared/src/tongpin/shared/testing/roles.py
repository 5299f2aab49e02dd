"""The endpoint x role matrix: docs/access-policy.md says who may call what; each route must declare exactly
that, and each role must get exactly that from the running service."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from tongpin.shared.auth import ALL_ROLES
from tongpin.shared.routes import OPEN_OPS, RouteRoles, route_roles

__all__ = ["OPEN_OPS", "PolicyRow", "RouteRoles", "load_policy", "policy_mismatches", "route_roles", "walk_matrix"]

# The policy, written once for people to read; found from the checkout this package is installed from.
POLICY_FILE = Path(__file__).resolve().parents[5] / "docs" / "access-policy.md"
REFUSED = "—"


@dataclass(frozen=True)
class PolicyRow:
    """One route of the written policy: the anonymous column and each role's reach (any/team/own/—)."""

    method: str
    path: str
    anonymous: str
    reach: dict[str, str]

    @property
    def public(self) -> bool:
        return self.anonymous != REFUSED

    @property
    def admitted(self) -> frozenset[str]:
        return frozenset(role for role, reach in self.reach.items() if reach != REFUSED)


def load_policy(service: str, *, path: Path = POLICY_FILE) -> dict[tuple[str, str], PolicyRow]:
    """The rows of one service's table in docs/access-policy.md, by (method, path)."""
    rows: dict[tuple[str, str], PolicyRow] = {}
    header: list[str] = []
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            inside = line[3:].strip() == service
            header = []
            continue
        if not inside or not line.startswith("|"):
            continue
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if not header:
            header = cells
            continue
        if set(cells[0]) <= {"-"}:
            continue
        values = dict(zip(header, cells, strict=True))
        rows[(values["method"], values["path"])] = PolicyRow(
            method=values["method"], path=values["path"], anonymous=values["anonymous"],
            reach={role: values[role] for role in ALL_ROLES})
    if not rows:
        raise AssertionError(f"no table for {service!r} in {path}")
    return rows


def policy_mismatches(app: FastAPI, service: str) -> list[str]:
    """Where the routes' own declarations and the written policy disagree."""
    policy = load_policy(service)
    declared = {(r.method, r.path): r for r in route_roles(app)}
    problems = [f"{m} {p}: served but not in docs/access-policy.md" for m, p in declared.keys() - policy.keys()]
    problems += [f"{m} {p}: in docs/access-policy.md but not served" for m, p in policy.keys() - declared.keys()]
    for key in declared.keys() & policy.keys():
        row, route = policy[key], declared[key]
        expected = None if row.public else row.admitted
        if route.roles != expected:
            problems.append(f"{key[0]} {key[1]}: the code admits {sorted(route.roles or ['anyone'])}, "
                            f"the policy {sorted(expected or ['anyone'])}")
    return sorted(problems)


async def walk_matrix(
    client: httpx.AsyncClient,
    app: FastAPI,
    *,
    service: str,
    headers_for: Any,
    path_values: dict[str, str] | None = None,
) -> list[str]:
    """Check the routes against docs/access-policy.md, then call every route as every role (and with no
    token) and return the mismatches with the written policy.

    A role the policy refuses must get 403 (401 without a token); a role it admits must get past
    authorisation (anything but 401/403 — bodies here are empty, so 404 or 422 are expected).
    """
    problems = policy_mismatches(app, service)
    policy = load_policy(service)
    values = path_values or {}
    for _, row in sorted(policy.items()):
        path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "unknown-id"), row.path)
        anonymous = await client.request(row.method, path)
        if row.public:
            if anonymous.status_code in (401, 403):
                problems.append(f"{row.method} {row.path}: public route refused an anonymous caller")
            continue
        if anonymous.status_code != 401:
            problems.append(f"{row.method} {row.path}: no token gave {anonymous.status_code}, not 401")
        for role in ALL_ROLES:
            response = await client.request(row.method, path, headers=headers_for(role))
            admitted = role in row.admitted
            if admitted and response.status_code in (401, 403):
                problems.append(f"{row.method} {row.path}: the policy admits {role}, who got {response.status_code}")
            if not admitted and response.status_code != 403:
                problems.append(f"{row.method} {row.path}: the policy refuses {role}, who got {response.status_code}")
            if response.status_code >= 500:
                problems.append(f"{row.method} {row.path}: {role} caused {response.status_code}")
    return problems
