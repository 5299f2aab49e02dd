"""OpenAPI documents that say how to authenticate and how every refusal looks.

Each operation lists the security it accepts (a bearer token; an API key where machine clients are
admitted; nothing for public routes) and documents its refusals as RFC 9457 problems: 401 and 403
where login is needed, 404 where it names a record, 409 where it changes one, 422 and 503 everywhere,
and 413 or 429 where a route declares them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from tongpin.shared.routes import route_roles

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "reason": {"type": "string"}}, "additionalProperties": True}},
    },
    "additionalProperties": True,
}
SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "a staff token from counselling's POST /auth/token (EdDSA, checked against "
                                  "its key set /auth/jwks)"},
    "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                   "description": "a machine client's key (TONGPIN_API_KEYS); it acts with the system role"},
}
REFUSALS = {
    "401": "no valid bearer token or API key (or the account was deactivated since the token was issued)",
    "403": "the caller's roles, or need-to-know on the record, do not admit this",
    "404": "no such record",
    "409": "the record changed since it was read, or the change conflicts with another",
    "413": "the request body is too large",
    "422": "invalid input: the problem names each field at fault; nothing was written",
    "429": "too many attempts: wait as Retry-After says",
    "503": "a store or the broker is unavailable: retry after Retry-After",
}
_PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_WRITES = {"post", "put", "patch", "delete"}


def document_security(app: FastAPI) -> None:
    """Make the app's OpenAPI document carry its security schemes and documented refusals."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        components["schemas"].pop("HTTPValidationError", None)
        components["schemas"].pop("ValidationError", None)
        components["securitySchemes"] = SECURITY_SCHEMES
        declared = {(r.method.lower(), r.path): r.roles for r in route_roles(app)}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if method not in {"get", "post", "put", "patch", "delete"}:
                    continue
                roles = declared.get((method, path))
                responses = operation.setdefault("responses", {})
                codes = {"422", "503"}
                if roles is None:
                    operation["security"] = []
                else:
                    operation["security"] = [{"bearerAuth": []}] + ([{"apiKeyAuth": []}] if "system" in roles else [])
                    codes |= {"401", "403"}
                    operation["description"] = (operation.get("description", "") + "\n\nRoles: "
                                                + ", ".join(sorted(roles))).strip()
                if "{" in path:
                    codes.add("404")
                if method in _WRITES:
                    codes.add("409")
                for code in codes | {c for c in responses if c in REFUSALS}:
                    responses[code] = {"description": REFUSALS[code], "content": _PROBLEM_CONTENT}
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
