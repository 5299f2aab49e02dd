"""The staff directory (staff.updated for triage, never a password hash out) and login under the throttle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from tongpin.counselling.domain.identity import LoginThrottle, TokenIssuer, generate_signing_key
from tongpin.counselling.handlers import staff
from tongpin.shared.problems import Conflict, NotFound, Problem

pytestmark = pytest.mark.unit

HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer(private_key_pem=generate_signing_key(), kid="k1", issuer="tongpin", audience="tongpin",
                       ttl=600)


async def _create(world, username: str = "wang", **fields) -> dict:
    values = {"name": "王老师", "password": "correct horse", "roles": ["political_worker"], "skills": [],
              "unit": "unit-a", "on_call": False, "staff_id": None, **fields}
    return await staff.create_staff(staff=world.staff, hasher=HASHER, username=username, trace=world.trace, **values)


async def test_a_new_account_is_stored_hashed_and_announced(world) -> None:
    doc = await _create(world, staff_id="staff-wang")
    assert "password_hash" not in doc and doc["name"] == "王老师"
    stored = await world.staff.get("staff-wang")
    assert stored["password_hash"].startswith("$argon2id$") and "correct horse" not in stored["password_hash"]
    [announced] = world.staged("staff")
    assert announced.type == "staff.updated.v1" and announced.data["roles"] == ["political_worker"]
    assert "password" not in str(announced.data)
    with pytest.raises(Conflict):
        await _create(world)


async def test_an_update_needs_the_version_read_and_is_announced(world) -> None:
    await _create(world, staff_id="staff-wang")
    with pytest.raises(Conflict):
        await staff.update_staff(staff=world.staff, hasher=HASHER, staff_id="staff-wang",
                                 changes={"on_call": True}, version=5, trace=world.trace)
    with pytest.raises(NotFound):
        await staff.update_staff(staff=world.staff, hasher=HASHER, staff_id="staff-nope", changes={},
                                 version=None, trace=world.trace)
    doc = await staff.update_staff(staff=world.staff, hasher=HASHER, staff_id="staff-wang",
                                   changes={"on_call": True, "password": "new password!"}, version=1,
                                   trace=world.trace)
    assert (doc["on_call"], doc["version"]) == (True, 2) and "password_hash" not in doc
    assert world.staged("staff")[-1].data["on_call"] is True


async def _login(world, issuer, password: str, *, username: str = "wang", client: str = "10.0.0.1"):
    return await staff.login(staff=world.staff, hasher=HASHER, throttle=LoginThrottle(), issuer=issuer,
                             username=username, password=password, client=client)


async def test_a_right_password_gets_a_token_and_every_attempt_is_recorded(world, issuer) -> None:
    await _create(world, staff_id="staff-wang")
    result = await _login(world, issuer, "correct horse")
    assert result.token and result.staff["_id"] == "staff-wang" and "password_hash" not in result.staff
    with pytest.raises(Problem) as wrong:
        await _login(world, issuer, "wrong", username="nobody")
    assert wrong.value.status == 401
    assert [(a["username"], a["outcome"]) for a in world.rows("login_attempts")] == [("wang", "success"),
                                                                             ("nobody", "failure")]
    assert all("correct horse" not in str(a) for a in world.rows("login_attempts"))


async def test_a_deactivated_account_cannot_log_in(world, issuer) -> None:
    await _create(world, staff_id="staff-wang")
    await staff.update_staff(staff=world.staff, hasher=HASHER, staff_id="staff-wang", changes={"active": False},
                             version=None, trace=world.trace)
    with pytest.raises(Problem) as refused:
        await _login(world, issuer, "correct horse")
    assert refused.value.status == 401


async def test_failures_from_one_client_make_it_wait_and_a_success_elsewhere_still_works(world, issuer) -> None:
    await _create(world, staff_id="staff-wang")
    with pytest.raises(Problem):
        await _login(world, issuer, "wrong")
    with pytest.raises(Problem) as throttled:
        await _login(world, issuer, "correct horse")
    assert throttled.value.status == 429 and int(throttled.value.headers["Retry-After"]) >= 1
    assert (await _login(world, issuer, "correct horse", client="10.0.0.2")).staff["_id"] == "staff-wang"
    assert [a["outcome"] for a in world.rows("login_attempts")] == ["failure", "throttled", "success"]
    counter = await world.staff.throttle_counter("client:10.0.0.2:wang")
    assert counter["failures"] == 0, "a success clears its own client's counter"
    assert timedelta(0) < LoginThrottle().base_delay
