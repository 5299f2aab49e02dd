"""Staff identity: password hashes (argon2), the login throttle, and signed bearer tokens (EdDSA)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Final

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from tongpin.counselling.domain.roles import unknown_roles

# Long enough for any passphrase, short enough that hashing cannot be used to burn CPU.
MAX_PASSWORD_LENGTH: Final = 1024
JWT_ALGORITHM: Final = "EdDSA"

# --- passwords ------------------------------------------------------------------------------------

# argon2-cffi's defaults follow RFC 9106's low-memory profile; tests pass a cheaper hasher.
_DEFAULT_HASHER: Final = PasswordHasher()


def hash_password(password: str, *, hasher: PasswordHasher | None = None) -> str:
    """An argon2id hash of the password (encoded with its parameters and salt)."""
    if not password:
        raise ValueError("password must not be empty")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    return (hasher or _DEFAULT_HASHER).hash(password)


def verify_password(*, password_hash: str, password: str, hasher: PasswordHasher | None = None) -> bool:
    """True when the password matches the hash; False for a mismatch or an unreadable hash."""
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return (hasher or _DEFAULT_HASHER).verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(*, password_hash: str, hasher: PasswordHasher | None = None) -> bool:
    """True when the hash was made with other parameters than the hasher's (rehash at next login)."""
    try:
        return (hasher or _DEFAULT_HASHER).check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    return _DEFAULT_HASHER.hash("tongpin-no-such-account")


def verify_unknown_account(*, password: str) -> bool:
    """Spend the same time as a real check for a login name that does not exist; always False."""
    # Without this, a fast refusal would tell an attacker which login names exist.
    verify_password(password_hash=_dummy_hash(), password=password or "x")
    return False


# --- login throttle -------------------------------------------------------------------------------
#
# Two counters decide whether a login attempt may be checked: one for the account and the client it
# comes from, one for the account from everywhere. An attempt is counted as a failure *before* its
# password is checked (and refunded on success), so parallel attempts cannot all slip in under a count
# read before any of them was recorded. Nothing locks: the client's own delays grow without a bound
# worth having, while the account's delays (what a stranger can impose on its owner) are capped.


@dataclass(frozen=True)
class ThrottleCounter:
    """One counter as stored: failures counted in the window, the last one's time, when the next may come."""

    failures: int = 0
    last_at: datetime | None = None
    next_at: datetime | None = None


@dataclass(frozen=True)
class ThrottleDecision:
    """Whether an attempt may be checked now; if so, the counter after counting it as a failure."""

    allowed: bool
    counter: ThrottleCounter
    retry_at: datetime | None = None

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the next attempt may be checked (at least 1)."""
        if self.retry_at is None:
            return 1
        return max(1, math.ceil((self.retry_at - now).total_seconds()))


@dataclass(frozen=True, kw_only=True)
class LoginThrottle:
    """Growing delays after failed logins, per account and client, and for the account as a whole."""

    base_delay: timedelta = timedelta(seconds=1)
    window: timedelta = timedelta(minutes=15)
    client_max_delay: timedelta = timedelta(minutes=15)
    account_free_failures: int = 10
    account_max_delay: timedelta = timedelta(seconds=30)

    def client_delay(self, failures: int) -> timedelta:
        """The wait one client has after that many failures on one account: base, 2×base, 4×base …"""
        return _doubling(self.base_delay, failures, cap=self.client_max_delay)

    def account_delay(self, failures: int) -> timedelta:
        """The wait every client has after that many failures on the account: none until the free ones are used."""
        return _doubling(self.base_delay, failures - self.account_free_failures, cap=self.account_max_delay)

    def claim(self, counter: ThrottleCounter, *, now: datetime, scope: str) -> ThrottleDecision:
        """Count one more attempt on a counter ("client" or "account" scope), or refuse it unchecked."""
        if counter.next_at is not None and now < counter.next_at:
            return ThrottleDecision(allowed=False, counter=counter, retry_at=counter.next_at)
        recent = counter.last_at is not None and now - counter.last_at < self.window
        failures = (counter.failures if recent else 0) + 1
        delay = self.client_delay(failures) if scope == "client" else self.account_delay(failures)
        return ThrottleDecision(allowed=True, counter=ThrottleCounter(failures=failures, last_at=now,
                                                                      next_at=now + delay))


def _doubling(base: timedelta, n: int, *, cap: timedelta) -> timedelta:
    if n <= 0:
        return timedelta(0)
    return min(base * (2 ** min(n - 1, 40)), cap)


# --- bearer tokens --------------------------------------------------------------------------------


def generate_signing_key() -> str:
    """A fresh Ed25519 private key as unencrypted PKCS#8 PEM."""
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )
        .decode("ascii")
    )


def public_jwk(*, public_key: Ed25519PublicKey, kid: str) -> dict[str, str]:
    """The JWK (OKP, Ed25519) of a public key, with its key id."""
    jwk: dict[str, str] = OKPAlgorithm.to_jwk(public_key, as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", "alg": JWT_ALGORITHM}


def _load_public_pem(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("public key must be Ed25519")
    return key


class TokenIssuer:
    """Signs staff bearer tokens with an Ed25519 key and publishes the public half as a JWKS."""

    def __init__(
        self,
        *,
        private_key_pem: str,
        kid: str,
        issuer: str,
        audience: str,
        ttl: timedelta | int,
        retired_public_keys: Mapping[str, str] | None = None,
    ) -> None:
        key = serialization.load_pem_private_key(private_key_pem.encode("ascii"), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("signing key must be Ed25519")
        self._key = key
        self.kid = kid
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)
        if self.ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        # Keys rotated out stay published until the tokens they signed have expired.
        self._retired = {k: _load_public_pem(pem) for k, pem in (retired_public_keys or {}).items() if k != kid}

    @property
    def public_key_pem(self) -> str:
        """The current public key as SubjectPublicKeyInfo PEM."""
        return (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    def issue(
        self, *, subject: str, roles: Sequence[str], name: str, now: datetime | None = None, unit: str | None = None,
    ) -> str:
        """A signed token for one staff member: sub, roles, name, iat, exp, iss, aud, jti (and unit, if any)."""
        unknown = unknown_roles(roles)
        if unknown:
            raise ValueError(f"unknown roles: {', '.join(unknown)}")
        issued = (now or datetime.now(UTC)).replace(microsecond=0)
        claims: dict[str, Any] = {
            "sub": subject,
            "roles": list(roles),
            "name": name,
            "iat": int(issued.timestamp()),
            "exp": int((issued + self.ttl).timestamp()),
            "iss": self.issuer,
            "aud": self.audience,
            "jti": uuid.uuid4().hex,
        }
        if unit:
            claims["unit"] = unit  # other services scope what staff see by it (the reading list)
        return jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM, headers={"kid": self.kid})

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWKS document: the current key first, then any retired ones."""
        keys = [public_jwk(public_key=self._key.public_key(), kid=self.kid)]
        keys += [public_jwk(public_key=key, kid=kid) for kid, key in self._retired.items()]
        return {"keys": keys}
