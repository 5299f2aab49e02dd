"""Counting and reports, checked against a hand-counted year of events (no database: ``Tally``)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tongpin.oversight.domain import statistics, threads
from tongpin.oversight.domain.periods import parse_period
from tongpin.oversight.domain.statistics import (
    Increment,
    event_facts,
    increments,
    parse_scope_key,
    report_rows,
    scope_fields,
    scope_key,
    scope_keys_for,
    to_csv,
)
from tongpin.oversight.domain.tally import Tally
from tongpin.shared import events

pytestmark = pytest.mark.unit


def at(month: int, day: int, hour: int = 2, minute: int = 0, year: int = 2026) -> datetime:
    """A UTC instant (02:00 UTC is 10:00 in Shanghai, safely inside the local day)."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


MEMBER_KIND = {"officers": "officer", "families": "family", "supervision": "supervisor"}


def roster(n: int, kind: str, unit: str, when: datetime, active: bool = True) -> events.RosterUpdated:
    return events.RosterUpdated.model_validate({
        "member_id": f"m-{kind}-{n}", "member_kind": MEMBER_KIND[kind], "channel_kind": kind, "unit": unit,
        "active": active, "effective_at": when,
    })


def joined(n: int, kind: str, unit: str, when: datetime) -> events.MemberJoined:
    return events.MemberJoined.model_validate({
        "member_id": f"m-{kind}-{n}", "member_kind": MEMBER_KIND[kind], "channel_id": f"ch-{kind}",
        "channel_kind": kind, "unit": unit, "joined_at": when,
    })


def triaged(
    n: int, kind: str, category: str, severity: str, route: str, unit: str, **extra: Any
) -> events.ConcernTriaged:
    return events.ConcernTriaged.model_validate({
        "concern_id": f"c{n}", "channel_id": f"ch-{kind}", "channel_kind": kind, "unit": unit,
        "category": category, "severity": severity, "route": route, "ruleset_version": 1,
        "triaged_at": at(3, n, 3), "raised_at": at(3, n), **extra,
    })


def opened(case: str, concern: str, unit: str, when: datetime, category: str = "housing",
           kind: str = "officers") -> events.CaseOpened:
    return events.CaseOpened.model_validate({
        "case_id": case, "concern_id": concern, "channel_kind": kind, "unit": unit, "category": category,
        "severity": "medium", "opened_at": when,
    })


def resolved(case: str, method: str, unit: str, opened_at: datetime, first: datetime | None, done: datetime,
             fr_met: bool | None, res_met: bool | None, kind: str = "officers") -> events.CaseResolved:
    return events.CaseResolved.model_validate({
        "case_id": case, "method": method, "outcome_code": "question_answered", "channel_kind": kind, "unit": unit,
        "category": "housing", "severity": "medium", "opened_at": opened_at, "first_response_at": first,
        "first_response_met": fr_met, "resolution_met": res_met, "resolved_at": done,
    })


def item_opened(item: str, concern: str, kind: str, category: str, unit: str, when: datetime) -> events.EventData:
    return events.OversightItemOpened(item_id=item, concern_id=concern, channel_kind=kind,  # type: ignore[arg-type]
                                      category=category, unit=unit, status="received", opened_at=when)  # type: ignore[arg-type]


def item_closed(item: str, concern: str, status: str, unit: str, when: datetime) -> events.EventData:
    return events.OversightItemClosed(item_id=item, concern_id=concern, status=status,  # type: ignore[arg-type]
                                      unit=unit, closed_at=when)


