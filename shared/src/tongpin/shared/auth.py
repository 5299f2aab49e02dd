"""Bearer-token verification with roles, and the role declaration every endpoint carries.

Tokens are JWTs signed by counselling's staff directory (or a bureau's own identity provider) and
verified against its JWKS. Machine clients may instead present an API key from settings and act
with the ``system`` role. Every route declares the roles it admits with ``Roles(...)``, or says it
is open to the public with ``Public()``; tests walk every route and check that declaration.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Problem
from tongpin.shared.settings import ServiceSettings

log = get_logger(__name__)

STAFF_ROLES = ("political_worker", "psychologist", "centre_coordinator", "committee_member", "auditor", "admin")
ALL_ROLES = (*STAFF_ROLES, "system")
ALGORITHMS = ["EdDSA", "ES256", "RS256"]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff member (from a token) or a machine client (from an API key)."""

    subject: str
    roles: frozenset[str]
    name: str = ""
    kind: str = "staff"
    claims: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def has_any(self, roles: frozenset[str] | set[str] | tuple[str, ...]) -> bool:
        return bool(self.roles & set(roles))


class Unauthenticated(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(401, detail, headers={"WWW-Authenticate": 'Bearer realm="tongpin"'})


class Forbidden(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(403, detail)


class TokenVerifier:
    """Verifies bearer tokens against a JWKS (inline, or fetched and cached from a URL) or a PEM key."""

    def __init__(self, settings: ServiceSettings, *, http: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._http = http
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._api_keys = _parse_api_keys(settings)
        if settings.jwks_json:
            self._load_jwks(json.loads(settings.jwks_json))
        elif settings.jwt_public_key_pem:
            self._keys[""] = jwt.PyJWK.from_dict(_pem_to_jwk(settings.jwt_public_key_pem))

    def _load_jwks(self, document: dict[str, Any]) -> None:
        keys = {}
        for entry in document.get("keys", []):
            try:
                keys[entry.get("kid", "")] = jwt.PyJWK.from_dict(entry)
            except jwt.PyJWTError as exc:
                log.warning("auth.bad_jwk", kid=entry.get("kid"), error=str(exc))
        self._keys = keys

    async def _refresh(self, *, force: bool = False) -> None:
        if not self._settings.jwks_url:
            return
        if not force and self._keys and time.monotonic() - self._fetched_at < 300:
            return
        if force and time.monotonic() - self._fetched_at < 5:
            return  # an unknown kid must not let callers hammer the identity provider
        client = self._http or httpx.AsyncClient(timeout=5)
        try:
            response = await client.get(self._settings.jwks_url)
            response.raise_for_status()
            self._load_jwks(response.json())
            self._fetched_at = time.monotonic()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("auth.jwks_fetch_failed", url=self._settings.jwks_url, error=str(exc))
        finally:
            if self._http is None:
                await client.aclose()

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("the bearer token is malformed") from exc
        kid = header.get("kid", "")
        await self._refresh()
        key = self._keys.get(kid) or (self._keys.get("") if len(self._keys) == 1 else None)
        if key is None:
            await self._refresh(force=True)
            key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated("the bearer token was signed by an unknown key")
        try:
            claims = jwt.decode(
                token, key=key, algorithms=ALGORITHMS, audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer, options={"require": ["exp", "sub", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the bearer token has expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the bearer token is not valid: {exc}") from exc
        roles = claims.get("roles") or []
        if not isinstance(roles, list):
            raise Unauthenticated("the bearer token's roles claim is not a list")
        return Principal(subject=str(claims["sub"]), roles=frozenset(map(str, roles)),
                         name=str(claims.get("name", "")), kind="staff", claims=claims)

    def verify_api_key(self, presented: str) -> Principal | None:
        digest = hashlib.sha256(presented.encode()).digest()
        for name, expected in self._api_keys:
            if hmac.compare_digest(digest, expected):
                return Principal(subject=f"client:{name}", roles=frozenset({"system"}), name=name, kind="system")
        return None


def _parse_api_keys(settings: ServiceSettings) -> list[tuple[str, bytes]]:
    keys = []
    for secret in settings.api_keys:
        name, _, key = secret.get_secret_value().partition(":")
        if key:
            keys.append((name, hashlib.sha256(key.encode()).digest()))
    return keys


def _pem_to_jwk(pem: str) -> dict[str, Any]:
    from jwt.algorithms import get_default_algorithms

    for alg_name in ("EdDSA", "ES256", "RS256"):
        alg = get_default_algorithms()[alg_name]
        try:
            key = alg.prepare_key(pem)
            jwk = json.loads(alg.to_jwk(key))
            jwk["alg"] = alg_name
            return jwk
        except Exception:  # noqa: S112 - try the next algorithm family
            continue
    raise ValueError("jwt_public_key_pem is not an Ed25519, P-256 or RSA public key")


_bearer = HTTPBearer(auto_error=False)


async def current_principal(request: Request) -> Principal:
    """The authenticated caller, from a bearer token or an X-API-Key header; 401 otherwise.

    A staff token is refused too when the service has heard (staff.updated) that its holder was
    deactivated or no longer holds a role the token claims.
    """
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    verifier: TokenVerifier = request.app.state.token_verifier
    api_key = request.headers.get("x-api-key")
    principal: Principal | None = None
    if api_key:
        principal = verifier.verify_api_key(api_key)
        if principal is None:
            raise Unauthenticated("the API key is not recognised")
    else:
        credentials: HTTPAuthorizationCredentials | None = await _bearer(request)
        if credentials is None:
            raise Unauthenticated("a bearer token is required")
        principal = await verifier.verify(credentials.credentials)
    standing = getattr(request.app.state, "staff_standing", None)
    if standing is not None and principal.kind == "staff":
        known = await standing(principal.subject)
        if known is not None and (not known.active or not principal.roles <= known.roles):
            log.warning("auth.stale_token", subject=principal.subject, active=known.active)
            raise Unauthenticated("this account was deactivated or its roles changed since the token was issued; "
                                  "log in again")
    request.state.principal = principal
    return principal


class Roles:
    """Dependency that admits only callers holding one of the given roles; declares them for the route."""

    def __init__(self, *roles: str) -> None:
        unknown = set(roles) - set(ALL_ROLES)
        if unknown or not roles:
            raise ValueError(f"unknown or missing roles: {sorted(unknown)}")
        self.roles = frozenset(roles)

    async def __call__(self, request: Request) -> Principal:
        principal = await current_principal(request)
        if not principal.has_any(self.roles):
            log.warning("auth.forbidden", subject=principal.subject, roles=sorted(principal.roles),
                        path=request.url.path, admitted=sorted(self.roles))
            raise Forbidden(f"this action needs one of the roles: {', '.join(sorted(self.roles))}")
        return principal


class Public:
    """Dependency that declares a route open without login (public form, webhook with its own signature)."""

    roles: frozenset[str] = frozenset()

    async def __call__(self) -> None:
        return None
