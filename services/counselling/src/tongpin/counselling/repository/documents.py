"""How a case is stored: the aggregate's fields, each talk a sub-document keyed by its id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from tongpin.counselling.domain.case import Case
from tongpin.counselling.domain.talk import Talk

_CASE_FIELDS = tuple(f.name for f in fields(Case) if f.name != "pending_events")
_TALK_FIELDS = tuple(f.name for f in fields(Talk))
# What every stored talk holds; a cancelled or held one also says when and why or how.
_BOOKING = ("talk_id", "scheduled_for", "place", "participants", "staff_ids", "status", "scheduled_by",
            "scheduled_at", "reminded_for")
_OUTCOME = {"cancelled": ("cancelled_at", "reason_code"), "held": ("held_at", "outcome_code")}


def talk_record(talk: Talk) -> dict[str, Any]:
    """One talk as stored."""
    return {name: getattr(talk, name) for name in (*_BOOKING, *_OUTCOME.get(talk.status, ()))}


def talk_from_record(record: Mapping[str, Any]) -> Talk:
    """Rebuild a talk from its stored fields."""
    return Talk(**{name: record[name] for name in _TALK_FIELDS if name in record})


def case_from_document(doc: Mapping[str, Any]) -> Case:
    """Rebuild the aggregate from its stored fields."""
    values = {name: doc[name] for name in _CASE_FIELDS if name in doc}
    values["talks"] = {talk_id: talk_from_record(record) for talk_id, record in doc.get("talks", {}).items()}
    return Case(**values)


def case_document(case: Case) -> dict[str, Any]:
    """The aggregate's fields as stored."""
    values = {name: getattr(case, name) for name in _CASE_FIELDS}
    values["talks"] = {talk_id: talk_record(talk) for talk_id, talk in case.talks.items()}
    return values