def fixture() -> list[events.EventData]:
    """About forty events; every expected figure below is counted by hand from this list."""
    return [
        # Roster: officers U01 x3, U02 x2, one U02 officer leaves the roster in March -> 4; families 2 (U01).
        roster(1, "officers", "U01", at(1, 2)), roster(2, "officers", "U01", at(1, 2)),
        roster(3, "officers", "U01", at(1, 2)), roster(4, "officers", "U02", at(1, 2)),
        roster(5, "officers", "U02", at(1, 2)), roster(5, "officers", "U02", at(3, 9), active=False),
        roster(1, "families", "U01", at(1, 2)), roster(2, "families", "U01", at(1, 2)),
        # Joins: 4 officers, one leaves -> 3 of 4 = 75%; one family -> 1 of 2 = 50%; one joins in 2027.
        joined(1, "officers", "U01", at(1, 5)), joined(2, "officers", "U01", at(1, 5)),
        joined(3, "officers", "U01", at(2, 5)), joined(4, "officers", "U02", at(2, 5)),
        events.MemberLeft(member_id="m-officers-3", member_kind="officer", channel_id="ch-officers",
                          channel_kind="officers", unit="U01", left_at=at(6, 1)),
        joined(1, "families", "U01", at(1, 6)), joined(2, "families", "U01", at(1, 3, year=2027)),
        # Triage: five concerns (3 officers, 1 families, 1 supervision) and two dismissed chatter.
        triaged(1, "officers", "housing", "high", "answer_online", "U01"),
        triaged(2, "officers", "pay_benefits", "medium", "answer_online", "U01"),
        triaged(3, "officers", "housing", "medium", "psych_support", "U02", flags=["urgent_hardship"]),
        triaged(4, "families", "marriage_family", "low", "oversight", "U01"),
        triaged(5, "supervision", "conduct", "high", "oversight", "U02"),
        triaged(6, "officers", "other", "low", "dismiss", "U01"),
        triaged(7, "families", "other", "low", "dismiss", "U01"),
        # Cases: C1 and C2 answered online, C3 offline, C4 by the committee; C2 reopened on 1 April and
        # resolved offline the next day (its March resolution no longer counts).
        opened("C1", "c1", "U01", at(3, 1)), opened("C2", "c2", "U01", at(3, 1)),
        opened("C3", "c3", "U02", at(3, 1)), opened("C4", "c4", "U01", at(3, 4), kind="families"),
        resolved("C1", "answered_online", "U01", at(3, 1), at(3, 1, 2, 4), at(3, 1, 2, 50), True, True),
        resolved("C2", "answered_online", "U01", at(3, 1), at(3, 1, 2, 20), at(3, 1, 5), True, True),
        resolved("C3", "resolved_offline", "U02", at(3, 1), at(3, 1, 3, 30), at(3, 4), False, True),
        resolved("C4", "by_committee", "U01", at(3, 4), None, at(3, 13), None, False, kind="families"),
        events.CaseReopened(case_id="C2", reason_code="not_resolved", unit="U01", reopened_at=at(4, 1)),
        resolved("C2", "resolved_offline", "U01", at(3, 1), at(3, 1, 2, 20), at(4, 2, 2), True, False),
        # Oversight: three items found, two resolved in 2026, the third closed in January 2027.
        item_opened("i4", "c4", "families", "marriage_family", "U01", at(3, 4)),
        item_opened("i5", "c5", "supervision", "conduct", "U02", at(3, 5)),
        item_opened("i6", "c8", "families", "health", "U01", at(12, 1)),
        item_closed("i4", "c4", "resolved", "U01", at(5, 1)),
        item_closed("i5", "c5", "resolved", "U02", at(5, 2)),
        item_closed("i6", "c8", "not_substantiated", "U01", at(1, 10, year=2027)),
    ]


def tally_of(items: list[events.EventData]) -> Tally:
    tally = Tally()
    for n, data in enumerate(items):
        tally.record(data, event_id=f"e{n}")
    return tally


@pytest.fixture(scope="module")
def tally() -> Tally:
    return tally_of(fixture())


def test_scope_keys_round_trip() -> None:
    key = scope_key(kind="month", key="2026-03", unit="U.01")
    assert key == "month:2026-03|unit:U.01"
    assert parse_scope_key(key).unit == "U.01"
    assert scope_fields("day:2026-03-01|unit:*") == {"kind": "day", "key": "2026-03-01", "unit": "*"}
    assert scope_keys_for(parse_period("2026-Q1"), unit="U01") == [
        "month:2026-01|unit:U01", "month:2026-02|unit:U01", "month:2026-03|unit:U01",
    ]
    with pytest.raises(ValueError):
        parse_scope_key("month-2026")


def test_a_join_counts_in_its_unit_and_in_all_units() -> None:
    data = joined(1, "officers", "U01", at(3, 31, 17))  # 01:00 on 1 April in Shanghai
    assert increments(event_facts(data)) == [
        Increment("day:2026-04-01|unit:U01", "participation.joined.officers", 1),
        Increment("day:2026-04-01|unit:*", "participation.joined.officers", 1),
        Increment("month:2026-04|unit:U01", "participation.joins.officers", 1),
        Increment("month:2026-04|unit:*", "participation.joins.officers", 1),
    ]


