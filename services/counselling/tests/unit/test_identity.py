"""Staff identity: argon2 hashes, the login throttle, and EdDSA tokens verified through the JWKS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from argon2 import PasswordHasher

from tongpin.counselling.domain.identity import (
    LoginThrottle,
    ThrottleCounter,
    TokenIssuer,
    generate_signing_key,
    hash_password,
    needs_rehash,
    verify_password,
    verify_unknown_account,
)

pytestmark = pytest.mark.unit

# Cheap parameters so the tests stay fast; production uses argon2-cffi's defaults.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


# --- passwords ------------------------------------------------------------------------------------


def test_hash_and_verify() -> None:
    hashed = hash_password("正确的密码 horse battery", hasher=FAST)
    assert hashed.startswith("$argon2id$")
    assert "正确的密码" not in hashed
    assert verify_password(password_hash=hashed, password="正确的密码 horse battery", hasher=FAST)
    assert not verify_password(password_hash=hashed, password="wrong", hasher=FAST)
    assert not verify_password(password_hash="not a hash", password="x", hasher=FAST)
    assert not verify_password(password_hash=hashed, password="", hasher=FAST)


def test_same_password_gets_different_salts() -> None:
    assert hash_password("pw", hasher=FAST) != hash_password("pw", hasher=FAST)


def test_needs_rehash_when_parameters_change() -> None:
    hashed = hash_password("pw", hasher=FAST)
    assert not needs_rehash(password_hash=hashed, hasher=FAST)
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    assert needs_rehash(password_hash=hashed, hasher=stronger)
    # The old hash still verifies with the new hasher, so login can upgrade it.
    assert verify_password(password_hash=hashed, password="pw", hasher=stronger)
    assert needs_rehash(password_hash="garbage", hasher=FAST)


def test_bad_passwords_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_password("", hasher=FAST)
    with pytest.raises(ValueError, match="at most"):
        hash_password("x" * 1025, hasher=FAST)
    assert not verify_password(password_hash=hash_password("x", hasher=FAST), password="x" * 1025, hasher=FAST)


def test_unknown_account_check_is_always_false() -> None:
    assert verify_unknown_account(password="anything") is False
    assert verify_unknown_account(password="") is False


# --- throttle -------------------------------------------------------------------------------------


def counted(throttle: LoginThrottle, times: list[float], *, scope: str = "client") -> list[bool]:
    """Attempts at these seconds after T0, each claimed on one counter; whether each was let through."""
    counter = ThrottleCounter()
    allowed = []
    for second in times:
        decision = throttle.claim(counter, now=T0 + timedelta(seconds=second), scope=scope)
        allowed.append(decision.allowed)
        counter = decision.counter
    return allowed


def test_the_first_attempt_is_let_through_and_counted() -> None:
    decision = LoginThrottle().claim(ThrottleCounter(), now=T0, scope="client")
    assert decision.allowed
    assert decision.counter == ThrottleCounter(failures=1, last_at=T0, next_at=T0 + timedelta(seconds=1))


def test_client_delays_double_after_each_failure_and_refusals_do_not_count() -> None:
    throttle = LoginThrottle()
    assert [throttle.client_delay(n) for n in range(6)] == [timedelta(seconds=s) for s in (0, 1, 2, 4, 8, 16)]
    # Failures at 0 s (wait 1 s), 1 s (wait 2 s), 3 s (wait 4 s); the tries in between are refused unchecked.
    assert counted(throttle, [0, 0.5, 1, 2, 3, 6.9, 7]) == [True, False, True, False, True, False, True]
    refused = throttle.claim(ThrottleCounter(failures=3, last_at=T0, next_at=T0 + timedelta(seconds=4)),
                             now=T0 + timedelta(seconds=1.5), scope="client")
    assert not refused.allowed and refused.retry_at == T0 + timedelta(seconds=4)
    assert refused.retry_after(T0 + timedelta(seconds=1.5)) == 3


def test_client_delays_have_a_high_cap_and_never_lock() -> None:
    throttle = LoginThrottle()
    assert throttle.client_delay(11) == timedelta(seconds=900)
    assert throttle.client_delay(400) == timedelta(seconds=900)


def test_the_account_is_slowed_only_after_its_free_failures_and_only_a_little() -> None:
    throttle = LoginThrottle(account_free_failures=3)
    assert [throttle.account_delay(n) for n in range(7)] == [timedelta(seconds=s) for s in (0, 0, 0, 0, 1, 2, 4)]
    assert throttle.account_delay(100) == timedelta(seconds=30)
    assert counted(throttle, [0, 0, 0, 0, 0.5, 1], scope="account") == [True, True, True, True, False, True]


def test_failures_older_than_the_window_are_forgotten() -> None:
    throttle = LoginThrottle(window=timedelta(minutes=15))
    old = ThrottleCounter(failures=9, last_at=T0, next_at=T0 + timedelta(seconds=256))
    decision = throttle.claim(old, now=T0 + timedelta(minutes=16), scope="client")
    assert decision.allowed and decision.counter.failures == 1


# --- tokens ---------------------------------------------------------------------------------------


def issuer(**changes: object) -> TokenIssuer:
    fields: dict[str, object] = {
        "private_key_pem": generate_signing_key(), "kid": "2025-03", "issuer": "tongpin-counselling",
        "audience": "tongpin", "ttl": timedelta(hours=8),
    }
    return TokenIssuer(**{**fields, **changes})  # type: ignore[arg-type]


def test_token_verifies_through_the_jwks() -> None:
    signer = issuer()
    token = signer.issue(subject="staff-1", roles=["psychologist"], name="李心怡")
    jwks = signer.jwks()
    assert jwks["keys"][0]["kty"] == "OKP"
    assert jwks["keys"][0]["crv"] == "Ed25519"
    assert jwks["keys"][0]["kid"] == "2025-03"
    assert "d" not in jwks["keys"][0]  # never the private half
    assert jwt.get_unverified_header(token)["kid"] == "2025-03"
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key=key, algorithms=["EdDSA"], audience="tongpin", issuer="tongpin-counselling")
    assert claims["sub"] == "staff-1"
    assert claims["roles"] == ["psychologist"]
    assert claims["name"] == "李心怡"
    assert claims["exp"] - claims["iat"] == 8 * 3600
    assert len(claims["jti"]) == 32


def test_a_token_names_the_unit_of_staff_who_have_one() -> None:
    signer = issuer()
    key = jwt.PyJWK(signer.jwks()["keys"][0])
    with_unit = signer.issue(subject="s", roles=["political_worker"], name="n", unit="unit-07")
    without = signer.issue(subject="s", roles=["centre_coordinator"], name="n")
    assert jwt.decode(with_unit, key=key, algorithms=["EdDSA"], audience="tongpin")["unit"] == "unit-07"
    assert "unit" not in jwt.decode(without, key=key, algorithms=["EdDSA"], audience="tongpin")


def test_each_token_has_its_own_jti() -> None:
    signer = issuer()
    key = jwt.PyJWK(signer.jwks()["keys"][0])
    jtis = {
        jwt.decode(
            signer.issue(subject="s", roles=["admin"], name="n"), key=key, algorithms=["EdDSA"], audience="tongpin"
        )["jti"]
        for _ in range(3)
    }
    assert len(jtis) == 3


def test_expired_wrong_audience_and_foreign_keys_are_rejected() -> None:
    signer = issuer(ttl=60)
    key = jwt.PyJWK(signer.jwks()["keys"][0])
    old = signer.issue(subject="s", roles=["auditor"], name="n", now=datetime.now(UTC) - timedelta(minutes=5))
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(old, key=key, algorithms=["EdDSA"], audience="tongpin")
    token = signer.issue(subject="s", roles=["auditor"], name="n")
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key=key, algorithms=["EdDSA"], audience="someone-else")
    other = jwt.PyJWK(issuer().jwks()["keys"][0])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, key=other, algorithms=["EdDSA"], audience="tongpin")


def test_retired_keys_stay_published_during_rotation() -> None:
    old = issuer(kid="2025-01")
    token = old.issue(subject="s", roles=["admin"], name="n")
    new = issuer(kid="2025-03", retired_public_keys={"2025-01": old.public_key_pem})
    kids = [k["kid"] for k in new.jwks()["keys"]]
    assert kids == ["2025-03", "2025-01"]
    key = jwt.PyJWKSet.from_dict(new.jwks())["2025-01"]
    assert jwt.decode(token, key=key, algorithms=["EdDSA"], audience="tongpin")["sub"] == "s"


def test_issuer_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        issuer().issue(subject="s", roles=["superuser"], name="n")
    with pytest.raises(ValueError, match="ttl"):
        issuer(ttl=0)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(ValueError, match="Ed25519"):
        issuer(private_key_pem=pem)


def test_system_role_may_be_issued() -> None:
    token = issuer().issue(subject="client-intake", roles=["system"], name="intake")
    assert jwt.decode(token, options={"verify_signature": False})["roles"] == ["system"]
