"""Rule patterns must match in linear time: patterns a linear-time engine refuses are refused (finding 11)."""

from __future__ import annotations

import json

import pytest

from tongpin.triage.domain.ruleset import RuleSetError, default_ruleset, parse_ruleset

pytestmark = pytest.mark.unit


def with_pattern(pattern: str) -> str:
    document = json.loads(default_ruleset().to_json())
    document["rules"].append({"id": "test.pattern", "kind": "signal", "label": "测试", "patterns": [pattern],
                              "category": "other", "weight": 1})
    return json.dumps(document, ensure_ascii=False, indent=2)


@pytest.mark.parametrize("pattern", ["(\\w)\\1", "(?<=加)班", "(?=想)死", "(?P<x>累)(?P=x)"])
def test_patterns_only_a_backtracking_engine_can_match_are_refused(pattern: str) -> None:
    with pytest.raises(RuleSetError) as refused:
        parse_ruleset(with_pattern(pattern))
    assert any(repr(pattern) in reason for _, reason in refused.value.errors), refused.value.errors


@pytest.mark.parametrize(("pattern", "hostile"), [("(a+)+b", "a" * 100_000 + "c"), ("(x|xx)+y", "x" * 100_000),
                                                  ("(.*a){12}", "a" * 11 + "b" * 100_000)])
def test_exponential_patterns_for_a_backtracking_engine_are_matched_in_linear_time(pattern: str, hostile: str) -> None:
    # With a backtracking engine each of these searches takes longer than the age of the universe.
    rule = next(r for r in parse_ruleset(with_pattern(pattern)).rules if r.id == "test.pattern")
    assert rule.regex.search(hostile) is None


def test_the_packaged_rules_and_ordinary_patterns_are_accepted_and_match() -> None:
    parsed = parse_ruleset(with_pattern("(\\d+|几)个?(月|周)没(休|回家)"))
    rule = next(r for r in parsed.rules if r.id == "test.pattern")
    assert [m.group(0) for m in rule.regex.finditer("已经3个月没回家了")] == ["3个月没回家"]
    hostile = "a" * 5000 + "c"
    assert rule.regex.search(hostile) is None
