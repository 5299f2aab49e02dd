"""The staff directory (staff.updated tells triage) and login under the throttle."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher

from tongpin.counselling.domain.identity import (
    LoginThrottle,
    ThrottleCounter,
    ThrottleDecision,
    TokenIssuer,
    hash_password,
    verify_password,
    verify_unknown_account,
)
from tongpin.counselling.handlers.common import Trace, catalogue_event, new_id, system_now
from tongpin.counselling.repository.ports import StaffStore
from tongpin.shared import events as ev
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Conflict, NotFound, Problem

log = get_logger(__name__)


def _staff_updated(doc: Mapping[str, Any], *, trace: Trace) -> CloudEvent:
    data = ev.StaffUpdated(staff_id=doc["_id"], roles=doc["roles"], active=doc.get("active", True),
                           on_leave=doc.get("on_leave", False), on_call=doc.get("on_call", False),
                           skills=doc.get("skills", []), updated_at=doc.get("updated_at") or system_now())
    return catalogue_event(data, subject=doc["_id"], trace=trace)


async def create_staff(
    *, staff: StaffStore, hasher: PasswordHasher, username: str, name: str, password: str, roles: list[str],
    skills: list[str], unit: str | None, on_call: bool, staff_id: str | None, trace: Trace,
) -> dict[str, Any]:
    """Add a staff account (argon2 hash of its password); staff.updated tells triage."""
    now = system_now()
    doc = {
        "_id": staff_id or new_id("staff"), "username": username, "name": name,
        "password_hash": hash_password(password, hasher=hasher), "roles": roles, "skills": skills, "unit": unit,
        "active": True, "on_leave": False, "leave_until": None, "on_call": on_call, "available": True,
        "created_at": now, "updated_at": now, "version": 1,
    }
    if not await staff.insert(doc, [_staff_updated(doc, trace=trace)]):
        raise Conflict(f"a staff account with username {username!r} or that id exists already", field="username")
    log.info("staff.created", staff_id=doc["_id"], roles=roles)
    return {k: v for k, v in doc.items() if k != "password_hash"}


async def update_staff(
    *, staff: StaffStore, hasher: PasswordHasher, staff_id: str, changes: dict[str, Any],
    version: int | None, trace: Trace,
) -> dict[str, Any]:
    """Change a staff account (roles, skills, availability, leave, on-call, password)."""
    current = await staff.get(staff_id)
    if current is None:
        raise NotFound("staff member", staff_id)
    if version is not None and current["version"] != version:
        raise Conflict(f"the staff record is at version {current['version']}, not {version}",
                       current_version=current["version"])
    values = dict(changes)
    if "password" in values:
        values["password_hash"] = hash_password(values.pop("password"), hasher=hasher)
    values["updated_at"] = system_now()
    merged = {**current, **values}
    update = {"$set": values, "$inc": {"version": 1}}
    doc = await staff.update(staff_id, update=update, events=[_staff_updated(merged, trace=trace)],
                             expected_version=current["version"])
    if doc is None:
        raise Conflict("the staff record was changed by someone else at the same time; reload and retry")
    log.info("staff.updated", staff_id=staff_id, fields=sorted(k for k in values if k != "password_hash"))
    return {k: v for k, v in doc.items() if k != "password_hash"}


@dataclass(frozen=True)
class LoginResult:
    """An issued token and who it is for."""

    token: str
    staff: dict[str, Any]


@dataclass(frozen=True)
class _Claim:
    key: str
    decision: ThrottleDecision
    before: dict[str, Any] | None


def _counter(doc: Mapping[str, Any] | None) -> ThrottleCounter:
    if doc is None:
        return ThrottleCounter()
    return ThrottleCounter(failures=max(0, int(doc.get("failures", 0))), last_at=doc.get("last_at"),
                           next_at=doc.get("next_at"))


async def _claim_attempt(*, staff: StaffStore, throttle: LoginThrottle, key: str, scope: str) -> _Claim:
    """Count one attempt on a counter before its password is checked, or learn it must wait."""
    for _ in range(50):
        doc = await staff.throttle_counter(key)
        now = system_now()
        decision = throttle.claim(_counter(doc), now=now, scope=scope)
        if not decision.allowed:
            return _Claim(key=key, decision=decision, before=doc)
        fields = {"failures": decision.counter.failures, "last_at": decision.counter.last_at,
                  "next_at": decision.counter.next_at}
        if await staff.save_throttle_counter(key, version=doc["version"] if doc else None, fields=fields):
            return _Claim(key=key, decision=decision, before=doc)
    # Another attempt on the same counter won every race: this one is refused, never let through uncounted.
    return _Claim(key=key, decision=ThrottleDecision(allowed=False, counter=ThrottleCounter(), retry_at=None),
                  before=None)


async def _release(*, staff: StaffStore, claim: _Claim) -> None:
    """Give back a counted attempt that was refused by the other counter, so it costs nothing."""
    before = _counter(claim.before)
    version = (claim.before["version"] if claim.before else 0) + 1
    await staff.save_throttle_counter(claim.key, version=version, fields={
        "failures": before.failures, "last_at": before.last_at, "next_at": before.next_at})


async def login(
    *, staff: StaffStore, hasher: PasswordHasher, throttle: LoginThrottle, issuer: TokenIssuer,
    username: str, password: str, client: str | None,
) -> LoginResult:
    """Check a password under the throttle; every attempt is recorded and logged (never the password).

    The attempt is counted on the account-and-client counter and on the account counter before the
    password is checked, so attempts sent together are decided one after another.
    """
    now = system_now()

    async def record(outcome: str, staff_id: str | None = None) -> None:
        await staff.record_attempt({"_id": new_id("login"), "username": username, "staff_id": staff_id,
                                    "outcome": outcome, "client": client, "at": now})
        log.info("auth.login", username=username, outcome=outcome, client=client, staff_id=staff_id)

    async def refuse(claim: _Claim, detail: str) -> Problem:
        await record("throttled")
        retry = claim.decision.retry_after(system_now())
        return Problem(429, f"{detail}; try again in {retry} s", headers={"Retry-After": str(retry)},
                       retry_after=retry)

    by_client = await _claim_attempt(staff=staff, throttle=throttle, key=f"client:{client or '-'}:{username}",
                                     scope="client")
    if not by_client.decision.allowed:
        raise await refuse(by_client, "too many failed logins to this account from this address")
    by_account = await _claim_attempt(staff=staff, throttle=throttle, key=f"account:{username}", scope="account")
    if not by_account.decision.allowed:
        await _release(staff=staff, claim=by_client)
        raise await refuse(by_account, "too many failed logins to this account")
    account = await staff.by_username(username)
    if account is None:
        await asyncio.to_thread(verify_unknown_account, password=password)
        ok = False
    else:
        ok = await asyncio.to_thread(verify_password, password_hash=account["password_hash"], password=password,
                                     hasher=hasher)
    if not ok or account is None or not account.get("active", True):
        await record("failure", account["_id"] if account else None)
        raise Problem(401, "the username or password is wrong", headers={"WWW-Authenticate": "Bearer"})
    # The attempt was counted as a failure before the check: a success clears this client and refunds it.
    await staff.change_throttle_counter(by_client.key, {"$set": {"failures": 0, "next_at": None}})
    await staff.change_throttle_counter(by_account.key, {"$inc": {"failures": -1}})
    await record("success", account["_id"])
    token = issuer.issue(subject=account["_id"], roles=account["roles"], name=account["name"], now=now,
                         unit=account.get("unit"))
    return LoginResult(token=token, staff={k: v for k, v in account.items() if k != "password_hash"})
