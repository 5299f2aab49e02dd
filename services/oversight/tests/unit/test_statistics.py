"""The pre-aggregation plan and the report, checked against a hand-counted year of events."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

from tongpin.oversight.domain.periods import parse_period
from tongpin.oversight.domain.statistics import (
    Increment,
    increments_for,
    parse_scope_key,
    participation_at,
    report,
    report_rows,
    scope_fields,
    scope_key,
    scope_keys_for,
    suppress,
    to_csv,
)
from tongpin.oversight.domain.validation import occurred_at
from tongpin.shared import events

pytestmark = pytest.mark.unit


def at(month: int, day: int, hour: int = 2, minute: int = 0) -> datetime:
    """A UTC instant in 2026 (02:00 UTC is 10:00 in Shanghai, safely inside the local day)."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def apply(increments: Iterable[Increment], docs: dict[str, dict[str, Any]]) -> None:
    """What MongoDB's upsert + $inc does with each increment."""
    for inc in increments:
        doc = docs.setdefault(inc.scope_key, {"_id": inc.scope_key, **scope_fields(inc.scope_key)})
        *parents, leaf = inc.field_path.split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = node.get(leaf, 0) + inc.amount


MEMBER_KIND = {"officers": "officer", "families": "family", "supervision": "supervisor"}


def roster(n: int, kind: str, unit: str | None, when: datetime, active: bool = True) -> events.RosterUpdated:
    return events.RosterUpdated.model_validate({
        "member_id": f"m-{kind}-{n}", "member_kind": MEMBER_KIND[kind], "channel_kind": kind, "unit": unit,
        "active": active, "effective_at": when,
    })


def joined(n: int, kind: str, unit: str | None, when: datetime) -> events.MemberJoined:
    return events.MemberJoined.model_validate({
        "member_id": f"m-{kind}-{n}", "member_kind": MEMBER_KIND[kind], "channel_id": f"ch-{kind}",
        "channel_kind": kind, "unit": unit, "joined_at": when,
    })


def triaged(
    n: int, kind: str, category: str, severity: str, route: str, unit: str | None, **extra: Any
) -> events.ConcernTriaged:
    return events.ConcernTriaged.model_validate({
        "concern_id": f"c{n}", "channel_id": f"ch-{kind}", "channel_kind": kind, "unit": unit,
        "category": category, "severity": severity, "route": route, "ruleset_version": 1,
        "triaged_at": at(3, n), **extra,
    })


def resolved(case: str, method: str, unit: str | None, opened: datetime, first: datetime | None,
             done: datetime, fr_met: bool | None, res_met: bool | None) -> events.CaseResolved:
    return events.CaseResolved.model_validate({
        "case_id": case, "method": method, "outcome_code": "done", "channel_kind": "officers", "unit": unit,
        "category": "housing", "severity": "medium", "opened_at": opened, "first_response_at": first,
        "first_response_met": fr_met, "resolution_met": res_met, "resolved_at": done,
    })


C2_FIRST = resolved("C2", "answered_online", "U01", at(3, 1), at(3, 1, 2, 20), at(3, 1, 5), True, True)
C2_AGAIN = resolved("C2", "resolved_offline", "U01", at(3, 1), at(3, 1, 2, 20), at(4, 2, 2), True, False)