def test_the_bureau_time_zone_decides_the_month() -> None:
    data = joined(1, "officers", "U01", at(3, 31, 17))
    assert {inc.scope_key for inc in increments(event_facts(data, zone=ZoneInfo("UTC")))} >= {
        "month:2026-03|unit:U01", "month:2026-03|unit:*"}


def test_a_resolution_counts_method_channel_category_targets_and_durations() -> None:
    tally = tally_of([opened("C1", "c1", "U01", at(3, 1)),
                      resolved("C1", "answered_online", "U01", at(3, 1), at(3, 1, 2, 4), at(3, 1, 2, 50), True, False)])
    paths = {path for (_, _, path) in tally.thread_counts["c1"]}
    assert paths - {"cases.opened", "cases.opened_by_category.housing", "cases.opened_by_channel.officers"} == {
        "cases.resolved.answered_online", "cases.resolved_by_channel.officers", "cases.resolved_by_category.housing",
        "targets.first_response.met", "targets.resolution.missed",
        "durations.first_response.le_5m", "durations.resolution.le_60m",
    }


def test_dismissed_chatter_is_not_a_concern() -> None:
    tally = tally_of([triaged(6, "officers", "other", "low", "dismiss", "U01")])
    assert sorted(path for (_, _, path) in tally.thread_counts["c6"]) == [
        "chatter.by_channel.officers", "chatter.dismissed"]


def test_an_override_moves_every_figure_of_its_concern_once() -> None:
    """The category after the override counts for the concern, its case and its item alike."""
    first = triaged(4, "families", "other", "low", "oversight", "U01")
    second = triaged(4, "families", "conduct", "high", "oversight", "U01", overridden=True,
                     triaged_at=at(3, 4, 8))
    tally = tally_of([first, opened("C4", "c4", "U01", at(3, 4, 4), category="other", kind="families"),
                      item_opened("i4", "c4", "families", "other", "U01", at(3, 4, 3)),
                      events.CaseEscalated(case_id="C4", escalation_id="E4", category="other", unit="U01",
                                           escalated_at=at(3, 5)),
                      second,
                      resolved("C4", "answered_online", "U01", at(3, 4, 4), at(3, 4, 5), at(3, 6), True, True,
                               kind="families")])
    figures = tally.reports(parse_period("2026-03"))["*"]
    assert figures["concerns"]["by_category"]["conduct"] == 1 and figures["concerns"]["by_category"]["other"] == 0
    assert figures["concerns"]["overridden"] == 1
    assert figures["cases"]["opened_by_category"]["conduct"] == 1
    assert figures["cases"]["resolved_by_category"]["conduct"] == 1
    assert figures["escalations"]["by_category"]["conduct"] == 1
    assert figures["oversight"]["by_category"]["conduct"] == 1
    assert figures["oversight"]["by_category"]["other"] == 0
    # The earlier decision arriving again (redelivered, older) changes nothing.
    tally.record(first, event_id="again")
    assert tally.reports(parse_period("2026-03"))["*"]["concerns"]["by_category"]["conduct"] == 1


def test_crisis_counts_alike_for_concerns_and_cases() -> None:
    crisis = triaged(3, "officers", "mental_distress", "critical", "psych_support", "U02", crisis=True,
                     flags=["self_harm"])
    tally = tally_of([
        events.EscalationRaised(concern_id="c3", channel_id="ch", channel_kind="officers", unit="U02",
                                category="mental_distress", severity="critical", flags=["self_harm"],
                                raised_at=at(3, 3, 3)),
        opened("C3", "c3", "U02", at(3, 3, 3), category="mental_distress"),  # the fast path opened it first
        crisis])
    figures = tally.reports(parse_period("2026-03"))["*"]
    assert figures["concerns"]["crisis"] == figures["cases"]["crisis"] == 1
    assert figures["concerns"]["crisis_fast_path"] == 1
    assert figures["concerns"]["flags"]["self_harm"] == 1


