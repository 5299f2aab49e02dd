"""Assignment, grouping and override rules, and explanations that never quote the message."""

from datetime import UTC, datetime, timedelta

import pytest

from tongpin.triage.domain import classify, default_ruleset
from tongpin.triage.domain.routing import (
    StaffMember,
    diff_override,
    is_crisis,
    joins_cluster,
    pick_assignee,
    subject_officer,
    theme_id_for,
)

pytestmark = pytest.mark.unit

POOL = [
    StaffMember("pw-1", frozenset({"political_worker"})),
    StaffMember("pw-2", frozenset({"political_worker"})),
    StaffMember("pw-leave", frozenset({"political_worker"}), on_leave=True),
    StaffMember("pw-gone", frozenset({"political_worker"}), active=False),
    StaffMember("psy-1", frozenset({"psychologist"})),
    StaffMember("psy-call", frozenset({"psychologist"}), on_call=True),
]


def test_least_loaded_available_member_is_picked() -> None:
    assert pick_assignee(POOL, role="political_worker", load={"pw-1": 3, "pw-2": 1}) == "pw-2"
    assert pick_assignee(POOL, role="political_worker", load={"pw-1": 0, "pw-2": 0, "pw-leave": -5}) == "pw-1"


def test_nobody_on_leave_or_inactive_and_none_when_the_role_is_empty() -> None:
    away = [m for m in POOL if m.staff_id in ("pw-leave", "pw-gone")]
    assert pick_assignee(away, role="political_worker", load={}) is None
    assert pick_assignee(POOL, role="committee_member", load={}) is None
    assert pick_assignee(POOL, role=None, load={}) is None


def test_crisis_goes_to_the_on_call_psychologist_even_when_busier() -> None:
    assert pick_assignee(POOL, role="psychologist", load={"psy-call": 9}, crisis=True) == "psy-call"
    assert pick_assignee(POOL, role="psychologist", load={"psy-call": 9}) == "psy-1"


def test_subject_officer() -> None:
    assert subject_officer(channel_kind="families", about_officer_id="o1", author_member_id="f1",
                           anonymous=False) == "o1"
    assert subject_officer(channel_kind="officers", about_officer_id=None, author_member_id="o2",
                           anonymous=False) == "o2"
    assert subject_officer(channel_kind="officers", about_officer_id=None, author_member_id="o2",
                           anonymous=True) is None
    assert subject_officer(channel_kind="supervision", about_officer_id=None, author_member_id="s1",
                           anonymous=False) is None


def test_cluster_window_and_state() -> None:
    now = datetime.now(UTC)
    cluster = {"primary_concern_id": "c1", "concern_ids": ["c1"], "last_at": now, "open": True}
    window = timedelta(days=7)
    assert joins_cluster(cluster, concern_id="c2", sent_at=now + timedelta(days=2), window=window)
    assert not joins_cluster(cluster, concern_id="c2", sent_at=now + timedelta(days=8), window=window)
    assert not joins_cluster({**cluster, "open": False}, concern_id="c2", sent_at=now, window=window)
    assert not joins_cluster(cluster, concern_id="c1", sent_at=now, window=window)
    assert not joins_cluster(None, concern_id="c2", sent_at=now, window=window)


def test_crisis_rule_and_theme_ids() -> None:
    assert is_crisis(severity="critical", flags=[]) and is_crisis(severity="low", flags=["violence"])
    assert not is_crisis(severity="high", flags=["substance"])
    at = datetime(2025, 1, 1, tzinfo=UTC)
    assert theme_id_for(unit="u1", category="housing", started_at=at) == theme_id_for(
        unit="u1", category="housing", started_at=at)
    assert theme_id_for(unit="u1", category="housing", started_at=at).startswith("theme-housing-")


def test_override_diff_keeps_only_real_changes() -> None:
    diff = diff_override({"category": "other", "severity": "low"}, {"category": "health", "severity": "low",
                                                                     "route": None})
    assert diff.changes == {"category": ("other", "health")}
    assert diff_override({"category": "other"}, {"category": "other"}).empty


@pytest.mark.parametrize("text", [
    "真的不想活了，每天都看不到头", "累死了，今天连着值了两个夜班", "新闻说某地民警自杀了", "我不会想不开的",
    "收到", "宿舍热水器坏了一周", "",
])
def test_explanation_names_rules_never_the_message_words(text: str) -> None:
    ruleset = default_ruleset()
    result = classify(text, "officers", ruleset)
    assert result.explanation
    fixed = ["转述/新闻", "玩笑", "咨询提问", *(rule.label for rule in ruleset.rules if rule.label)]
    words = {text[i:i + 2] for i in range(len(text) - 1)}
    for line in result.explanation:
        for phrase in fixed:  # the rule set's own vocabulary, not the message's
            line = line.replace(phrase, "")
        assert not any(word in line for word in words if word.strip("，。 ")), (line, text)
