"""The rule screen: one RE2 set learns which rules can fire, and skipping the others changes nothing."""

from __future__ import annotations

import dataclasses

import pytest

from tongpin.triage.domain import classify, default_ruleset, parse_ruleset
from tongpin.triage.domain.ruleset import RuleSet
from tongpin.triage.evaluate import EVAL_DIR, load_records

pytestmark = pytest.mark.unit

ODD = ["", "😀😀", "字" * 10_000, "我不想活了 but 累死了 哈哈", "把枪 想不开   累死了 不  想活",
       "臺灣 警察 壓力 大 想死你們了"]


def unscreened(ruleset: RuleSet) -> RuleSet:
    copy = dataclasses.replace(ruleset)
    object.__setattr__(copy, "_screen", None)
    return copy


def test_screened_and_rule_by_rule_classification_agree_on_every_corpus_message() -> None:
    ruleset = default_ruleset()
    assert ruleset.firing_candidates("宿舍没有热水") is not None  # the packaged rules all fit in the screen
    plain = unscreened(ruleset)
    messages = [(str(r["text"]), str(r["channel_kind"])) for r in load_records(EVAL_DIR / "labelled.jsonl")]
    messages += [(text, channel) for text in ODD for channel in ("officers", "families", "supervision")]
    differing = [i for i, (text, channel) in enumerate(messages)
                 if classify(text, channel, ruleset) != classify(text, channel, plain)
                 or classify(text, channel, ruleset).reasons != classify(text, channel, plain).reasons]
    assert differing == []


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
