"""Rule-set documents: validation with line numbers, and the JSON round trip."""

import json

import pytest

from tongpin.triage.domain import RuleSetError, classify, default_ruleset, parse_ruleset

pytestmark = pytest.mark.unit

GOOD = """{
  "version": 3,
  "name": "测试",
  "rules": [
    {"id": "housing.words", "terms": ["房子"], "category": "housing", "weight": 2},
    {"id": "harm.words", "terms": ["不想活"], "category": "mental_distress", "flag": "self_harm",
     "severity": "critical", "weight": 3}
  ]
}
"""


def errors_of(text: str) -> list[tuple[int, str]]:
    with pytest.raises(RuleSetError) as caught:
        parse_ruleset(text)
    return caught.value.errors


def test_minimal_document_parses() -> None:
    ruleset = parse_ruleset(GOOD)
    assert ruleset.version == 3
    assert [rule.id for rule in ruleset.rules] == ["housing.words", "harm.words"]
    assert classify("没房子结不了婚", "officers", ruleset).category == "housing"
    decision = classify("不想活了", "officers", ruleset)
    assert decision.crisis
    assert decision.ruleset_version == 3


def test_json_syntax_error_reports_its_line() -> None:
    broken = GOOD.replace('"weight": 2}', '"weight": 2')  # missing brace on line 5
    errors = errors_of(broken)
    assert len(errors) == 1
    line, reason = errors[0]
    assert line in (5, 6)
    assert "JSON" in reason


def test_unknown_category_is_located_on_its_rule_line() -> None:
    errors = errors_of(GOOD.replace('"category": "housing"', '"category": "housng"'))
    assert errors == [(5, "未知类别 'housng'")]


def test_bad_regex_is_reported() -> None:
    bad = GOOD.replace('"terms": ["房子"]', '"patterns": ["房(子"]')
    errors = errors_of(bad)
    assert len(errors) == 1
    assert errors[0][0] == 5
    assert "正则表达式" in errors[0][1]


def test_duplicate_id_names_both_lines() -> None:
    errors = errors_of(GOOD.replace('"id": "harm.words"', '"id": "housing.words"'))
    assert len(errors) == 1
    line, reason = errors[0]
    assert line == 6
    assert "重复" in reason and "第5行" in reason


def test_missing_fields_and_many_problems_are_all_listed() -> None:
    text = """{
  "version": 0,
  "rules": [
    {"terms": ["a"], "category": "housing"},
    {"id": "x.one", "category": "housing"},
    {"id": "x.two", "terms": ["b"], "flag": "arson", "channels": ["wechat"]},
    {"id": "x.three", "terms": ["c"], "category": "housing", "colour": "red"}
  ]
}"""
    errors = errors_of(text)
    lines = [line for line, _ in errors]
    assert lines == sorted(lines)
    assert 2 in lines  # version
    assert 4 in lines  # no id
    assert 5 in lines  # no terms or patterns
    assert sum(1 for line, _ in errors if line == 6) == 2  # unknown flag and unknown channel
    assert any(line == 7 and "colour" in reason for line, reason in errors)


def test_unknown_cue_kind_and_setting_are_rejected() -> None:
    doc = json.loads(GOOD)
    doc["cues"] = {"negashun": ["不"]}
    doc["settings"] = {"max_chars": -1}
    errors = errors_of(json.dumps(doc, ensure_ascii=False, indent=2))
    reasons = " ".join(reason for _, reason in errors)
    assert "negashun" in reasons and "max_chars" in reasons


def test_flag_on_chatter_rule_is_rejected() -> None:
    errors = errors_of(GOOD.replace('"id": "harm.words",', '"id": "harm.words", "kind": "idiom",'))
    assert any(line == 6 and "风险标记" in reason for line, reason in errors)


def test_not_an_object() -> None:
    assert errors_of("[1, 2]") == [(1, "文档必须是 JSON 对象")]


def test_default_ruleset_round_trips() -> None:
    ruleset = default_ruleset()
    assert ruleset.version == 1
    again = parse_ruleset(ruleset.to_json())
    assert again == ruleset
    assert again.to_json() == ruleset.to_json()


def test_round_trip_keeps_behaviour_and_new_version_publishes() -> None:
    published = parse_ruleset(default_ruleset().with_version(2).to_json())
    assert published.version == 2
    for text in ("不想活了", "累死了", "收到", "加班费还没发"):
        old = classify(text, "officers", default_ruleset())
        new = classify(text, "officers", published)
        assert (old.category, old.flags, old.route, old.rule_ids) == (new.category, new.flags, new.route, new.rule_ids)
        assert new.ruleset_version == 2


def test_to_json_puts_each_rule_on_its_own_line() -> None:
    text = default_ruleset().to_json()
    lines = text.splitlines()
    for rule in default_ruleset().rules:
        assert sum(1 for line in lines if f'"id": "{rule.id}"' in line) == 1


def test_error_in_serialised_default_points_at_the_rule() -> None:
    text = default_ruleset().to_json()
    lines = text.splitlines()
    target = next(i for i, line in enumerate(lines) if '"id": "housing.lack"' in line)
    lines[target] = lines[target].replace('"category": "housing"', '"category": "flat"')
    errors = errors_of("\n".join(lines))
    assert errors == [(target + 1, "未知类别 'flat'")]