def fixture() -> list[tuple[events.EventData, dict[str, Any]]]:
    """About thirty events; every expected figure below is counted by hand from this list."""
    return [
        # Roster: officers U01 x3, U02 x2, one U02 officer leaves the roster in March -> 4; families 2.
        (roster(1, "officers", "U01", at(1, 2)), {}),
        (roster(2, "officers", "U01", at(1, 2)), {}),
        (roster(3, "officers", "U01", at(1, 2)), {}),
        (roster(4, "officers", "U02", at(1, 2)), {}),
        (roster(5, "officers", "U02", at(1, 2)), {}),
        (roster(5, "officers", "U02", at(3, 9), active=False), {}),
        (roster(1, "families", None, at(1, 2)), {}),
        (roster(2, "families", None, at(1, 2)), {}),
        # Joins: 4 officers, one leaves -> 3 of 4 = 75%; one family -> 1 of 2 = 50%; one joins in 2027.
        (joined(1, "officers", "U01", at(1, 5)), {}),
        (joined(2, "officers", "U01", at(1, 5)), {}),
        (joined(3, "officers", "U01", at(2, 5)), {}),
        (joined(4, "officers", "U02", at(2, 5)), {}),
        (events.MemberLeft(member_id="m-officers-3", member_kind="officer", channel_id="ch-officers",
                           channel_kind="officers", unit="U01", left_at=at(6, 1)), {}),
        (joined(1, "families", None, at(1, 6)), {}),
        (joined(2, "families", None, datetime(2027, 1, 3, tzinfo=UTC)), {}),
        # Triage: five concerns (3 officers, 1 families, 1 supervision) and two dismissed chatter.
        (triaged(1, "officers", "housing", "high", "answer_online", "U01"), {}),
        (triaged(2, "officers", "pay_benefits", "medium", "answer_online", "U01"), {}),
        (triaged(3, "officers", "housing", "medium", "psych_support", "U02", flags=["urgent_hardship"]), {}),
        (triaged(4, "families", "marriage_family", "low", "oversight", None), {}),
        (triaged(5, "supervision", "conduct", "high", "oversight", "U02"), {}),
        (triaged(6, "officers", "other", "low", "dismiss", "U01"), {}),
        (triaged(7, "families", "other", "low", "dismiss", None), {}),
        # Cases: C1 and C2 answered online, C3 offline, C4 by the committee; C2 reopened and resolved
        # offline in April (its earlier counts are replaced).
        (resolved("C1", "answered_online", "U01", at(3, 1), at(3, 1, 2, 4), at(3, 1, 2, 50), True, True), {}),
        (C2_FIRST, {}),
        (resolved("C3", "resolved_offline", "U02", at(3, 1), at(3, 1, 3, 30), at(3, 4), False, True), {}),
        (resolved("C4", "by_committee", None, at(2, 1), None, at(3, 13), None, False), {}),
        (events.CaseReopened(case_id="C2", reason_code="not_fixed", reopened_at=at(4, 1)), {}),
        (C2_AGAIN, {"previous": C2_FIRST}),
        # Oversight: three items found, two resolved in 2026, the third closed in January 2027.
        (events.OversightItemOpened(item_id="i4", concern_id="c4", channel_kind="families",
                                    category="marriage_family", status="received", opened_at=at(3, 4)), {}),
        (events.OversightItemOpened(item_id="i5", concern_id="c5", channel_kind="supervision",
                                    category="conduct", unit="U02", status="received", opened_at=at(3, 5)), {}),
        (events.OversightItemOpened(item_id="i6", concern_id="c8", channel_kind="families",
                                    category="health", status="received", opened_at=at(12, 1)), {}),
        (events.OversightItemClosed(item_id="i4", concern_id="c4", status="resolved", closed_at=at(5, 1)), {}),
        (events.OversightItemClosed(item_id="i5", concern_id="c5", status="resolved", closed_at=at(5, 2)),
         {"unit": "U02"}),
        (events.OversightItemClosed(item_id="i6", concern_id="c8", status="not_substantiated",
                                    closed_at=datetime(2027, 1, 10, tzinfo=UTC)), {}),
        # Text-carrying events never count (oversight does not even bind them).
        (events.ConcernRaised(concern_id="c9", channel_id="ch-officers", channel_kind="officers",
                              origin="channel", text="房子的事", sent_at=at(3, 1)), {}),
    ]


@pytest.fixture(scope="module")
def docs() -> dict[str, dict[str, Any]]:
    store: dict[str, dict[str, Any]] = {}
    for data, extra in fixture():
        apply(increments_for(event_type=data.routing_key(), data=data, at=occurred_at(data), **extra), store)
    return store


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


def test_increments_for_a_join_hit_all_units_and_its_unit() -> None:
    data = joined(1, "officers", "U01", at(3, 31, 17))  # 01:00 on 1 April in Shanghai
    assert increments_for(event_type="member.joined", data=data.model_dump(mode="json"), at=data.joined_at) == [
        Increment("month:2026-04|unit:*", "participation.joins.officers", 1),
        Increment("day:2026-04-01|unit:*", "participation.joined.officers", 1),
        Increment("month:2026-04|unit:U01", "participation.joins.officers", 1),
        Increment("day:2026-04-01|unit:U01", "participation.joined.officers", 1),
    ]


def test_increments_for_a_resolution() -> None:
    data = resolved("C1", "answered_online", None, at(3, 1), at(3, 1, 2, 4), at(3, 1, 2, 50), True, False)
    paths = {i.field_path for i in increments_for(event_type="case.resolved.v1", data=data, at=data.resolved_at)}
    assert paths == {
        "cases.resolved.answered_online", "cases.resolved_by_channel.officers", "cases.resolved_by_category.housing",
        "targets.first_response.met", "targets.resolution.missed",
        "durations.first_response.le_5m", "durations.resolution.le_60m",
    }


