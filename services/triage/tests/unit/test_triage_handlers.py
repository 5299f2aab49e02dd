"""Triage's handlers on in-memory repositories: a decision and its route for each concern, overrides, cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tongpin.shared.auth import Forbidden, Principal
from tongpin.shared.events import (
    CaseOpened,
    CaseReopened,
    CaseResolved,
    ConcernRaised,
    StaffUpdated,
    make_event,
)
from tongpin.shared.problems import Conflict, Invalid, NotFound, Problem
from tongpin.shared.testing.memory import staged_events
from tongpin.triage.handlers import cases, concerns, overrides, staff
from tongpin.triage.memory import TriageStores
from tongpin.triage.settings import TriageSettings

pytestmark = pytest.mark.unit

SETTINGS = TriageSettings()
SENT = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
HOUSING = "结婚三年了还没有房子，单位能不能帮忙解决住房问题"
CRISIS = "活着太累了，真的不想活了"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
WORKER = Principal(subject="pw-1", roles=frozenset({"political_worker"}), name="王老师")
COORDINATOR = Principal(subject="cc-1", roles=frozenset({"centre_coordinator"}), name="中心")


async def _staff(stores: TriageStores) -> None:
    directory = [("cc-1", ["centre_coordinator"], False), ("cc-2", ["centre_coordinator"], False),
                 ("pw-1", ["political_worker"], False), ("ps-1", ["psychologist"], False),
                 ("ps-2", ["psychologist"], True)]
    for staff_id, roles, on_call in directory:
        await staff.record_staff(staff=stores.staff, data=StaffUpdated(
            staff_id=staff_id, roles=roles, on_call=on_call, updated_at=SENT - timedelta(days=1)))  # type: ignore[arg-type]


def _concern(concern_id: str, text: str, *, author: str | None = "m-officer-1", channel_kind: str = "officers",
             sent_at: datetime = SENT, **extra: Any) -> ConcernRaised:
    return ConcernRaised(concern_id=concern_id, channel_id=f"{channel_kind}-01", channel_kind=channel_kind,  # type: ignore[arg-type]
                         origin="wecom", author_member_id=author, anonymous=author is None, unit="unit-01",
                         text=text, sent_at=sent_at, **extra)


async def _triage(stores: TriageStores, concern: ConcernRaised) -> bool:
    event = make_event(concern, subject=concern.concern_id, correlationid="corr-1", traceparent=TRACEPARENT)
    return await concerns.triage_concern(
        decisions=stores.decisions, rulebook=stores.rulebook, modelbook=stores.modelbook, staff=stores.staff,
        clusters=stores.clusters, themes=stores.themes, settings=SETTINGS, event=event, concern=concern)


async def _load(stores: TriageStores) -> dict[str, int]:
    return await stores.staff.open_load(["cc-1", "cc-2", "pw-1", "ps-1", "ps-2"])


async def test_a_concern_gets_one_decision_routed_to_the_least_loaded_of_its_pool_and_no_text_is_kept(
    stores: TriageStores, business_clock: Any
) -> None:
    await _staff(stores)
    assert await _triage(stores, _concern("c-1", HOUSING))
    assert not await _triage(stores, _concern("c-1", HOUSING))  # redelivered: the decision stands
    decision = await stores.decisions.get("c-1")
    assert decision is not None
    assert (decision["category"], decision["route"], decision["assignee_role"], decision["assignee_id"]) == (
        "housing", "committee", "centre_coordinator", "cc-1")
    assert decision["open"] and decision["subject_officer_id"] == "m-officer-1" and decision["rule_ids"]
    assert HOUSING not in str(decision) and "text" not in decision
    (triaged,) = staged_events(stores.db, event_type="concern.triaged")
    assert (triaged.data["route"], triaged.data["assignee_id"]) == ("committee", "cc-1")
    assert triaged.correlationid == "corr-1"
    assert triaged.traceparent is not None and triaged.traceparent.split("-")[1] == TRACEPARENT.split("-")[1]
    assert await _load(stores) == {"cc-1": 1}

    # The next one (another officer's) goes to whoever has least open work now.
    await _triage(stores, _concern("c-2", HOUSING, author="m-officer-2"))
    assert (await stores.decisions.get("c-2") or {})["assignee_id"] == "cc-2"


async def test_a_crisis_goes_first_to_the_on_call_psychologist_with_the_escalation_ahead_of_the_decision(
    stores: TriageStores, business_clock: Any
) -> None:
    await _staff(stores)
    await _triage(stores, _concern("c-1", CRISIS))
    decision = await stores.decisions.get("c-1")
    assert decision is not None and decision["crisis"] and decision["assignee_id"] == "ps-2"  # on call
    assert [e.type for e in staged_events(stores.db)] == ["escalation.raised.v1", "concern.triaged.v1"]
    assert staged_events(stores.db)[0].data["flags"] == ["self_harm"]


async def test_chatter_is_dismissed_with_nobody_assigned(stores: TriageStores, business_clock: Any) -> None:
    await _staff(stores)
    await _triage(stores, _concern("c-1", "收到"))
    decision = await stores.decisions.get("c-1")
    assert decision is not None and decision["dismissed"] and not decision["open"]
    assert decision["assignee_id"] is None and await _load(stores) == {}


async def test_a_second_concern_from_the_same_officer_joins_the_first_and_a_crisis_never_does(
    stores: TriageStores, business_clock: Any
) -> None:
    await _staff(stores)
    await _triage(stores, _concern("c-1", HOUSING))
    await _triage(stores, _concern("c-2", "住房的事情还是没有着落", sent_at=SENT + timedelta(days=2)))
    await _triage(stores, _concern("c-3", CRISIS, sent_at=SENT + timedelta(days=3)))
    merged = await stores.decisions.get("c-2")
    assert merged is not None and merged["merged_into"] == "c-1" and merged["assignee_id"] is None
    (announced,) = staged_events(stores.db, event_type="concern.merged")
    assert (announced.data["concern_id"], announced.data["primary_concern_id"]) == ("c-2", "c-1")
    assert (await stores.decisions.get("c-3") or {})["merged_into"] is None
    cluster = await stores.clusters.get("m-officer-1")
    assert cluster is not None and cluster["concern_ids"] == ["c-1", "c-2"]


async def test_an_override_is_recorded_with_who_when_before_after_and_why_and_announced_again(
    stores: TriageStores, business_clock: Any
) -> None:
    await _staff(stores)
    await _triage(stores, _concern("c-1", "连续加班一个月了，请不了假"))
    before = await stores.decisions.get("c-1")
    assert before is not None and (before["category"], before["route"]) == ("workload_leave", "answer_online")
    business_clock.set(SENT + timedelta(hours=2))
    after = await overrides.override_decision(
        decisions=stores.decisions, staff=stores.staff, concern_id="c-1", principal=WORKER,
        changes={"category": "health", "severity": "high", "route": "psych_support"}, reason="长期失眠，需心理支持",
        expected_version=1)
    assert (after["category"], after["route"], after["assignee_id"], after["version"]) == (
        "health", "psych_support", "ps-1", 2)
    (record,) = after["overrides"]
    assert (record["by"], record["reason"], record["at"]) == ("pw-1", "长期失眠，需心理支持", SENT + timedelta(hours=2))
    assert record["before"] == {"category": "workload_leave", "severity": "low", "route": "answer_online",
                                "assignee_role": "political_worker", "assignee_id": "pw-1"}
    assert record["after"] == {"category": "health", "severity": "high", "route": "psych_support",
                               "assignee_role": "psychologist", "assignee_id": "ps-1"}
    announced = staged_events(stores.db, event_type="concern.triaged")
    assert [e.data["overridden"] for e in announced] == [False, True]
    assert announced[-1].data["category"] == "health" and announced[-1].data["raised_at"] == "2026-03-09T09:00:00Z"
    assert await _load(stores) == {"ps-1": 1}  # the work moved with the route

    with pytest.raises(Conflict):
        await overrides.override_decision(decisions=stores.decisions, staff=stores.staff, concern_id="c-1",
                                         principal=WORKER, changes={"severity": "low"}, reason="x", expected_version=1)


async def test_an_override_that_makes_a_crisis_routes_to_the_on_call_psychologist_and_escalates(
    stores: TriageStores, business_clock: Any
) -> None:
    await _staff(stores)
    await _triage(stores, _concern("c-1", HOUSING))
    after = await overrides.override_decision(
        decisions=stores.decisions, staff=stores.staff, concern_id="c-1", principal=WORKER,
        changes={"severity": "critical"}, reason="言语中有轻生念头", expected_version=None)
    assert (after["crisis"], after["route"], after["assignee_id"]) == (True, "psych_support", "ps-2")
    assert [e.type for e in staged_events(stores.db)][-2:] == ["escalation.raised.v1", "concern.triaged.v1"]


@pytest.mark.parametrize(("principal", "changes", "refusal"), [
    (WORKER, {"assignee_id": "cc-2"}, Forbidden),
    (COORDINATOR, {"assignee_id": "nobody"}, Invalid),
    (COORDINATOR, {"assignee_id": "pw-1"}, Invalid),  # not on the committee route
    (WORKER, {"category": "housing"}, Problem),  # changes nothing
])
async def test_a_refused_override_changes_nothing(
    stores: TriageStores, business_clock: Any, principal: Principal, changes: dict[str, Any],
    refusal: type[Exception]
) -> None:
    await _staff(stores)
    await _triage(stores, _concern("c-1", HOUSING))
    with pytest.raises(refusal):
        await overrides.override_decision(decisions=stores.decisions, staff=stores.staff, concern_id="c-1",
                                         principal=principal, changes=changes, reason="理由", expected_version=None)
    decision = await stores.decisions.get("c-1")
    assert decision is not None and decision["version"] == 1 and decision["overrides"] == []
    assert len(staged_events(stores.db)) == 1
    with pytest.raises(NotFound):
        await overrides.override_decision(decisions=stores.decisions, staff=stores.staff, concern_id="c-9",
                                         principal=principal, changes=changes, reason="理由", expected_version=None)


async def test_the_coordinator_may_name_who_takes_a_concern(stores: TriageStores, business_clock: Any) -> None:
    await _staff(stores)
    await _triage(stores, _concern("c-1", HOUSING))
    after = await overrides.override_decision(decisions=stores.decisions, staff=stores.staff, concern_id="c-1",
                                             principal=COORDINATOR, changes={"assignee_id": "cc-2"},
                                             reason="cc-1 请假", expected_version=1)
    assert after["assignee_id"] == "cc-2" and await _load(stores) == {"cc-2": 1}


async def test_a_case_carries_the_concerns_load_until_resolved_and_again_when_reopened(
    stores: TriageStores, business_clock: Any
) -> None:
    await _staff(stores)
    await _triage(stores, _concern("c-1", HOUSING))
    await cases.link_case(staff=stores.staff, decisions=stores.decisions, data=CaseOpened(
        case_id="case-1", concern_id="c-1", channel_kind="officers", unit="unit-01", category="housing",
        severity="medium", opened_at=SENT))
    await cases.follow_case(decisions=stores.decisions, case_id="case-1", state="talk_held",
                               at=SENT + timedelta(days=2))
    # A state that arrives late (an older one) does not replace the newer.
    await cases.follow_case(decisions=stores.decisions, case_id="case-1", state="talk_scheduled",
                               at=SENT + timedelta(days=1))
    decision = await stores.decisions.get("c-1")
    assert decision is not None and (decision["case_id"], decision["case_state"]) == ("case-1", "talk_held")
    await cases.close_case(staff=stores.staff, decisions=stores.decisions, clusters=stores.clusters,
                              data=CaseResolved(
                                  case_id="case-1", concern_ids=["c-1"], method="resolved_offline",
                                  outcome_code="difficulty_resolved", channel_kind="officers", unit="unit-01",
                                  category="housing", severity="medium", opened_at=SENT,
                                  resolved_at=SENT + timedelta(days=3)))
    assert await _load(stores) == {} and not (await stores.decisions.get("c-1") or {})["open"]
    await cases.reopen_case(staff=stores.staff, decisions=stores.decisions, clusters=stores.clusters,
                               data=CaseReopened(case_id="case-1", reason_code="problem_recurred",
                                                 reopened_at=SENT + timedelta(days=4)))
    assert await _load(stores) == {"cc-1": 1}
    assert (await stores.decisions.get("c-1") or {})["case_state"] == "reopened"


async def test_an_older_staff_update_arriving_late_is_ignored(stores: TriageStores, business_clock: Any) -> None:
    await staff.record_staff(staff=stores.staff, data=StaffUpdated(
        staff_id="ps-1", roles=["psychologist"], on_leave=True, updated_at=SENT))  # type: ignore[list-item]
    await staff.record_staff(staff=stores.staff, data=StaffUpdated(
        staff_id="ps-1", roles=["psychologist"], on_leave=False, updated_at=SENT - timedelta(hours=1)))  # type: ignore[list-item]
    assert (await stores.staff.get("ps-1") or {})["on_leave"] is True
