"""The clock business time is read from: one per service runtime, injectable, the system clock by default.

Business time is when the thing a record describes happened: a concern raised, a case opened, a talk
held, a case resolved, an oversight item closed. Services read it with ``now()``, which answers the
clock of the runtime serving the current request, consumed event or background loop (the runtime
binds it; ``create_app(settings, clock=...)`` injects one, ``TONGPIN_CLOCK_FILE`` selects a file
clock). Operational and security time — token expiry, rate limits and lock-outs, retries, the
ledger's append time, who queried what and when — always comes from the system clock, so a simulated
clock can never stretch a token or a lock-out.

The file clock is how a demo plays a past year against separately running services: while the
file exists the services' business time is the instant written in it (frozen until the file changes);
without it they run on the system clock. Production never sets ``TONGPIN_CLOCK_FILE``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


def _aware(at: datetime) -> datetime:
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


class Clock(Protocol):
    """Something that tells the business time (an aware UTC datetime)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that stands still until it is set or advanced (tests and in-process demo years).

    ``set`` may also go back, so a demo can replay a year it already played (every step is then skipped).
    """

    def __init__(self, at: datetime) -> None:
        self._at = _aware(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        """Move to an instant."""
        self._at = _aware(at)

    def advance(self, delta: timedelta) -> None:
        """Move forward (a negative delta is refused: ValueError)."""
        if delta < timedelta(0):
            raise ValueError("advance moves a clock forward; use set to go back")
        self.set(self._at + delta)


class FileClock:
    """The instant written in a file (``{"now": "<ISO 8601>"}``), or the system time while there is no file.

    The file is read on every call (a few dozen bytes): a cache keyed on its modification time could miss
    two changes within one tick of the file system's clock.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def now(self) -> datetime:
        at = read_clock_file(self.path)
        return at if at is not None else datetime.now(UTC)


def read_clock_file(path: Path) -> datetime | None:
    """The instant a clock file holds, or None if it is missing or unreadable (then the system time is used)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))["now"]
        return _aware(datetime.fromisoformat(value))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_clock_file(path: str | os.PathLike[str], at: datetime) -> None:
    """Set a file clock (written whole, then renamed, so a reader never sees half a file)."""
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(json.dumps({"now": _aware(at).isoformat()}), encoding="utf-8")
    partial.replace(target)


SYSTEM = SystemClock()
_current: ContextVar[Clock] = ContextVar("tongpin_clock", default=SYSTEM)


def now() -> datetime:
    """The business time, from the clock bound for this request, event or loop (the system clock if none)."""
    return _current.get().now()


def current() -> Clock:
    """The clock bound for this request, event or loop."""
    return _current.get()


@contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    """Bind a clock for the code run inside the block (and the tasks it starts)."""
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)


def bind(clock: Clock) -> None:
    """Bind a clock for the rest of the current context (a task's own copy)."""
    _current.set(clock)