def test_dismissed_chatter_is_not_a_concern() -> None:
    data = triaged(6, "officers", "other", "low", "dismiss", None)
    incs = increments_for(event_type="concern.triaged", data=data, at=data.triaged_at)
    assert [i.field_path for i in incs] == ["chatter.dismissed", "chatter.by_channel.officers"]


def test_override_replaces_the_earlier_decision() -> None:
    first = triaged(1, "officers", "other", "low", "dismiss", "U01")
    second = triaged(1, "officers", "housing", "high", "answer_online", "U01", overridden=True)
    store: dict[str, dict[str, Any]] = {}
    apply(increments_for(event_type="concern.triaged", data=first, at=first.triaged_at), store)
    apply(increments_for(event_type="concern.triaged", data=second, at=second.triaged_at, previous=first), store)
    figures = report(store.values(), period=parse_period("2026-03"))
    assert figures["chatter"]["dismissed"] == 0
    assert figures["concerns"]["total"] == 1 and figures["concerns"]["by_category"]["housing"] == 1
    assert figures["concerns"]["overridden"] == 1


def test_unknown_type_and_bad_data_are_refused() -> None:
    with pytest.raises(ValueError):
        increments_for(event_type="case.vanished", data={}, at=at(3, 1))
    with pytest.raises(ValueError):
        increments_for(event_type="case.reopened", data={"case_id": "C1"}, at=at(3, 1))


def test_year_report_matches_hand_counts(docs: dict[str, dict[str, Any]]) -> None:
    figures = report(docs.values(), period=parse_period("2026"), day_docs=docs.values())

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
    assert figures["chatter"] == {"dismissed": 2, "by_channel": {"officers": 1, "families": 1, "supervision": 0}}

    cases = figures["cases"]
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
    # Resolution: C1 le_60m, C3 le_4320m, C2 (32 days) and C4 (40 days) beyond 30 days.
    res = figures["durations"]["resolution"]
    assert (res["count"], res["median_minutes"], res["p90_minutes"], res["p90_over_limit"]) == (4, 4320.0, None, True)
    assert res["buckets"] == {"le_60m": 1, "le_4320m": 1, "gt_43200m": 2}
    assert figures["targets"]["resolution"] == {"met": 2, "missed": 2, "rate": 0.5}
    assert figures["suppressed"] == []


def test_quarter_and_unit_reports(docs: dict[str, dict[str, Any]]) -> None:
    q1 = report(docs.values(), period=parse_period("2026-Q1"), day_docs=docs.values())
    # C2's first resolution was in March but was replaced by the April one.
    assert q1["cases"]["resolved"] == {"answered_online": 1, "resolved_offline": 1, "by_committee": 1, "total": 3}
    assert q1["oversight"]["found"] == 2 and q1["oversight"]["resolved"] == 0
    # At the end of March: 5 - 1 officers on the roster, 4 joined, nobody had left yet.
    assert q1["participation"]["officers"] == {"joined": 4, "roster": 4, "ratio": 1.0}

    u01 = report(docs.values(), period=parse_period("2026"), unit="U01", day_docs=docs.values())
    assert u01["concerns"]["total"] == 2
    assert u01["cases"]["resolved"] == {"answered_online": 1, "resolved_offline": 1, "by_committee": 0, "total": 2}
    assert u01["participation"]["officers"] == {"joined": 2, "roster": 3, "ratio": 0.6667}
    u02 = report(docs.values(), period=parse_period("2026"), unit="U02", day_docs=docs.values())
    assert (u02["oversight"]["found"], u02["oversight"]["resolved"]) == (1, 1)

    assert report(docs.values(), period=parse_period("2027"))["oversight"] == {
        "found": 0, "resolved": 0, "not_substantiated": 1,
        "by_channel": {"families": 0, "supervision": 0}, "by_category": dict.fromkeys(events.CATEGORIES, 0),
    }


def test_participation_at_a_date(docs: dict[str, dict[str, Any]]) -> None:
    on_jan_31 = participation_at(docs.values(), on=datetime(2026, 1, 31).date())
    assert on_jan_31["officers"] == {"joined": 2, "roster": 5, "ratio": 0.4}


