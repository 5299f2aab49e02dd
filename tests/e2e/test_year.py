"""A bureau's year, end to end: small seeded years played through the public APIs of the four services
(in process, on one simulated clock), and every figure of the oversight report checked against what each
year intended."""

from __future__ import annotations

import base64
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tongpin.counselling.app import create_app as create_counselling
from tongpin.counselling.settings import CounsellingSettings
from tongpin.intake.app import create_app as create_intake
from tongpin.intake.settings import IntakeSettings
from tongpin.oversight.app import create_app as create_oversight
from tongpin.oversight.settings import OversightSettings
from tongpin.shared.clock import SimulatedClock
from tongpin.shared.testing.services import delete_test_topology, running
from tongpin.triage.app import create_app as create_triage
from tongpin.triage.domain import default_ruleset
from tongpin.triage.domain.judgment import judge
from tongpin.triage.evaluate import load_model
from tongpin.triage.settings import TriageSettings
from tongpin.triage.train import PACKAGED

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "demo"))

from player import Credentials, Player, Services, SimulatedHand, differences
from pool import MISROUTED, POOL
from scenario import Params, plan_year, source_year

sys.path.insert(0, str(Path(__file__).resolve().parent))

from trail import membership_trail

pytestmark = pytest.mark.e2e

# Each seed plays a different small year; the parameters vary the mix as well.
YEARS = {
    11: replace(Params(), chatter=25),
    23: replace(Params(), officers=20, auxiliaries=6, families=18, officers_joined=24, families_joined=13,
                leavers=1, rejoiners=2, answered_online=4, resolved_offline=5, crises=2, by_committee=2,
                open_cases=2, overrides=2, oversight_resolved=1, oversight_not_substantiated=1, oversight_open=1,
                oversight_case_method="resolved_offline", chatter=30),
    37: replace(Params(), housing_story=False, by_committee=1, crises=0, resolved_offline=2, answered_online=5,
                overrides=0, open_cases=0, oversight_resolved=3, concern_channels=("officers",), chatter=25,
                supervisors=8, supervisors_joined=6),
}


def test_the_pool_says_what_triage_makes_of_it():
    """Every curated text is judged as the pool records (and every misrouted one still misrouted).

    The pool is written by deploy/demo/make_pool.py from the packaged judgment; run it after a change.
    """
    ruleset, model = default_ruleset(), load_model(PACKAGED)
    for kind, category, severity, flags, route, crisis, text in POOL:
        got = judge(text, kind, ruleset, model).decision
        assert (got.category, got.severity, got.flags, got.route, got.crisis) == (
            category, severity, flags, route, crisis), text
    for kind, category, severity, flags, route, crisis, text, corrected in MISROUTED:
        got = judge(text, kind, ruleset, model).decision
        assert (got.category, got.severity, got.flags, got.route, got.crisis) == (
            category, severity, flags, route, crisis), text
        assert corrected != got.category


def test_the_source_year_plans_the_source_figures():
    plan = plan_year(source_year(), seed=2017)
    expected = plan.expected
    assert expected["participation"]["officers"]["ratio"] == 0.93
    assert expected["participation"]["families"]["ratio"] == 0.864
    assert expected["cases"]["resolved"]["answered_online"] == 72
    assert expected["cases"]["resolved"]["resolved_offline"] == 24
    assert (expected["oversight"]["found"], expected["oversight"]["resolved"]) == (13, 13)
    assert plan_year(source_year(), seed=2017).messages[5].text == plan.messages[5].text  # seeded


OVERSIGHT_RETRIES = [0.5, 1.0, 2.0, 4.0]
REPLAYED = 23


@pytest.fixture
async def oversight_retry_queues(amqp_url, clean_run):
    yield
    await delete_test_topology(amqp_url, run_id=clean_run, retry_delays=OVERSIGHT_RETRIES)


@pytest.mark.parametrize("seed", sorted(YEARS))
async def test_a_year_reports_what_happened(seed, settings_env, clean_run, signing_key, oversight_retry_queues,
                                            event_capture, mongo_client):
    plan = plan_year(YEARS[seed], seed=seed)
    counselling_settings = settings_env(
        "counselling", jwt_private_key_pem=signing_key.private_pem, jwt_key_id=signing_key.kid,
        sealed_note_keys=f"e2e:{base64.b64encode(os.urandom(32)).decode()}", argon2_time_cost=1,
        argon2_memory_kib=8, argon2_parallelism=1)
    clock = SimulatedClock(plan.messages[0].sent_at)
    intake = create_intake(IntakeSettings(**settings_env("intake")), clock=clock)
    triage = create_triage(TriageSettings(**settings_env("triage")), clock=clock)
    counselling = create_counselling(CounsellingSettings(**counselling_settings), clock=clock)
    # No suppression here: the test compares every cell of every breakdown.
    # Oversight waits for an event's subject longer than the test default before refusing it (as in production).
    oversight = create_oversight(OversightSettings(**settings_env(
        "oversight", suppression_threshold=1, retry_delays=OVERSIGHT_RETRIES)), clock=clock)
    async with (running(oversight) as oversight_api, running(triage) as triage_api,
                running(counselling) as counselling_api, running(intake) as intake_api):
        services = Services(intake=intake_api, triage=triage_api, counselling=counselling_api,
                            oversight=oversight_api)
        credentials = Credentials(admin=signing_key.headers("admin"), system=signing_key.headers("system"),
                                  staff_password="演示口令-e2e-123")
        # The player's narrative (and what oversight refused, if the report never settles) is printed, so a
        # failure shows it beside every difference.
        player = Player(plan, services, credentials, clock=SimulatedHand(clock), timeout=60, log=print)
        report = await player.play()
        missing = differences(report, plan.expected)
        if missing:
            for line in await membership_trail(event_capture, mongo_client, clean_run):
                print(line)
        assert missing == [], (missing, player.outcome.counts)
        assert report["period"]["key"] == plan.period
        resolved = report["cases"]["resolved"]["total"]
        assert report["targets"]["first_response"] == {"met": resolved, "missed": 0, "rate": 1.0 if resolved else None}
        assert report["durations"]["resolution"]["count"] == resolved
        public = await player.public_figures()
        assert (public["found"], public["resolved"], public["not_substantiated"]) == (
            plan.expected["oversight"]["found"], plan.expected["oversight"]["resolved"],
            plan.expected["oversight"]["not_substantiated"])

        if seed == REPLAYED:
            # Playing the same year again changes no figure.
            again = Player(plan, services, credentials, clock=SimulatedHand(clock), timeout=60)
            assert differences(await again.play(), plan.expected) == []
