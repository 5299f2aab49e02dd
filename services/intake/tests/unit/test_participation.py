"""Participation per channel kind, from membership and roster intervals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from tongpin.intake.domain.participation import (
    HEADCOUNT_KINDS,
    MembershipInterval,
    Participation,
    RosterInterval,
    participation,
)
from tongpin.shared.events import CHANNEL_KINDS

pytestmark = pytest.mark.unit

AT = datetime(2024, 12, 31, 12, 0, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)


def test_every_channel_kind_has_a_headcount_rule() -> None:
    assert set(HEADCOUNT_KINDS) == set(CHANNEL_KINDS)


def test_the_source_storys_figures() -> None:
    # 93% of officers and auxiliaries joined; 86.4% of families joined.
    roster = [RosterInterval(f"o{i}", "officer", START) for i in range(60)]
    roster += [RosterInterval(f"a{i}", "auxiliary", START) for i in range(40)]
    roster += [RosterInterval(f"f{i}", "family", START) for i in range(125)]
    memberships = [MembershipInterval(f"o{i}", "officers", START) for i in range(58)]
    memberships += [MembershipInterval(f"a{i}", "officers", START) for i in range(35)]
    memberships += [MembershipInterval(f"f{i}", "families", START) for i in range(108)]
    result = participation(AT, memberships=memberships, roster=roster)
    officers, families = result["officers"], result["families"]
    assert (officers.joined, officers.headcount, officers.ratio, officers.percent) == (93, 100, 0.93, 93.0)
    assert (families.joined, families.headcount, families.exact) == (108, 125, Fraction(108, 125))
    assert families.percent == 86.4
    assert result["supervision"] == Participation(joined=0, headcount=0, exact=None)
    assert result["supervision"].ratio is None and result["supervision"].percent is None


def test_ratio_is_rounded_but_exact_is_kept() -> None:
    roster = [RosterInterval(f"s{i}", "supervisor", START) for i in range(3)]
    memberships = [MembershipInterval(f"s{i}", "supervision", START) for i in range(2)]
    supervision = participation(AT, memberships=memberships, roster=roster)["supervision"]
    assert supervision.exact == Fraction(2, 3)
    assert supervision.ratio == 0.6667
    assert supervision.percent == 66.7


def test_only_people_on_the_roster_at_that_moment_count() -> None:
    roster = [
        RosterInterval("o1", "officer", START),
        RosterInterval("o2", "officer", START, AT),                          # left the roster exactly at AT
        RosterInterval("o3", "officer", AT + timedelta(seconds=1)),          # not yet on it
        RosterInterval("o4", "officer", START, START + timedelta(days=30)),  # left,
        RosterInterval("o4", "officer", START + timedelta(days=200)),        # and came back
    ]
    memberships = [MembershipInterval(m, "officers", START) for m in ("o1", "o2", "o3", "o4", "stranger")]
    officers = participation(AT, memberships=memberships, roster=roster)["officers"]
    assert (officers.joined, officers.headcount) == (2, 2)


def test_only_channels_of_the_matching_kind_count_and_each_person_once() -> None:
    roster = [
        RosterInterval("o1", "officer", START),
        RosterInterval("o2", "officer", START),
        RosterInterval("f1", "family", START),
    ]
    memberships = [
        MembershipInterval("o1", "officers", START),
        MembershipInterval("o1", "officers", START + timedelta(days=1)),  # a second officers group
        MembershipInterval("o2", "families", START),                        # in the wrong kind of group
        MembershipInterval("f1", "officers", START),                        # a family member in officers
    ]
    result = participation(AT, memberships=memberships, roster=roster)
    assert (result["officers"].joined, result["officers"].headcount) == (1, 2)
    assert (result["families"].joined, result["families"].headcount) == (0, 1)


def test_membership_must_cover_the_moment() -> None:
    roster = [RosterInterval(m, "family", START) for m in ("f1", "f2", "f3", "f4")]
    memberships = [
        MembershipInterval("f1", "families", START, AT),                    # left exactly at AT
        MembershipInterval("f2", "families", AT),                           # joined exactly at AT
        MembershipInterval("f3", "families", AT + timedelta(minutes=1)),    # joined later
        MembershipInterval("f4", "families", START, START + timedelta(days=1)),
        MembershipInterval("f4", "families", START + timedelta(days=100)),  # rejoined
    ]
    families = participation(AT, memberships=memberships, roster=roster)["families"]
    assert (families.joined, families.headcount) == (2, 4)


def test_roster_dates_mean_the_start_of_that_day() -> None:
    roster = [
        RosterInterval("o1", "officer", date(2024, 12, 31)),
        RosterInterval("o2", "officer", date(2024, 1, 1), date(2024, 12, 31)),
        RosterInterval("o3", "officer", date(2025, 1, 1)),
    ]
    memberships = [MembershipInterval(m, "officers", START) for m in ("o1", "o2", "o3")]
    officers = participation(AT, memberships=memberships, roster=roster)["officers"]
    assert (officers.joined, officers.headcount) == (1, 1)


def test_participation_accepts_iterators() -> None:
    roster = (RosterInterval(f"o{i}", "officer", START) for i in range(4))
    memberships = (MembershipInterval(f"o{i}", "officers", START) for i in range(3))
    assert participation(AT, memberships=memberships, roster=roster)["officers"].exact == Fraction(3, 4)


def test_naive_and_aware_datetimes_are_not_mixed() -> None:
    with pytest.raises(ValueError):
        participation(AT, memberships=[], roster=[RosterInterval("o1", "officer", datetime(2024, 1, 1))])
