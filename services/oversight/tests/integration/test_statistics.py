"""Statistics against the real servers: a hand-counted fixture, exactly-once counting, suppression, bad input."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tongpin.oversight.domain import statistics
from tongpin.oversight.domain.items import item_id_for
from tongpin.shared import events
from tongpin.shared.testing.services import eventually, running

pytestmark = pytest.mark.integration


def at(month: int, day: int, hour: int = 2, minute: int = 0) -> datetime:
    """A UTC instant in 2026 (02:00 UTC is 10:00 in Shanghai, inside the local day)."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def triaged(
    concern_id: str, *, kind: str, category: str, severity: str, route: str, unit: str, when: datetime
) -> events.ConcernTriaged:
    return events.ConcernTriaged(
        concern_id=concern_id, channel_id=f"{kind}-{unit}", channel_kind=kind, unit=unit,  # type: ignore[arg-type]
        about_officer_id="officer-4711", category=category, severity=severity, route=route,  # type: ignore[arg-type]
        ruleset_version=1, triaged_at=when,
    )


def opened(case_id: str, concern_id: str, *, category: str, unit: str) -> events.CaseOpened:
    return events.CaseOpened(case_id=case_id, concern_id=concern_id, channel_kind="officers", unit=unit,
                             category=category, severity="medium", opened_at=at(3, 2))  # type: ignore[arg-type]


def resolved(
    case_id: str, *, method: str, unit: str, category: str, first: timedelta, done: timedelta, fr_met: bool,
    res_met: bool,
) -> events.CaseResolved:
    start = at(3, 2)
    return events.CaseResolved(
        case_id=case_id, method=method, outcome_code="question_answered", channel_kind="officers", unit=unit,  # type: ignore[arg-type]
        category=category, severity="medium", opened_at=start, first_response_at=start + first,  # type: ignore[arg-type]
        first_response_met=fr_met, resolution_met=res_met, resolved_at=start + done,
    )


async def ledger_count(mongo_client: Any, run_id: str) -> int:
    """Ledger records (a record is inserted once its event moved every counter)."""
    return int(await mongo_client[f"{run_id}_oversight"]["ledger"].count_documents({}))


