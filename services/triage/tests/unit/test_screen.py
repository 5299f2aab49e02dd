"""The rule screen: one RE2 set learns which rules can fire (on every corpus message: tests/corpus)."""

from __future__ import annotations

import pytest

from tongpin.triage.domain import classify, parse_ruleset

pytestmark = pytest.mark.unit


def test_the_screen_names_exactly_the_rules_that_match() -> None:
    ruleset = parse_ruleset("""{"version": 1, "rules": [
      {"id": "a.housing", "terms": ["宿舍", "房子"], "category": "housing"},
      {"id": "b.harm", "patterns": ["不\\\\s*想\\\\s*活"], "category": "mental_distress", "flag": "self_harm"},
      {"id": "c.joke", "kind": "idiom", "terms": ["累死了"]}
    ]}""")
    assert ruleset.firing_candidates("宿舍太小，累死了") == {0, 2}
    assert ruleset.firing_candidates("不 想 活") == {1}
    assert ruleset.firing_candidates("今天天气好") == frozenset()
    assert ruleset.firing_candidates("宿舍" * 3000) is None  # long texts are scanned rule by rule
    harm = classify("真的不  想活", "officers", ruleset)
    assert "self_harm" in harm.flags and harm.rule_ids == ("b.harm",)
