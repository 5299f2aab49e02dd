"""Which roles each route of an app declares (Roles(...) or Public()), read from the app itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from tongpin.shared.auth import Public, Roles

# Operational routes every service has; they carry no data and are open (health) or scraped (metrics).
OPEN_OPS = {"/healthz", "/readyz", "/metrics"}


@dataclass(frozen=True)
class RouteRoles:
    method: str
    path: str
    roles: frozenset[str] | None  # None: public

    @property
    def public(self) -> bool:
        return self.roles is None


def _declared(route: APIRoute) -> frozenset[str] | bool | None:
    """The roles a route admits, None for Public(), False when it declares nothing."""
    found: frozenset[str] | bool | None = False
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Roles):
            found = dep.call.roles if not isinstance(found, frozenset) else found & dep.call.roles
        elif isinstance(dep.call, Public) and found is False:
            found = None
        stack.extend(dep.dependencies)
    return found


def _flat_routes(routes: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(path prefix, route) pairs, looking inside included routers (FastAPI >= 0.165 keeps them nested)."""
    flat: list[tuple[str, Any]] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            flat.extend(_flat_routes(inner.routes, prefix + str(getattr(context, "prefix", "") or "")))
        else:
            flat.append((prefix, route))
    return flat


def route_roles(app: FastAPI) -> list[RouteRoles]:
    """Every API route with the roles it declares; raises if any route declares none."""
    table, missing = [], []
    for prefix, route in _flat_routes(app.routes):
        if not isinstance(route, APIRoute) or prefix + route.path in OPEN_OPS:
            continue
        declared = _declared(route)
        if declared is False:
            missing.append(f"{sorted(route.methods or ())} {prefix}{route.path}")
            continue
        for method in sorted(set(route.methods or ()) - {"HEAD", "OPTIONS"}):
            table.append(RouteRoles(method, prefix + route.path,
                                    declared if isinstance(declared, frozenset) else None))
    if missing:
        raise AssertionError(f"routes that declare no roles: {missing}")
    return table
