"""Counselling against the real servers: the app in-process, events injected on the run's exchange."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tongpin.counselling.app import create_app
from tongpin.counselling.context import CounsellingContext
from tongpin.counselling.settings import CounsellingSettings
from tongpin.shared.clock import Clock
from tongpin.shared.events import ConcernRaised, ConcernTriaged, EventData, make_event
from tongpin.shared.testing.services import eventually, running

NOTE_KEY = base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path


@pytest.fixture
def counselling_settings(settings_env, signing_key) -> Callable[..., dict[str, Any]]:
    """Settings for counselling in tests: the fixture key signs, a cheap argon2, a fresh note key."""

    def make(**overrides: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "jwt_private_key_pem": signing_key.private_pem, "jwt_key_id": signing_key.kid,
            "sealed_note_keys": f"k1:{NOTE_KEY}", "argon2_time_cost": 1, "argon2_memory_kib": 8,
            "argon2_parallelism": 1, "login_base_delay_seconds": 0.05, "sla_check_seconds": 3600,
            "reminder_check_seconds": 3600,
        }
        return settings_env("counselling", **{**values, **overrides})

    return make


@dataclass
class Counselling:
    """A running counselling app with helpers to feed it events and act as staff."""

    app: FastAPI
    client: httpx.AsyncClient
    signing_key: Any
    db: Any

    @property
    def ctx(self) -> CounsellingContext:
        return self.app.state.counselling  # type: ignore[no-any-return]

    async def publish(self, data: EventData, *, subject: str | None = None) -> None:
        publisher = self.app.state.runtime.publisher
        await publisher.publish(make_event(data, subject=subject, correlationid=f"corr-{uuid.uuid4().hex[:8]}"))

    def as_(self, *roles: str, sub: str | None = None) -> dict[str, str]:
        return self.signing_key.headers(*roles, sub=sub)

    async def member(self, role: str, *, unit: str | None = "unit-01", **extra: Any) -> dict[str, str]:
        """Headers of a new member of staff in the directory (of a unit: its team may open its cases)."""
        staff = await self.add_staff(role, unit=unit, **extra)
        return self.as_(role, sub=staff["staff_id"])

    async def add_staff(self, *roles: str, on_call: bool = False, name: str = "王老师",
                        password: str = "正确的密码-123", unit: str | None = None) -> dict[str, Any]:
        username = f"u{uuid.uuid4().hex[:10]}"
        response = await self.client.post("/staff", headers=self.as_("admin"), json={
            "username": username, "name": name, "password": password, "roles": list(roles), "on_call": on_call,
            "unit": unit})
        assert response.status_code == 201, response.text
        return {**response.json(), "password": password}

    async def raise_concern(
        self, *, text: str = "宿舍没有热水，已经一周了😣", channel_kind: str = "officers", severity: str = "medium",
        category: str = "housing", route: str = "answer_online", assignee_id: str | None = None,
        assignee_role: str | None = "political_worker", crisis: bool = False, author: str | None = "m-1001",
        concern_id: str | None = None, triaged_first: bool = False, wait: bool = True, **extra: Any,
    ) -> str:
        concern_id = concern_id or f"c-{uuid.uuid4().hex[:12]}"
        channel_id = f"{channel_kind}-unit-01"
        raised = ConcernRaised(concern_id=concern_id, channel_id=channel_id, channel_kind=channel_kind,  # type: ignore[arg-type]
                               origin="api", author_member_id=author, text=text, sent_at=datetime.now(UTC),
                               about_officer_id=extra.get("about_officer_id"))
        triaged = ConcernTriaged(
            concern_id=concern_id, channel_id=channel_id, channel_kind=channel_kind,  # type: ignore[arg-type]
            category=category, severity=severity, route=route, assignee_role=assignee_role,  # type: ignore[arg-type]
            assignee_id=assignee_id, ruleset_version=1, crisis=crisis, triaged_at=datetime.now(UTC),
            about_officer_id=extra.get("about_officer_id"), overridden=extra.get("overridden", False),
            unit=extra.get("unit", "unit-01"), flags=extra.get("flags", []),
        )
        for data in ((triaged, raised) if triaged_first else (raised, triaged)):
            await self.publish(data, subject=concern_id)
        if wait and route != "dismiss":
            await self.case(f"case-{concern_id}")
        return concern_id

    async def case(self, case_id: str, *, timeout: float = 10) -> dict[str, Any]:
        async def fetch() -> dict[str, Any] | None:
            response = await self.client.get(f"/cases/{case_id}", headers=self.as_("centre_coordinator"))
            return response.json() if response.status_code == 200 else None

        return await eventually(fetch, timeout=timeout)  # type: ignore[no-any-return]

    async def feed(self, staff_id: str, *roles: str) -> list[dict[str, Any]]:
        if not roles:
            # A token with the roles the directory gives them (a token claiming more is refused).
            member = await self.db["staff"].find_one({"_id": staff_id})
            roles = tuple(member["roles"]) if member else ("psychologist",)
        headers = self.as_(*roles, sub=staff_id)
        response = await self.client.get("/notifications", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()["items"]  # type: ignore[no-any-return]


@pytest.fixture
async def counselling(
    counselling_settings, clean_run, signing_key, mongo_client, event_capture
) -> AsyncIterator[Counselling]:
    app = create_app(CounsellingSettings(**counselling_settings()))
    db = mongo_client[f"{clean_run}_counselling"]
    async with running(app) as client:
        yield Counselling(app=app, client=client, signing_key=signing_key, db=db)



@pytest.fixture
def counselling_on(
    counselling_settings, clean_run, signing_key, mongo_client, event_capture
) -> Callable[[Clock], Any]:
    """Start counselling on a given business clock: ``async with counselling_on(clock) as counselling``."""

    @asynccontextmanager
    async def start(clock: Clock) -> AsyncIterator[Counselling]:
        app = create_app(CounsellingSettings(**counselling_settings()), clock=clock)
        async with running(app) as client:
            yield Counselling(app=app, client=client, signing_key=signing_key,
                              db=mongo_client[f"{clean_run}_counselling"])

    return start
