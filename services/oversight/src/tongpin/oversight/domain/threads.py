"""A concern's thread: what oversight counts about one concern, its case, talks, escalations and item.

Figures are a function of state. Each thread's contribution to the statistics is ``counted(thread)``:
a set of ``(month, unit, figure) -> amount``. An event updates its thread (``apply``), and the counters
move by the difference between what the thread counted before and after (``changes``). So a
correction — a staff override of triage, a reopened case, a second resolution, an item found not
substantiated after all, an event that arrives late — moves every figure it touches at once, in the
month each belongs to, and nothing is ever counted twice or left behind.

The time rule (which business time each figure uses, all as dates in the bureau's time zone):

=====================================  ==================================================================
figure                                 counted in the month of
=====================================  ==================================================================
concerns.*, chatter.*                  when the concern was raised (its ``sent_at``), whenever triage or
                                       staff decided about it; an override moves it within that month
cases.opened*, cases.crisis            when the case was opened
cases.assignments                      when the case was (re)assigned
cases.resolved*, targets, durations    when the case was resolved (a reopening takes it out again)
cases.reopened                         when the case was reopened
talks.scheduled / talks.held           when the talk was first booked / when it was held
escalations.raised / .decided          when the case went to the committee / when the committee decided
oversight.found                        when the item was opened
oversight.resolved / not_substantiated when the item was closed (a reopened item is counted open again)
oversight.reopened                     when the item was reopened
reading.*                              when the message was received (a first read, or its target passing
                                       unread, counts in that month)
=====================================  ==================================================================

Overrides count one way everywhere: every breakdown by category, severity, route or crisis uses the
concern's decision after the last override (a case, its escalations and its item take their category
from it), and ``concerns.overridden`` / ``chatter.overridden`` say how many of them staff corrected.
A fact counts in the unit its own event names (every counted event names one).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from tongpin.oversight.domain import histogram
from tongpin.oversight.domain.periods import SHANGHAI, month_key
from tongpin.shared import events

Thread = dict[str, Any]
Fact = tuple[str, str, str]  # (month "2026-03", unit, figure path "concerns.by_category.housing")

CLOSED_ITEM = frozenset({"resolved", "not_substantiated"})

# Events that belong to a thread, and how each names it: by concern id, or by case id (looked up).
BY_CONCERN = (events.ConcernTriaged, events.ConcernMerged, events.EscalationRaised, events.CaseOpened,
              events.OversightItemOpened, events.OversightItemUpdated, events.OversightItemClosed)
BY_CASE = (events.CaseAssigned, events.CaseReplied, events.TalkScheduled, events.TalkHeld, events.CaseEscalated,
           events.EscalationDecided, events.CaseResolved, events.CaseReopened)


def thread_key(data: events.EventData) -> tuple[str, str] | None:
    """("concern", id) or ("case", id) naming the thread an event belongs to; None for facts outside threads."""
    if isinstance(data, BY_CONCERN):
        return "concern", str(getattr(data, "concern_id"))  # noqa: B009 - every BY_CONCERN type has it
    if isinstance(data, BY_CASE):
        return "case", str(getattr(data, "case_id"))  # noqa: B009 - every BY_CASE type has it
    return None


def _iso(at: datetime) -> str:
    at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return at.isoformat()


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def empty() -> Thread:
    """A thread nothing is known about yet."""
    return {"concern": None, "merged": False, "fast_path": False, "case": None, "talks": {}, "escalations": {},
            "item": None}


def apply(thread: Thread, data: events.EventData, *, mark: str) -> Thread:
    """The thread after one event (pure). ``mark`` names the event, for facts counted once per event.

    Applying an event twice gives the same thread, and events about the same thing may arrive in any
    order: the later decision, resolution or status (by its own time) is the one that stands.
    """
    out = copy.deepcopy(thread)
    match data:
        case events.ConcernTriaged():
            before = out["concern"]
            if before is None or _iso(data.triaged_at) >= before["triaged_at"]:
                out["concern"] = {
                    "raised_at": _iso(data.raised_at) if data.raised_at else (
                        before["raised_at"] if before else _iso(data.triaged_at)),
                    "triaged_at": _iso(data.triaged_at), "unit": data.unit, "channel_kind": data.channel_kind,
                    "category": data.category, "severity": data.severity, "route": data.route,
                    "flags": sorted(set(data.flags)), "crisis": data.crisis,
                    "overridden": data.overridden or bool(before and before["overridden"]),
                }
            elif data.overridden:
                before["overridden"] = True
        case events.ConcernMerged():
            out["merged"] = True
        case events.EscalationRaised():
            out["fast_path"] = True
        case events.CaseOpened():
            if out["case"] is None:
                out["case"] = {"case_id": data.case_id, "opened_at": _iso(data.opened_at), "unit": data.unit,
                               "channel_kind": data.channel_kind, "category": data.category, "crisis": data.crisis,
                               "assignments": {}, "reopenings": {}, "resolution": None}
        case events.CaseAssigned():
            _case(out, data.case_id, data.unit)["assignments"][mark] = _iso(data.assigned_at)
        case events.CaseReplied():
            _case(out, data.case_id, data.unit)
        case events.TalkScheduled():
            talk = out["talks"].setdefault(data.talk_id, {"unit": data.unit, "scheduled_at": None, "held_at": None})
            at = _iso(data.scheduled_at)
            talk["scheduled_at"] = min(talk["scheduled_at"] or at, at)  # a rescheduled talk was booked once
        case events.TalkHeld():
            talk = out["talks"].setdefault(data.talk_id, {"unit": data.unit, "scheduled_at": None, "held_at": None})
            talk["held_at"] = _iso(data.held_at)
        case events.CaseEscalated():
            entry = out["escalations"].setdefault(data.escalation_id, _escalation(data.unit))
            entry["escalated_at"] = _iso(data.escalated_at)
            entry["category"] = data.category
        case events.EscalationDecided():
            entry = out["escalations"].setdefault(data.escalation_id, _escalation(data.unit))
            entry["decided_at"], entry["decision_code"] = _iso(data.decided_at), data.decision_code
        case events.CaseResolved():
            case = _case(out, data.case_id, data.unit)
            at = _iso(data.resolved_at)
            current = case["resolution"]
            reopened_since = any(when >= at for when in case["reopenings"].values())
            if not reopened_since and (current is None or at >= current["resolved_at"]):
                first = data.first_response_at
                case["resolution"] = {
                    "resolved_at": at, "method": data.method, "channel_kind": data.channel_kind,
                    "unit": data.unit, "category": data.category,
                    "first_response_met": data.first_response_met, "resolution_met": data.resolution_met,
                    "first_response_seconds": (first - data.opened_at).total_seconds() if first else None,
                    "resolution_seconds": (data.resolved_at - data.opened_at).total_seconds(),
                }
        case events.CaseReopened():
            case = _case(out, data.case_id, data.unit)
            at = _iso(data.reopened_at)
            case["reopenings"][mark] = at
            if case["resolution"] is not None and case["resolution"]["resolved_at"] <= at:
                case["resolution"] = None
        case events.OversightItemOpened():
            if out["item"] is None:
                out["item"] = {"item_id": data.item_id, "opened_at": _iso(data.opened_at), "unit": data.unit,
                               "channel_kind": data.channel_kind, "category": data.category, "status": data.status,
                               "status_at": _iso(data.opened_at), "closed_at": None, "reopenings": {}}
        case events.OversightItemUpdated() | events.OversightItemClosed():
            item = out["item"]
            if item is None:
                raise ValueError("an item status before its opening")
            at = _iso(data.changed_at if isinstance(data, events.OversightItemUpdated) else data.closed_at)
            if at >= item["status_at"]:
                item["status"], item["status_at"] = data.status, at
                item["closed_at"] = at if data.status in CLOSED_ITEM else None
            if data.status == "reopened":
                item["reopenings"][mark] = at
    return out


def _escalation(unit: str | None) -> dict[str, Any]:
    return {"unit": unit, "category": None, "escalated_at": None, "decided_at": None, "decision_code": None}


def _case(thread: Thread, case_id: str, unit: str | None) -> dict[str, Any]:
    if thread["case"] is None:
        raise ValueError(f"an event about case {case_id} before the case was opened")
    case: dict[str, Any] = thread["case"]
    return case


def category_of(thread: Thread, fallback: str | None) -> str | None:
    """The category every breakdown uses: the concern's decision after the last override, if known."""
    concern = thread["concern"]
    return str(concern["category"]) if concern is not None else fallback


