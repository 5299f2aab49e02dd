"""What every room of counselling's handlers shares: the trace, the two clocks, ids, catalogue events."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tongpin.counselling.domain.roles import CASE_WORKER_ROLES
from tongpin.shared import clock
from tongpin.shared import events as ev
from tongpin.shared.envelope import CloudEvent, child_traceparent


@dataclass(frozen=True, kw_only=True)
class Trace:
    """The correlation id and traceparent the events a command or event causes carry on."""

    correlationid: str | None = None
    traceparent: str | None = None

    @classmethod
    def following(cls, event: CloudEvent) -> Trace:
        """The trace of events caused by handling another event."""
        return cls(correlationid=event.correlationid, traceparent=child_traceparent(event.traceparent))


def business_now() -> datetime:
    """Business time: the runtime's clock (tongpin.shared.clock), a simulated one when a demo plays a past year."""
    return clock.now()


def system_now() -> datetime:
    """Security time — the staff directory's changes, which order every service's view of a staff member's
    standing, logins and their throttle: always the system clock, never a demo's."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A fresh id with a readable prefix (reply-, talk-, esc-, note-...)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def catalogue_event(data: ev.EventData, *, subject: str, trace: Trace) -> CloudEvent:
    """A catalogue event carrying the trace of what caused it."""
    return ev.make_event(data, subject=subject, correlationid=trace.correlationid, traceparent=trace.traceparent)


def case_role(member: Mapping[str, Any] | None) -> str | None:
    """The role a staff member works cases in, if any."""
    for role in (member or {}).get("roles", []):
        if role in CASE_WORKER_ROLES:
            return str(role)
    return None