def test_year_report_matches_hand_counts(tally: Tally) -> None:
    figures = tally.reports(parse_period("2026"))["*"]

    participation = figures["participation"]
    assert participation["officers"] == {"joined": 3, "roster": 4, "ratio": 0.75}
    assert participation["families"] == {"joined": 1, "roster": 2, "ratio": 0.5}
    assert participation["supervision"] == {"joined": 0, "roster": 0, "ratio": None}
    assert participation["joins"] == {"officers": 4, "families": 1, "supervision": 0}
    assert participation["leaves"]["officers"] == 1

    concerns = figures["concerns"]
    assert concerns["total"] == 5
    assert concerns["by_channel"] == {"officers": 3, "families": 1, "supervision": 1}
    assert concerns["by_category"]["housing"] == 2 and concerns["by_category"]["other"] == 0
    assert concerns["by_severity"] == {"low": 1, "medium": 2, "high": 2, "critical": 0}
    assert concerns["by_route"] == {"answer_online": 2, "psych_support": 1, "committee": 0, "oversight": 2}
    assert concerns["flags"]["urgent_hardship"] == 1
    assert figures["chatter"] == {"dismissed": 2, "by_channel": {"officers": 1, "families": 1, "supervision": 0},
                                  "overridden": 0}

    cases = figures["cases"]
    assert cases["opened"] == 4 and cases["opened_by_channel"] == {"officers": 3, "families": 1, "supervision": 0}
    assert cases["resolved"] == {"answered_online": 1, "resolved_offline": 2, "by_committee": 1, "total": 4}
    assert cases["reopened"] == 1

    assert figures["oversight"]["found"] == 3
    assert figures["oversight"]["resolved"] == 2
    assert figures["oversight"]["not_substantiated"] == 0
    assert figures["oversight"]["by_channel"] == {"families": 2, "supervision": 1}

    # First response: C1 le_5m, C2 le_30m, C3 le_120m -> median 30 min, p90 120 min; met 2, missed 1.
    first = figures["durations"]["first_response"]
    assert (first["count"], first["median_minutes"], first["p90_minutes"]) == (3, 30.0, 120.0)
    assert figures["targets"]["first_response"] == {"met": 2, "missed": 1, "rate": 0.6667}
    # Resolution: C1 50 min, C3 3 days, C4 9 days, C2 32 days (beyond the last bound).
    res = figures["durations"]["resolution"]
    assert (res["count"], res["median_minutes"], res["p90_minutes"], res["p90_over_limit"]) == (4, 4320.0, None, True)
    assert {k: v for k, v in res["buckets"].items() if v} == {"le_60m": 1, "le_4320m": 1, "le_20160m": 1,
                                                             "gt_43200m": 1}
    assert figures["targets"]["resolution"] == {"met": 2, "missed": 2, "rate": 0.5}


def test_quarter_and_unit_reports(tally: Tally) -> None:
    q1 = tally.reports(parse_period("2026-Q1"))["*"]
    # C2's March resolution was undone by its reopening in April.
    assert q1["cases"]["resolved"] == {"answered_online": 1, "resolved_offline": 1, "by_committee": 1, "total": 3}
    assert q1["oversight"]["found"] == 2 and q1["oversight"]["resolved"] == 0
    # At the end of March: 5 - 1 officers on the roster, 4 joined, nobody had left yet.
    assert q1["participation"]["officers"] == {"joined": 4, "roster": 4, "ratio": 1.0}

    year = tally.reports(parse_period("2026"))
    assert year["U01"]["concerns"]["total"] == 3  # the families' concern counts in its officer's unit
    assert year["U01"]["cases"]["resolved"] == {"answered_online": 1, "resolved_offline": 1, "by_committee": 1,
                                                "total": 3}
    assert year["U01"]["participation"]["officers"] == {"joined": 2, "roster": 3, "ratio": 0.6667}
    assert (year["U02"]["oversight"]["found"], year["U02"]["oversight"]["resolved"]) == (1, 1)

    next_year = tally.reports(parse_period("2027"))["*"]["oversight"]
    assert (next_year["found"], next_year["resolved"], next_year["not_substantiated"]) == (0, 0, 1)


def test_units_add_up_to_the_bureau_and_months_to_the_year(tally: Tally) -> None:
    year = tally.reports(parse_period("2026"))
    counts = {unit: statistics.counts_of(figures) for unit, figures in year.items()}
    for path, value in counts["*"].items():
        assert value == counts["U01"][path] + counts["U02"][path], path
    months = [statistics.counts_of(tally.reports(parse_period(f"2026-{m:02d}"))["*"]) for m in range(1, 13)]
    for path, value in counts["*"].items():
        if path.startswith("participation.") and not path.startswith(("participation.joins",
                                                                       "participation.leaves")):
            continue  # a stock on the period's last day, not a flow
        assert value == sum(month[path] for month in months), path


