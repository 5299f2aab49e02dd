"""How a case is stored: the aggregate's fields, each talk and each escalation a sub-document keyed by its id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from tongpin.counselling.domain.case import Case
from tongpin.counselling.domain.escalation import Decision, Escalation, EscalationMaterial
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


def escalation_record(escalation: Escalation) -> dict[str, Any]:
    """One escalation as stored: the material and the decision as plain sub-documents."""
    return {
        "escalation_id": escalation.escalation_id, "material": escalation.material.model_dump(),
        "prepared_by": escalation.prepared_by, "prepared_at": escalation.prepared_at,
        "decision": escalation.decision.model_dump() if escalation.decision is not None else None,
        "done_at": escalation.done_at, "decision_overdue": escalation.decision_overdue,
    }


def escalation_from_record(record: Mapping[str, Any]) -> Escalation:
    """Rebuild an escalation from its stored fields."""
    decision = record.get("decision")
    return Escalation(
        escalation_id=record["escalation_id"], material=EscalationMaterial.model_validate(record["material"]),
        prepared_by=record["prepared_by"], prepared_at=record["prepared_at"],
        decision=Decision.model_validate(decision) if decision else None, done_at=record.get("done_at"),
        decision_overdue=bool(record.get("decision_overdue", False)),
    )


def case_from_document(doc: Mapping[str, Any]) -> Case:
    """Rebuild the aggregate from its stored fields."""
    values = {name: doc[name] for name in _CASE_FIELDS if name in doc}
    values["talks"] = {talk_id: talk_from_record(record) for talk_id, record in doc.get("talks", {}).items()}
    values["escalations"] = {escalation_id: escalation_from_record(record)
                             for escalation_id, record in doc.get("escalations", {}).items()}
    return Case(**values)


def case_document(case: Case) -> dict[str, Any]:
    """The aggregate's fields as stored."""
    values = {name: getattr(case, name) for name in _CASE_FIELDS}
    values["talks"] = {talk_id: talk_record(talk) for talk_id, talk in case.talks.items()}
    values["escalations"] = {escalation_id: escalation_record(escalation)
                             for escalation_id, escalation in case.escalations.items()}
    return values
