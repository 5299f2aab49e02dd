"""Participation: how many people on each channel kind's roster are in a channel of that kind."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from fractions import Fraction

from tongpin.shared.events import ChannelKind, MemberKind

# Which roster kinds make up each channel kind's headcount.
HEADCOUNT_KINDS: dict[ChannelKind, frozenset[MemberKind]] = {
    "officers": frozenset({"officer", "auxiliary"}),
    "families": frozenset({"family"}),
    "supervision": frozenset({"supervisor"}),
}


@dataclass(frozen=True, slots=True)
class MembershipInterval:
    """A member's time in one channel of a kind: joined_at inclusive, left_at exclusive (None: still in)."""

    member_id: str
    channel_kind: ChannelKind
    joined_at: datetime
    left_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RosterInterval:
    """A person's time on the roster: active_from inclusive, active_to exclusive (None: still on it).

    A bare date means the start of that day, in the time zone of the moment asked about.
    """

    member_id: str
    member_kind: MemberKind
    active_from: datetime | date
    active_to: datetime | date | None = None


@dataclass(frozen=True, slots=True)
class Participation:
    """Joined and headcount for one channel kind; exact is the fraction, ratio it rounded to 4 places."""

    joined: int
    headcount: int
    exact: Fraction | None

    @property
    def ratio(self) -> float | None:
        """The share joined, rounded to 4 decimal places (0.9300); None when nobody is on the roster."""
        return None if self.exact is None else round(float(self.exact), 4)

    @property
    def percent(self) -> float | None:
        """The share joined as a percentage to one decimal place (86.4); None when nobody is on the roster."""
        return None if self.exact is None else round(float(self.exact * 100), 1)


def _moment(value: datetime | date, *, like: datetime) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.combine(value, time.min, tzinfo=like.tzinfo)
    if (moment.tzinfo is None) != (like.tzinfo is None):
        raise ValueError("mix of naive and time-zone-aware datetimes")
    return moment


def _covers(start: datetime | date, end: datetime | date | None, *, at: datetime) -> bool:
    if _moment(start, like=at) > at:
        return False
    return end is None or at < _moment(end, like=at)


def participation(
    at: datetime,
    *,
    memberships: Iterable[MembershipInterval],
    roster: Iterable[RosterInterval],
) -> dict[ChannelKind, Participation]:
    """Participation per channel kind at one moment.

    The headcount is everyone on the roster then whose kind belongs to the channel kind (officers:
    officers and auxiliaries; families: family members; supervision: supervisors). A person counts
    as joined when they are in that headcount and in at least one channel of that kind then.
    """
    on_roster: dict[ChannelKind, set[str]] = {kind: set() for kind in HEADCOUNT_KINDS}
    for entry in roster:
        if _covers(entry.active_from, entry.active_to, at=at):
            for channel_kind, kinds in HEADCOUNT_KINDS.items():
                if entry.member_kind in kinds:
                    on_roster[channel_kind].add(entry.member_id)
    in_channel: dict[ChannelKind, set[str]] = {kind: set() for kind in HEADCOUNT_KINDS}
    for membership in memberships:
        if membership.channel_kind in in_channel and _covers(membership.joined_at, membership.left_at, at=at):
            in_channel[membership.channel_kind].add(membership.member_id)
    result: dict[ChannelKind, Participation] = {}
    for channel_kind in HEADCOUNT_KINDS:
        headcount = len(on_roster[channel_kind])
        joined = len(on_roster[channel_kind] & in_channel[channel_kind])
        exact = Fraction(joined, headcount) if headcount else None
        result[channel_kind] = Participation(joined=joined, headcount=headcount, exact=exact)
    return result