def counted(thread: Thread, *, zone: tzinfo = SHANGHAI) -> Counter[Fact]:
    """Everything this thread counts, as (month, unit, figure) -> amount."""
    out: Counter[Fact] = Counter()

    def add(at: str, unit: str | None, *paths: str) -> None:
        if unit is None:
            return  # refused on arrival (missing_unit); never counted under no unit
        month = month_key(_at(at), zone)
        for path in paths:
            out[(month, unit, path)] += 1

    concern = thread["concern"]
    if concern is not None:
        at, unit, kind = concern["raised_at"], concern["unit"], concern["channel_kind"]
        if concern["route"] == "dismiss":
            add(at, unit, "chatter.dismissed", f"chatter.by_channel.{kind}")
            if concern["overridden"]:
                add(at, unit, "chatter.overridden")
        else:
            add(at, unit, "concerns.total", f"concerns.by_channel.{kind}",
                f"concerns.by_category.{concern['category']}", f"concerns.by_severity.{concern['severity']}",
                f"concerns.by_route.{concern['route']}",
                *(f"concerns.flags.{flag}" for flag in concern["flags"]))
            if concern["crisis"]:
                add(at, unit, "concerns.crisis")
            if concern["overridden"]:
                add(at, unit, "concerns.overridden")
            if thread["merged"]:
                add(at, unit, "concerns.merged")
            if thread["fast_path"]:
                add(at, unit, "concerns.crisis_fast_path")

    case = thread["case"]
    if case is not None:
        unit = case["unit"]
        category = category_of(thread, case["category"])
        crisis = concern["crisis"] if concern is not None else case["crisis"]
        add(case["opened_at"], unit, "cases.opened", f"cases.opened_by_category.{category}",
            f"cases.opened_by_channel.{case['channel_kind']}")
        if crisis:
            add(case["opened_at"], unit, "cases.crisis")
        for at in case["assignments"].values():
            add(at, unit, "cases.assignments")
        for at in case["reopenings"].values():
            add(at, unit, "cases.reopened")
        done = case["resolution"]
        if done is not None:
            at = done["resolved_at"]
            add(at, unit, f"cases.resolved.{done['method']}",
                f"cases.resolved_by_channel.{done['channel_kind']}", f"cases.resolved_by_category.{category}")
            for target in ("first_response", "resolution"):
                met = done[f"{target}_met"]
                if met is not None:
                    add(at, unit, f"targets.{target}.{'met' if met else 'missed'}")
            if done["first_response_seconds"] is not None:
                add(at, unit, f"durations.first_response.{histogram.bucket_for(done['first_response_seconds'])}")
            add(at, unit, f"durations.resolution.{histogram.bucket_for(done['resolution_seconds'])}")

    case_unit = case["unit"] if case is not None else None
    for talk in thread["talks"].values():
        unit = talk["unit"] or case_unit
        if talk["scheduled_at"]:
            add(talk["scheduled_at"], unit, "talks.scheduled")
        if talk["held_at"]:
            add(talk["held_at"], unit, "talks.held")
    for entry in thread["escalations"].values():
        unit = entry["unit"] or case_unit
        if entry["escalated_at"]:
            category = category_of(thread, entry["category"] or (case["category"] if case else None))
            add(entry["escalated_at"], unit, "escalations.raised", f"escalations.by_category.{category}")
        if entry["decided_at"]:
            add(entry["decided_at"], unit, "escalations.decided", f"escalations.by_decision.{entry['decision_code']}")

    item = thread["item"]
    if item is not None:
        unit, category = item["unit"], category_of(thread, item["category"])
        add(item["opened_at"], unit, "oversight.found", f"oversight.by_channel.{item['channel_kind']}",
            f"oversight.by_category.{category}")
        if item["status"] in CLOSED_ITEM and item["closed_at"]:
            add(item["closed_at"], unit, f"oversight.{item['status']}")
        for at in item["reopenings"].values():
            add(at, unit, "oversight.reopened")
    return out


def changes(before: Mapping[Fact, int], after: Mapping[Fact, int]) -> dict[Fact, int]:
    """How each counter moves when a thread's figures go from ``before`` to ``after`` (zero moves left out)."""
    out: dict[Fact, int] = {}
    for fact in set(before) | set(after):
        delta = after.get(fact, 0) - before.get(fact, 0)
        if delta:
            out[fact] = delta
    return dict(sorted(out.items()))