def test_a_late_event_counts_in_the_month_it_belongs_to() -> None:
    items = fixture()
    march_resolution = items.pop(next(i for i, e in enumerate(items) if isinstance(e, events.CaseResolved)))
    tally = tally_of([*items, march_resolution])  # C1's March resolution arrives after everything else
    assert tally.reports(parse_period("2026-03"))["*"]["cases"]["resolved"]["answered_online"] == 1
    assert tally.reports(parse_period("2026-04"))["*"]["cases"]["resolved"]["answered_online"] == 0
    # And a reopening that arrives before the resolution it undoes still undoes it.
    reordered = tally_of([opened("C9", "c9", "U01", at(3, 1)),
                          events.CaseReopened(case_id="C9", reason_code="problem_recurred", unit="U01",
                                              reopened_at=at(3, 20)),
                          resolved("C9", "answered_online", "U01", at(3, 1), at(3, 1, 3), at(3, 10), True, True)])
    assert reordered.reports(parse_period("2026-03"))["*"]["cases"]["resolved"]["total"] == 0


def test_the_source_storys_figures_from_raw_counts() -> None:
    """72 answered online, 24 offline, 13 found / 13 resolved, 93% and 86.4% participation."""
    items: list[events.EventData] = []
    items += [roster(n, "officers", "U01", at(1, 1)) for n in range(100)]
    items += [joined(n, "officers", "U01", at(1, 2)) for n in range(93)]
    items += [roster(n, "families", "U01", at(1, 1)) for n in range(125)]
    items += [joined(n, "families", "U01", at(1, 2)) for n in range(108)]
    for n, method in enumerate(["answered_online"] * 72 + ["resolved_offline"] * 24):
        items += [opened(f"C{n}", f"k{n}", "U01", at(4, 1)),
                  resolved(f"C{n}", method, "U01", at(4, 1), at(4, 1, 3), at(4, 2), True, True)]
    for n in range(13):
        items += [item_opened(f"i{n}", f"c{n}", "supervision", "conduct", "U01", at(5, 1)),
                  item_closed(f"i{n}", f"c{n}", "resolved", "U01", at(6, 1))]
    figures = tally_of(items).reports(parse_period("2026"))["*"]
    assert figures["participation"]["officers"]["ratio"] == 0.93
    assert figures["participation"]["families"]["ratio"] == 0.864
    assert figures["cases"]["resolved"]["answered_online"] == 72
    assert figures["cases"]["resolved"]["resolved_offline"] == 24
    assert (figures["oversight"]["found"], figures["oversight"]["resolved"]) == (13, 13)


def test_published_reports_hide_small_counts_and_their_complements(tally: Tally) -> None:
    year = tally.reports(parse_period("2026"), threshold=3)
    bureau, u01 = year["*"], year["U01"]
    # Bureau: families 1 and supervision 1 concerns are small; the officers' 3 must go too, or 5 - 3 = 2.
    assert bureau["concerns"]["total"] == 5
    assert bureau["concerns"]["by_channel"]["families"] is None
    assert "concerns.by_channel.families" in bureau["suppressed"]
    assert sum(v is None for v in bureau["concerns"]["by_channel"].values()) >= 2
    # A unit's small total is hidden, and with it the bureau cannot give it away.
    assert u01["oversight"]["found"] is None
    assert bureau["suppression"] == {"threshold": 3, "method": "complementary"}
    assert tally.reports(parse_period("2026"), threshold=1)["*"]["suppressed"] == []


def test_csv_has_bom_crlf_quoting_and_chinese() -> None:
    rows: list[dict[str, Any]] = [
        {"metric": "线上答疑", "value": 72},
        {"metric": "他说：\"住房, 婚姻\"", "value": None},
        {"metric": "两行\n文字", "value": 0.93},
        {"metric": "=HYPERLINK(1)", "value": -3},
    ]
    text = to_csv(rows, columns=["metric", "value"], headers=["指标", "数值"])
    assert text.startswith("\ufeff指标,数值\r\n")
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    assert '"他说：""住房, 婚姻""",\r\n' in text
    parsed = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert parsed == [
        ["指标", "数值"], ["线上答疑", "72"], ['他说："住房, 婚姻"', ""], ["两行\n文字", "0.93"],
        ["'=HYPERLINK(1)", "-3"],
    ]
    with pytest.raises(ValueError):
        to_csv(rows, columns=["metric"], headers=["a", "b"])


