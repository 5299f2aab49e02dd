"""Staff identity: argon2 hashes, the login throttle, and EdDSA tokens verified through the JWKS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from argon2 import PasswordHasher

from tongpin.counselling.domain.identity import (
    LoginThrottle,
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


def failures(*minutes: float) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in minutes]


def test_no_failures_no_delay() -> None:
    decision = LoginThrottle().assess(failures=[], now=T0)
    assert decision.allowed
    assert (decision.delay, decision.locked, decision.retry_at) == (timedelta(0), False, None)


def test_delays_grow_before_the_lock() -> None:
    throttle = LoginThrottle()
    assert [throttle.delay_after(n) for n in range(6)] == [timedelta(seconds=s) for s in (0, 1, 2, 4, 8, 16)]
    # Four failures a second apart: the fourth asks for 8 s from itself.
    fails = [T0 + timedelta(seconds=s) for s in range(4)]
    decision = throttle.assess(failures=fails, now=T0 + timedelta(seconds=3))
    assert not decision.locked
    assert decision.delay == timedelta(seconds=8)
    assert decision.retry_at == T0 + timedelta(seconds=11)
    assert not decision.allowed
    later = throttle.assess(failures=fails, now=T0 + timedelta(seconds=11))
    assert later.allowed


def test_delay_is_capped() -> None:
    throttle = LoginThrottle(max_failures=100)
    assert throttle.delay_after(40) == timedelta(seconds=30)


def test_five_failures_in_fifteen_minutes_lock_for_fifteen_minutes() -> None:
    throttle = LoginThrottle()
    fails = failures(0, 1, 2, 3, 10)
    decision = throttle.assess(failures=fails, now=T0 + timedelta(minutes=10))
    assert decision.locked
    assert not decision.allowed
    assert decision.retry_at == T0 + timedelta(minutes=25)
    assert decision.delay == timedelta(minutes=15)
    assert throttle.assess(failures=fails, now=T0 + timedelta(minutes=24, seconds=59)).locked
    after = throttle.assess(failures=fails, now=T0 + timedelta(minutes=25))
    assert after.allowed
    assert after.delay == timedelta(0)


def test_failures_spread_wider_than_the_window_do_not_lock() -> None:
    decision = LoginThrottle().assess(failures=failures(0, 4, 8, 12, 16), now=T0 + timedelta(minutes=16))
    assert not decision.locked
    # Only the four failures within the last 15 minutes count: an 8 s delay.
    assert decision.delay == timedelta(seconds=8)


def test_after_a_lock_the_count_starts_again() -> None:
    throttle = LoginThrottle(lockout=timedelta(minutes=5))
    fails = failures(0, 1, 2, 3, 4)  # locked until minute 9
    fails.append(T0 + timedelta(minutes=10))
    decision = throttle.assess(failures=fails, now=T0 + timedelta(minutes=10))
    assert not decision.locked
    assert decision.delay == timedelta(seconds=1)
    # Attempts recorded while locked do not count towards the next lock.
    during = [*failures(0, 1, 2, 3, 4), *failures(5, 6, 7, 8)]
    assert throttle.assess(failures=during, now=T0 + timedelta(minutes=9)).allowed
    # Five more after the lock ends lock again.
    again = [*failures(0, 1, 2, 3, 4), *failures(10, 10.1, 10.2, 10.3, 10.4)]
    relocked = throttle.assess(failures=again, now=T0 + timedelta(minutes=10.5))
    assert relocked.locked
    assert relocked.retry_at == T0 + timedelta(minutes=15.4)


def test_future_failure_times_are_ignored() -> None:
    assert LoginThrottle().assess(failures=failures(5, 6, 7, 8, 9), now=T0).allowed


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