async def test_statistics_for_a_period_match_a_hand_counted_fixture(
    oversight_app, publish, mongo_client, clean_run, signing_key, event_capture
):
    app = oversight_app(suppression_threshold=1)
    auditor = signing_key.headers("auditor")
    async with running(app) as client:
        phase_one: list[events.EventData] = [
            *(events.RosterUpdated(member_id=f"m-{i}", member_kind="officer", channel_kind="officers",
                                   unit=unit, active=True, effective_at=at(3, 1))
              for i, unit in enumerate(["u-east", "u-east", "u-east", "u-west"])),
            *(events.RosterUpdated(member_id=f"f-{i}", member_kind="family", channel_kind="families",
                                   unit="u-east", active=True, effective_at=at(3, 1)) for i in range(2)),
            *(events.MemberJoined(member_id=f"m-{i}", member_kind="officer", channel_id="officers-1",
                                  channel_kind="officers", unit=unit, joined_at=at(3, 3))
              for i, unit in enumerate(["u-east", "u-east", "u-west"])),
            events.MemberJoined(member_id="f-0", member_kind="family", channel_id="families-1",
                                channel_kind="families", unit="u-east", joined_at=at(3, 3)),
            triaged("c-1", kind="officers", category="housing", severity="low", route="answer_online",
                    unit="u-east", when=at(3, 2)),
            triaged("c-2", kind="officers", category="housing", severity="medium", route="answer_online",
                    unit="u-east", when=at(3, 2)),
            triaged("c-3", kind="officers", category="pay_benefits", severity="high", route="committee",
                    unit="u-west", when=at(3, 2)),
            triaged("c-4", kind="families", category="conduct", severity="medium", route="oversight",
                    unit="u-east", when=at(3, 5)),
            triaged("c-5", kind="supervision", category="service_complaint", severity="low", route="oversight",
                    unit="u-west", when=at(3, 6)),
            triaged("c-6", kind="officers", category="other", severity="low", route="dismiss",
                    unit="u-east", when=at(3, 6)),
            opened("case-1", "c-1", category="housing", unit="u-east"),
            opened("case-2", "c-2", category="housing", unit="u-east"),
            opened("case-3", "c-3", category="pay_benefits", unit="u-west"),
        ]
        for payload in phase_one:
            await publish(payload)
        # 19 published + the two oversight.item.opened oversight itself publishes and consumes.
        assert len(phase_one) == 19
        await eventually(lambda: _count_is(mongo_client, clean_run, 21), timeout=20)
        phase_two: list[events.EventData] = [
            events.MemberLeft(member_id="m-1", member_kind="officer", channel_id="officers-1",
                              channel_kind="officers", unit="u-east", left_at=at(3, 20)),
            resolved("case-1", method="answered_online", unit="u-east", category="housing",
                     first=timedelta(minutes=10), done=timedelta(minutes=30), fr_met=True, res_met=True),
            resolved("case-2", method="resolved_offline", unit="u-east", category="housing",
                     first=timedelta(minutes=100), done=timedelta(days=3), fr_met=False, res_met=True),
            resolved("case-3", method="by_committee", unit="u-west", category="pay_benefits",
                     first=timedelta(minutes=5), done=timedelta(days=20), fr_met=True, res_met=False),
        ]
        for payload in phase_two:
            await publish(payload)
        await eventually(lambda: _count_is(mongo_client, clean_run, 25), timeout=20)

        # Close one of the two items through the API (coordinator): found 2, resolved 1 for the year.
        coordinator = signing_key.headers("centre_coordinator")
        item_id = item_id_for("c-4")
        # One change at a time: FerretDB does not serialise the outbox relay's write and the next change
        # on one document (README, "Running on FerretDB"), so the test lets each change's event go out first.
        for expected, body in ((26, {"version": 1, "status": "under_review"}),
                               (27, {"version": 2, "status": "resolved", "public_summary": "已核实并整改。"})):
            response = await client.patch(f"/items/{item_id}", headers=coordinator, json=body)
            assert response.status_code == 200, response.text
            await eventually(lambda n=expected: _count_is(mongo_client, clean_run, n), timeout=20)

        answer = await client.get("/statistics", params={"period": "2026-03"}, headers=auditor)
        assert answer.status_code == 200, answer.text
        march = answer.json()
        assert march["concerns"]["total"] == 5
        assert march["concerns"]["by_channel"] == {"officers": 3, "families": 1, "supervision": 1}
        by_category = {k: v for k, v in march["concerns"]["by_category"].items() if v}
        assert by_category == {"housing": 2, "pay_benefits": 1, "conduct": 1, "service_complaint": 1}
        assert march["concerns"]["by_severity"] == {"low": 2, "medium": 2, "high": 1, "critical": 0}
        assert march["chatter"]["dismissed"] == 1
        assert march["cases"]["opened"] == 3
        assert march["cases"]["resolved"] == {"answered_online": 1, "resolved_offline": 1, "by_committee": 1,
                                              "total": 3}
        assert march["targets"]["first_response"] == {"met": 2, "missed": 1, "rate": 0.6667}
        assert march["targets"]["resolution"] == {"met": 2, "missed": 1, "rate": 0.6667}
        first, resolution = march["durations"]["first_response"], march["durations"]["resolution"]
        assert (first["count"], first["median_minutes"], first["p90_minutes"]) == (3, 10, 120)
        assert (resolution["median_minutes"], resolution["p90_minutes"]) == (4320, 43200)
        assert march["participation"]["officers"] == {"joined": 2, "roster": 4, "ratio": 0.5}
        assert march["participation"]["families"] == {"joined": 1, "roster": 2, "ratio": 0.5}
        assert march["oversight"]["found"] == 2 and march["oversight"]["resolved"] == 0
        assert march["suppressed"] == []

        year = (await client.get("/statistics", params={"period": "2026"}, headers=auditor)).json()
        assert (year["oversight"]["found"], year["oversight"]["resolved"]) == (2, 1)
        quarter = (await client.get("/statistics", params={"period": "2026-Q1"}, headers=auditor)).json()
        assert quarter["cases"]["resolved"]["total"] == 3 and quarter["oversight"]["resolved"] == 0

        east = (await client.get("/statistics", params={"period": "2026-03", "unit": "u-east"},
                                 headers=auditor)).json()
        assert east["concerns"]["total"] == 3
        assert east["cases"]["resolved"]["total"] == 2
        assert east["participation"]["officers"] == {"joined": 1, "roster": 3, "ratio": 0.3333}

        public = (await client.get("/public/oversight", params={"period": "2026"})).json()
        assert (public["found"], public["resolved"]) == (2, 1)
        assert "by_unit" not in public and "u-east" not in json.dumps(public)

        exported = await client.get("/statistics.csv", params={"period": "2026-03"}, headers=auditor)
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        rows = {row["metric"]: row["value"] for row in csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff")))}
        assert rows["cases.resolved.answered_online"] == "1"
        assert rows["concerns.by_category.housing"] == "2"
        assert rows["participation.officers.ratio"] == "0.5"
        one = await client.get("/statistics.csv", params={"period": "2026-03", "table": "concerns.by_channel"},
                               headers=auditor)
        assert one.text.count("\r\n") == 4  # header + three channel kinds


async def _count_is(mongo_client: Any, run_id: str, expected: int) -> bool:
    return await ledger_count(mongo_client, run_id) == expected


async def test_the_same_event_delivered_twice_counts_once(oversight_app, publish, mongo_client, clean_run,
                                                          signing_key):
    app = oversight_app(suppression_threshold=1)
    async with running(app) as client:
        event = await publish(opened("case-twice", "c-twice", category="housing", unit="u-1"))
        await publish(event)  # the very same envelope, id and all
        await eventually(lambda: _count_is(mongo_client, clean_run, 1))
        marker = await publish(events.StaffUpdated(staff_id="s-1", roles=["admin"], updated_at=at(3, 2)))
        await eventually(lambda: _count_is(mongo_client, clean_run, 2))  # the marker went after the repeat
        report = (await client.get("/statistics", params={"period": "2026-03"},
                                   headers=signing_key.headers("auditor"))).json()
        assert report["cases"]["opened"] == 1
        assert marker.id != event.id
        worker = app.state.runtime.extras["appender"]._worker
        assert worker is not None and not worker.done()
    assert worker.done()  # the service's stop ends its ledger appender


async def test_suppression_hides_a_breakdown_of_two_and_shows_one_of_five(
    oversight_app, publish, mongo_client, clean_run, signing_key
):
    app = oversight_app(suppression_threshold=3)
    async with running(app) as client:
        counts = {"housing": 5, "pay_benefits": 2, "career": 1}
        for category, n in counts.items():
            for _ in range(n):
                await publish(triaged(f"c-{uuid.uuid4().hex[:12]}", kind="officers", category=category,
                                      severity="low", route="answer_online", unit="u-1", when=at(4, 2)))
        await eventually(lambda: _count_is(mongo_client, clean_run, 8))
        report = (await client.get("/statistics", params={"period": "2026-04"},
                                   headers=signing_key.headers("committee_member"))).json()
        table = report["concerns"]["by_category"]
        assert table["housing"] == 5
        assert table["pay_benefits"] is None and table["career"] is None
        assert "concerns.by_category.pay_benefits" in report["suppressed"]
        assert report["suppression"] == {"threshold": 3, "method": "complementary"}
        assert report["concerns"]["total"] == 8


async def test_bad_input_is_a_problem_naming_the_parameter(oversight_app, signing_key):
    app = oversight_app()
    auditor = signing_key.headers("auditor")
    async with running(app) as client:
        cases = [
            ("/statistics", {"period": "2026-13"}, "period"),
            ("/statistics", {"period": "last year"}, "period"),
            ("/statistics", {"period": "2026-03", "unit": "no-such-unit"}, "unit"),
            ("/statistics.csv", {"period": "2026", "table": "nothing"}, "table"),
            ("/items", {"limit": "500"}, "limit"),
            ("/ledger", {"limit": "0"}, "limit"),
            ("/ledger/digest", {"date": "2026-02-30"}, "date"),
            ("/public/oversight", {"period": "2026-Q5"}, "period"),
        ]
        for path, params, field in cases:
            response = await client.get(path, params=params, headers=auditor)
            assert response.status_code == 422, (path, params, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert field in response.json()["detail"], (path, response.json())
        missing = await client.get("/statistics", headers=auditor)
        assert missing.status_code == 422 and "period" in missing.json()["detail"]


async def test_reads_within_target_are_counted_without_any_text(oversight_app, publish, mongo_client, clean_run,
                                                               signing_key):
    app = oversight_app(suppression_threshold=1)
    async with running(app) as client:
        for n, (within, target) in enumerate(((True, "crisis"), (False, "working_day"), (True, "working_day"))):
            await publish(events.ConcernRead(
                concern_id=f"read-{n}", channel_kind="families", unit="u-east", severity="high",
                crisis=target == "crisis", target=target, received_at=at(5, 6), due_at=at(5, 7),
                read_at=at(5, 7, 3), within_target=within))
        await publish(events.ReadingOverdue(concern_id="read-1", channel_kind="families", unit="u-east",
                                            severity="low", target="working_day", received_at=at(5, 6),
                                            due_at=at(5, 7), overdue_at=at(5, 7, 1)))
        await eventually(lambda: _count_is(mongo_client, clean_run, 4), timeout=20)
        may = (await client.get("/statistics", params={"period": "2026-05"},
                                headers=signing_key.headers("auditor"))).json()
        assert may["reading"]["read"] == {"crisis": 1, "high": 0, "working_day": 2}
        assert may["reading"]["read_within_target"] == {"crisis": 1, "high": 0, "working_day": 1}
        assert (may["reading"]["read_total"], may["reading"]["read_within_target_total"]) == (3, 2)
        assert may["reading"]["overdue_total"] == 1


async def test_a_unit_or_period_without_data_is_a_zero_report_and_an_unknown_unit_is_422(
    oversight_app, publish, mongo_client, clean_run, signing_key
):
    app = oversight_app(suppression_threshold=3)
    auditor = signing_key.headers("auditor")
    async with running(app) as client:
        await publish(triaged("c-zero", kind="officers", category="housing", severity="low", route="answer_online",
                              unit="u-known", when=at(3, 2)))
        await eventually(lambda: _count_is(mongo_client, clean_run, 1), timeout=20)
        for params in ({"period": "2019"}, {"period": "2026-07"}, {"period": "2026-07", "unit": "u-known"},
                       {"period": "2019-Q2", "unit": "u-known"}):
            answer = await client.get("/statistics", params=params, headers=auditor)
            assert answer.status_code == 200, (params, answer.text)
            report = answer.json()
            assert report["period"]["key"] == params["period"] and report["unit"] == params.get("unit", "*")
            counts = statistics.counts_of(report)
            assert len(counts) > 100 and set(counts.values()) == {0}, params
            assert report["suppressed"] == [], params
        nothing = (await client.get("/public/oversight", params={"period": "2019"})).json()
        assert (nothing["found"], nothing["resolved"], nothing["not_substantiated"]) == (0, 0, 0)
        unknown = await client.get("/statistics", params={"period": "2026-03", "unit": "u-never-seen"},
                                   headers=auditor)
        assert unknown.status_code == 422 and unknown.headers["content-type"].startswith("application/problem+json")
        assert "u-never-seen" in unknown.json()["detail"]


async def test_the_bureau_minus_the_other_units_gives_no_hidden_unit_cell_away(
    oversight_app, publish, mongo_client, clean_run, signing_key
):
    """Two units, 2 and 5 concerns: the small unit's counts are hidden, and for every one of them the other
    unit's or the bureau's is hidden too, so the bureau minus the other unit recovers nothing."""
    app = oversight_app(suppression_threshold=3)
    auditor = signing_key.headers("auditor")
    async with running(app) as client:
        for unit, n in (("u-small", 2), ("u-large", 5)):
            for i in range(n):
                await publish(triaged(f"c-{unit}-{i}", kind="officers", category="housing", severity="low",
                                      route="answer_online", unit=unit, when=at(5, 2 + i)))
        await eventually(lambda: _count_is(mongo_client, clean_run, 7), timeout=20)
        hidden: dict[str, set[str]] = {}
        for unit in ("u-small", "u-large", "*"):
            response = await client.get("/statistics", params={"period": "2026-05", "unit": unit}, headers=auditor)
            assert response.status_code == 200, response.text
            report = response.json()
            assert report["suppression"] == {"threshold": 3, "method": "complementary"}
            hidden[unit] = set(report["suppressed"])
            assert all(statistics._get(report, path) is None for path in hidden[unit]), unit
        assert {"concerns.total", "concerns.by_category.housing", "concerns.by_channel.officers"} <= hidden["u-small"]
        for path in sorted(hidden["u-small"]):
            assert path in hidden["u-large"] | hidden["*"], f"{path}: the bureau minus u-large gives it away"