def test_report_rows_flatten_for_export(tally: Tally) -> None:
    rows = report_rows(tally.reports(parse_period("2026"))["*"])
    by_metric = {row["metric"]: row["value"] for row in rows}
    assert by_metric["cases.resolved.answered_online"] == 1
    assert by_metric["participation.officers.ratio"] == 0.75
    assert to_csv(rows, columns=["metric", "value"]).count("\r\n") == len(rows) + 1


def test_times_a_minute_after_midnight_in_shanghai_count_in_the_new_month() -> None:
    late = at(3, 31, 16, 1)  # 00:01 on 1 April locally
    tally = tally_of([opened("C", "c", "U01", at(3, 1)),
                      events.CaseReopened(case_id="C", reason_code="problem_recurred", unit="U01", reopened_at=late)])
    assert ("2026-04", "U01", "cases.reopened") in tally.thread_counts["c"]


def test_a_thread_event_before_its_case_is_refused() -> None:
    with pytest.raises(ValueError):
        threads.apply(threads.empty(), events.CaseReopened(case_id="C", reason_code="problem_recurred", unit="U",
                                                           reopened_at=at(3, 1)), mark="m")


def read(n: int, unit: str, *, target: str, within: bool, received: datetime) -> events.ConcernRead:
    return events.ConcernRead(concern_id=f"r{n}", channel_kind="officers", unit=unit, severity="medium",
                              target=target, received_at=received, due_at=received, read_at=received,
                              within_target=within)  # type: ignore[arg-type]


def test_reads_and_overdue_messages_count_by_target_in_the_month_received() -> None:
    tally = Tally()
    tally.record(read(1, "U01", target="crisis", within=True, received=at(3, 31, 17)), event_id="e1")  # 1 April
    tally.record(read(2, "U01", target="working_day", within=False, received=at(3, 3)), event_id="e2")
    tally.record(read(3, "U02", target="working_day", within=True, received=at(3, 4)), event_id="e3")
    tally.record(events.ReadingOverdue(concern_id="r2", channel_kind="officers", unit="U01", severity="medium",
                                       target="working_day", received_at=at(3, 3), due_at=at(3, 4),
                                       overdue_at=at(3, 4)), event_id="e4")
    march = tally.reports(parse_period("2026-03"))
    assert march["*"]["reading"]["read"] == {"crisis": 0, "high": 0, "working_day": 2}
    assert march["*"]["reading"]["read_within_target"]["working_day"] == 1
    assert march["U01"]["reading"]["overdue"] == {"crisis": 0, "high": 0, "working_day": 1}
    assert march["U02"]["reading"]["read_within_target_total"] == 1
    april = tally.reports(parse_period("2026-04"))["*"]["reading"]
    assert (april["read_total"], april["read_within_target_total"]) == (1, 1)
    year = tally.reports(parse_period("2026"))["*"]["reading"]
    assert (year["read_total"], year["read_within_target_total"], year["overdue_total"]) == (3, 2, 1)


def test_nothing_derived_from_hidden_counts_is_shown() -> None:
    """One case, resolved after 40 days: its counts are hidden, and so is every figure read from them — the
    rates, the medians, and whether the median or p90 went over the histogram's limit."""
    tally = Tally()
    tally.record(triaged(1, "officers", "housing", "medium", "answer_online", "U01"), event_id="e1")
    tally.record(opened("k1", "c1", "U01", at(3, 1, 3)), event_id="e2")
    tally.record(resolved("k1", "answered_online", "U01", at(3, 1, 3), at(3, 1, 4), at(4, 10), fr_met=True,
                          res_met=False), event_id="e3")
    april = tally.reports(parse_period("2026-04"))
    assert april["U01"]["durations"]["resolution"]["median_over_limit"] is True  # the truth, before suppression
    for unit, report in tally.reports(parse_period("2026-04"), threshold=3).items():
        assert report["durations"]["resolution"]["count"] is None, unit
        for name in ("first_response", "resolution"):
            durations = report["durations"][name]
            assert (durations["median_minutes"], durations["p90_minutes"]) == (None, None), (unit, name)
            assert (durations["median_over_limit"], durations["p90_over_limit"]) == (None, None), (unit, name)
            assert report["targets"][name]["rate"] is None, (unit, name)
