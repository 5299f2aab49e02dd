"""Intake, triage and oversight learn of a deactivation from staff.updated and refuse that person's tokens
(pen-test finding 9)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tongpin.intake.app import create_app as create_intake
from tongpin.intake.settings import IntakeSettings
from tongpin.oversight.app import create_app as create_oversight
from tongpin.oversight.settings import OversightSettings
from tongpin.shared.events import StaffUpdated, make_event
from tongpin.shared.testing.services import eventually, running
from tongpin.triage.app import create_app as create_triage
from tongpin.triage.settings import TriageSettings

pytestmark = pytest.mark.e2e


async def test_a_deactivated_coordinator_is_refused_by_every_service(settings_env, clean_run, signing_key):
    intake = create_intake(IntakeSettings(**settings_env("intake")))
    triage = create_triage(TriageSettings(**settings_env("triage")))
    oversight = create_oversight(OversightSettings(**settings_env("oversight")))
    async with running(intake) as intake_api, running(triage) as triage_api, running(oversight) as oversight_api:
        token = signing_key.headers("centre_coordinator", sub="co-leaving")
        reads = ((intake_api, "/deliveries"), (triage_api, "/staff"), (oversight_api, "/items"))
        for client, path in reads:
            assert (await client.get(path, headers=token)).status_code == 200
        publisher = triage.state.runtime.publisher
        await publisher.publish(make_event(StaffUpdated(
            staff_id="co-leaving", roles=["centre_coordinator"], active=False, updated_at=datetime.now(UTC)),
            subject="co-leaving"))

        async def all_refuse() -> bool:
            return all([(await client.get(path, headers=token)).status_code == 401 for client, path in reads])

        await eventually(all_refuse, timeout=15)
        other = signing_key.headers("centre_coordinator", sub="co-staying")
        for client, path in reads:
            assert (await client.get(path, headers=other)).status_code == 200
