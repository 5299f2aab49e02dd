"""What a case may do in each state, and the errors a refused command raises; shared by the case's modules."""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

from tongpin.shared.codes import CodeList
from tongpin.shared.events import Id

CaseState = Literal[
    "open", "in_dialogue", "talk_scheduled", "talk_held", "escalated", "decided", "resolved", "reopened",
]
CASE_STATES: Final[tuple[CaseState, ...]] = get_args(CaseState)

# One source for what an id looks like and which codes exist: the event catalogue's own.
_ID_PATTERN: Final = re.compile(get_args(Id)[1].pattern)

LIVE: Final[frozenset[CaseState]] = frozenset(CASE_STATES) - {"resolved"}
SCHEDULE_FROM: Final[frozenset[CaseState]] = frozenset(
    {"open", "in_dialogue", "talk_held", "decided", "reopened"}
)
# While the committee holds the case, a talk booked earlier may still be held or called off.
PENDING_TALK_STATES: Final[frozenset[CaseState]] = frozenset({"talk_scheduled", "escalated", "decided"})
ESCALATE_FROM: Final[frozenset[CaseState]] = frozenset(
    {"open", "in_dialogue", "talk_scheduled", "talk_held", "reopened"}
)
RESOLVE_FROM: Final[frozenset[CaseState]] = frozenset({"in_dialogue", "talk_held", "decided", "reopened"})


class CaseError(Exception):
    """A command the case refuses; the case is unchanged."""


class IllegalTransition(CaseError):
    """The action is not allowed in the case's current state (or its precondition is unmet)."""

    def __init__(self, current_state: CaseState, action: str, reason: str | None = None) -> None:
        detail = f": {reason}" if reason else ""
        super().__init__(f"cannot {action} a case in state {current_state}{detail}")
        self.current_state = current_state
        self.action = action
        self.reason = reason


class WrongReference(CaseError):
    """The talk or escalation named is not the one the case is waiting on."""

    def __init__(self, kind: str, given: str, expected: str | None) -> None:
        super().__init__(f"{kind} {given} is not the case's pending {kind} ({expected or 'none'})")
        self.kind = kind
        self.given = given
        self.expected = expected


class InvalidValue(CaseError, ValueError):
    """An id argument does not match the catalogue's pattern, or a code is not on its closed list."""


def check_id(name: str, value: str) -> None:
    """Refuse an id that does not match the catalogue's pattern."""
    if not _ID_PATTERN.fullmatch(value):
        raise InvalidValue(f"{name} {value!r} is not a valid id")


def check_code(name: str, value: str, codes: CodeList) -> None:
    """Refuse a code that is not on its closed list."""
    if value not in codes.values():
        raise InvalidValue(f"{name} {value!r} is not a {codes.name} code ({', '.join(codes.values())})")