def test_the_source_storys_figures_from_raw_counts() -> None:
    """72 answered online, 24 offline, 13 found / 13 resolved, 93% and 86.4% participation."""
    store: dict[str, dict[str, Any]] = {}
    for n in range(100):
        apply(increments_for(event_type="roster.updated", data=roster(n, "officers", "U01", at(1, 1)), at=at(1, 1)),
              store)
    for n in range(93):
        apply(increments_for(event_type="member.joined", data=joined(n, "officers", "U01", at(1, 2)), at=at(1, 2)),
              store)
    for n in range(125):
        apply(increments_for(event_type="roster.updated", data=roster(n, "families", None, at(1, 1)), at=at(1, 1)),
              store)
    for n in range(108):
        apply(increments_for(event_type="member.joined", data=joined(n, "families", None, at(1, 2)), at=at(1, 2)),
              store)
    for n, method in enumerate(["answered_online"] * 72 + ["resolved_offline"] * 24):
        data = resolved(f"C{n}", method, "U01", at(4, 1), at(4, 1, 3), at(4, 2), True, True)
        apply(increments_for(event_type="case.resolved", data=data, at=data.resolved_at), store)
    for n in range(13):
        opened = events.OversightItemOpened(item_id=f"i{n}", concern_id=f"c{n}", channel_kind="supervision",
                                            category="conduct", status="received", opened_at=at(5, 1))
        closed = events.OversightItemClosed(item_id=f"i{n}", concern_id=f"c{n}", status="resolved",
                                            closed_at=at(6, 1))
        for item_event in (opened, closed):
            apply(increments_for(event_type=item_event.event_type, data=item_event, at=occurred_at(item_event)),
                  store)
    figures = report(store.values(), period=parse_period("2026"), day_docs=store.values())
    assert figures["participation"]["officers"]["ratio"] == 0.93
    assert figures["participation"]["families"]["ratio"] == 0.864
    assert figures["cases"]["resolved"]["answered_online"] == 72
    assert figures["cases"]["resolved"]["resolved_offline"] == 24
    assert (figures["oversight"]["found"], figures["oversight"]["resolved"]) == (13, 13)


def test_suppress_hides_two_and_shows_five() -> None:
    table = suppress({"housing": 2, "pay_benefits": 5, "health": 1, "career": 0}, threshold=3)
    assert table.values == {"housing": None, "pay_benefits": 5, "health": None, "career": 0}
    assert table.suppressed == ("housing", "health")


def test_suppress_hides_a_complement_when_one_cell_alone_would_be_recoverable() -> None:
    table = suppress({"a": 2, "b": 9, "c": 5, "d": 0}, threshold=3)
    assert table.values == {"a": None, "b": 9, "c": None, "d": 0}
    assert suppress({"a": 2, "b": 9, "c": 5}, threshold=3, complementary=False).values == {"a": None, "b": 9, "c": 5}
    assert suppress({"a": 3, "b": 5}, threshold=3).suppressed == ()
    assert suppress({"a": 2, "b": 5}, threshold=1).suppressed == ()


def test_report_suppression(docs: dict[str, dict[str, Any]]) -> None:
    figures = report(docs.values(), period=parse_period("2026"), day_docs=docs.values(), threshold=3)
    assert figures["concerns"]["by_channel"] == {"officers": 3, "families": None, "supervision": None}
    assert "concerns.by_channel.families" in figures["suppressed"]
    assert figures["concerns"]["total"] == 5  # totals stay; the breakdown no longer points at one person
    assert figures["suppression"] == {"threshold": 3}


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


def test_report_rows_flatten_for_export(docs: dict[str, dict[str, Any]]) -> None:
    rows = report_rows(report(docs.values(), period=parse_period("2026"), day_docs=docs.values()))
    by_metric = {row["metric"]: row["value"] for row in rows}
    assert by_metric["cases.resolved.answered_online"] == 1
    assert by_metric["participation.officers.ratio"] == 0.75
    assert not any(m.startswith("durations.resolution.buckets") for m in by_metric)
    assert to_csv(rows, columns=["metric", "value"]).count("\r\n") == len(rows) + 1


def test_times_a_day_apart_in_shanghai() -> None:
    late = at(3, 31, 16, 1)  # 00:01 on 1 April locally
    assert {i.scope_key for i in increments_for(
        event_type="case.reopened", data=events.CaseReopened(case_id="C", reason_code="x", reopened_at=late),
        at=late)} == {"month:2026-04|unit:*"}
