"""What the rooms' routes share: the roles each admits, repositories, settings, trace ids, the client's address."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request

from tongpin.intake.handlers.common import Trace
from tongpin.intake.repository import (
    ChannelRepository,
    DeliveryRepository,
    GuardRepository,
    MemberRepository,
    MembershipRepository,
    MessageRepository,
    ReceiptRepository,
)
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.auth import Principal, Public, Roles
from tongpin.shared.edge import MAX_OFFSET

Bridge = Annotated[Principal, Depends(Roles("system", "admin"))]
ChannelAdmin = Annotated[Principal, Depends(Roles("centre_coordinator", "admin"))]
RosterAdmin = Annotated[Principal, Depends(Roles("centre_coordinator", "admin", "system"))]
AggregateReader = Annotated[Principal, Depends(Roles(
    "political_worker", "psychologist", "centre_coordinator", "committee_member", "auditor", "admin"))]
MemberReader = Annotated[Principal, Depends(Roles("political_worker", "psychologist", "centre_coordinator", "admin"))]
MessageReader = Annotated[Principal, Depends(Roles("political_worker", "psychologist", "centre_coordinator"))]
DeliveryReader = Annotated[Principal, Depends(Roles("centre_coordinator", "admin"))]
Open = Annotated[None, Depends(Public())]
Limit = Annotated[int, Query(ge=1, le=200, description="page size, at most 200")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def runtime_of(request: Request) -> Any:
    return request.app.state.runtime


def settings_of(request: Request) -> IntakeSettings:
    return runtime_of(request).settings


def _channels(request: Request) -> ChannelRepository:
    return ChannelRepository(runtime_of(request).db)


def _members(request: Request) -> MemberRepository:
    return MemberRepository(runtime_of(request).db)


def _memberships(request: Request) -> MembershipRepository:
    return MembershipRepository(runtime_of(request).db)


def _messages(request: Request) -> MessageRepository:
    return MessageRepository(runtime_of(request).db)


def _receipts(request: Request) -> ReceiptRepository:
    return ReceiptRepository(runtime_of(request).db)


def _deliveries(request: Request) -> DeliveryRepository:
    return DeliveryRepository(runtime_of(request).db)


def _guard(request: Request) -> GuardRepository:
    return GuardRepository(runtime_of(request).db)


def _trace(request: Request) -> Trace:
    return Trace(request.state.correlation_id, request.state.traceparent)


def _client(request: Request) -> str:
    """The client's address: the connecting one, or what a trusted proxy saw (settings.trusted_proxies)."""
    return request.client.host[:64] if request.client else "unknown"


Channels = Annotated[ChannelRepository, Depends(_channels)]
Members = Annotated[MemberRepository, Depends(_members)]
Memberships = Annotated[MembershipRepository, Depends(_memberships)]
Messages = Annotated[MessageRepository, Depends(_messages)]
Receipts = Annotated[ReceiptRepository, Depends(_receipts)]
Deliveries = Annotated[DeliveryRepository, Depends(_deliveries)]
Guard = Annotated[GuardRepository, Depends(_guard)]
Settings = Annotated[IntakeSettings, Depends(settings_of)]
TraceIds = Annotated[Trace, Depends(_trace)]
Client = Annotated[str, Depends(_client)]
