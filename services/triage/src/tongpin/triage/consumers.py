"""Event -> handler wiring for triage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import (
    CaseAssigned,
    CaseEscalated,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    ConcernRaised,
    EscalationDecided,
    OversightItemClosed,
    OversightItemOpened,
    OversightItemUpdated,
    StaffUpdated,
    TalkHeld,
    TalkScheduled,
)
from tongpin.shared.messaging.consumer import Handler, OwnInbox
from tongpin.shared.runtime import ServiceRuntime
from tongpin.triage.handlers import cases, concerns
from tongpin.triage.handlers.staff import record_staff
from tongpin.triage.judgments import ModelBook, RuleBook
from tongpin.triage.repository import (
    ClusterRepository,
    DecisionRepository,
    ModelRepository,
    RuleSetRepository,
    StaffRepository,
    ThemeRepository,
)
from tongpin.triage.settings import TriageSettings


def rulebook(runtime: ServiceRuntime) -> RuleBook:
    """The service's one rule book (parsed rule sets are kept per process)."""
    book: RuleBook = runtime.extras.setdefault("rulebook", RuleBook(repo=RuleSetRepository(runtime.db)))
    return book


def modelbook(runtime: ServiceRuntime) -> ModelBook:
    """The service's one model book (the loaded model is kept per process)."""
    book: ModelBook = runtime.extras.setdefault("modelbook", ModelBook(repo=ModelRepository(runtime.db)))
    return book


def handlers(runtime: ServiceRuntime) -> Mapping[str, Handler]:
    db = runtime.db
    settings = runtime.settings if isinstance(runtime.settings, TriageSettings) else TriageSettings()
    decisions, staff, clusters = DecisionRepository(db), StaffRepository(db), ClusterRepository(db)
    themes = ThemeRepository(db)
    rules, models = rulebook(runtime), modelbook(runtime)

    async def on_concern_raised(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, ConcernRaised)
        await concerns.triage_concern(decisions=decisions, rulebook=rules, modelbook=models, staff=staff,
                               clusters=clusters, themes=themes, settings=settings, event=event, concern=data)

    async def on_staff_updated(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, StaffUpdated)
        await record_staff(staff=staff, data=data)
        await runtime.staff_standing.record(staff_id=data.staff_id, roles=list(data.roles), active=data.active,
                                            updated_at=data.updated_at)

    async def on_case_opened(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, CaseOpened)
        await cases.link_case(staff=staff, decisions=decisions, data=data)

    async def on_case_assigned(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, CaseAssigned)
        await cases.move_case(staff=staff, data=data)

    async def on_case_resolved(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, CaseResolved)
        await cases.close_case(staff=staff, decisions=decisions, clusters=clusters, data=data)

    async def on_case_reopened(event: CloudEvent, data: Any) -> None:
        assert isinstance(data, CaseReopened)
        await cases.reopen_case(staff=staff, decisions=decisions, clusters=clusters, data=data)

    async def on_case_progress(event: CloudEvent, data: Any) -> None:
        if isinstance(data, TalkScheduled):
            await cases.follow_case(decisions=decisions, case_id=data.case_id, state="talk_scheduled",
                                at=data.scheduled_at)
        elif isinstance(data, TalkHeld):
            await cases.follow_case(decisions=decisions, case_id=data.case_id, state="talk_held", at=data.held_at)
        elif isinstance(data, CaseEscalated):
            await cases.follow_case(decisions=decisions, case_id=data.case_id, state="escalated", at=data.escalated_at)
        elif isinstance(data, EscalationDecided):
            await cases.follow_case(decisions=decisions, case_id=data.case_id, state="decided", at=data.decided_at)

    async def on_oversight_item(event: CloudEvent, data: Any) -> None:
        if isinstance(data, OversightItemOpened):
            at = data.opened_at
        elif isinstance(data, OversightItemUpdated):
            at = data.changed_at
        else:
            assert isinstance(data, OversightItemClosed)
            at = data.closed_at
        await cases.follow_oversight(decisions=decisions, concern_id=data.concern_id, status=data.status, at=at)

    return {
        TalkScheduled.routing_key(): on_case_progress,
        TalkHeld.routing_key(): on_case_progress,
        CaseEscalated.routing_key(): on_case_progress,
        EscalationDecided.routing_key(): on_case_progress,
        OversightItemOpened.routing_key(): on_oversight_item,
        OversightItemUpdated.routing_key(): on_oversight_item,
        OversightItemClosed.routing_key(): on_oversight_item,
        # The decision, keyed by the concern, is the inbox entry; a repeat only makes sure of its work item.
        ConcernRaised.routing_key(): OwnInbox(on_concern_raised),
        StaffUpdated.routing_key(): on_staff_updated,
        CaseOpened.routing_key(): on_case_opened,
        CaseAssigned.routing_key(): on_case_assigned,
        CaseResolved.routing_key(): on_case_resolved,
        CaseReopened.routing_key(): on_case_reopened,
    }
