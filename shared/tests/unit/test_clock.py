"""The business clock: system, simulated and file clocks, bound per runtime, and the bureau's time zone setting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tongpin.shared import clock
from tongpin.shared.clock import FileClock, SimulatedClock, write_clock_file
from tongpin.shared.settings import ServiceSettings

pytestmark = pytest.mark.unit

T0 = datetime(2025, 6, 30, 15, 59, tzinfo=UTC)


def test_a_simulated_clock_stands_still_until_moved() -> None:
    simulated = SimulatedClock(T0)
    assert simulated.now() == simulated.now() == T0
    simulated.advance(timedelta(minutes=2))
    assert simulated.now() == T0 + timedelta(minutes=2)
    simulated.set(T0 - timedelta(days=1))  # a replay may go back
    assert simulated.now() == T0 - timedelta(days=1)
    with pytest.raises(ValueError):
        simulated.advance(timedelta(seconds=-1))
    assert SimulatedClock(datetime(2025, 1, 1)).now().tzinfo is not None  # naive is taken as UTC


def test_a_file_clock_reads_every_change_and_falls_back_to_the_system_clock(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    file_clock = FileClock(path)
    assert abs(file_clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
    for step in range(3):  # changes quicker than a file system's clock tick are all seen
        write_clock_file(path, T0 + timedelta(seconds=step))
        assert file_clock.now() == T0 + timedelta(seconds=step)
    path.write_text("not json", encoding="utf-8")
    assert abs(file_clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
    path.unlink()
    assert abs(file_clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_now_answers_the_clock_bound_for_the_task() -> None:
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)

    async def both() -> tuple[datetime, datetime]:
        async def under(at: datetime) -> datetime:
            with clock.using(SimulatedClock(at)):
                await asyncio.sleep(0)
                return clock.now()

        first, second = await asyncio.gather(under(T0), under(T0 + timedelta(days=1)))
        return first, second

    assert asyncio.run(both()) == (T0, T0 + timedelta(days=1))
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_the_runtime_binds_its_clock_for_requests(tmp_path: Path) -> None:
    from tongpin.shared.runtime import ServiceRuntime, create_service_app

    settings = ServiceSettings(service_name="probe", clock_file=str(tmp_path / "clock.json"), log_json=False)
    runtime = ServiceRuntime(settings, indexes={}, outbox_collections=[])
    assert isinstance(runtime.clock, FileClock)
    simulated = SimulatedClock(T0)
    runtime.clock = simulated
    app: FastAPI = create_service_app(runtime, title="probe")

    @app.get("/now")
    async def now() -> dict[str, str]:
        return {"now": clock.now().isoformat()}

    client = TestClient(app)  # not entered: no lifespan, the probe needs no servers
    assert client.get("/now").json() == {"now": T0.isoformat()}


def test_the_bureau_time_zone_is_a_setting_checked_at_start() -> None:
    assert ServiceSettings().bureau_time_zone == "Asia/Shanghai"
    assert str(ServiceSettings(bureau_time_zone="Asia/Urumqi").bureau_zone) == "Asia/Urumqi"
    with pytest.raises(ValidationError):
        ServiceSettings(bureau_time_zone="Mars/Olympus_Mons")
