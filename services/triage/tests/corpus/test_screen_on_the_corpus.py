"""The rule screen on every message of the labelled corpus: skipping the rules it rules out changes nothing.

Classifying the whole corpus twice (and building the screen's automaton for all of it) takes seconds, so this
is in the corpus tier of `make test`; the screen's own behaviour is unit-tested in tests/unit/test_screen.py.
"""

from __future__ import annotations

import dataclasses

import pytest

from tongpin.triage.domain import classify, default_ruleset
from tongpin.triage.domain.ruleset import RuleSet
from tongpin.triage.evaluate import EVAL_DIR, load_records

pytestmark = pytest.mark.corpus

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
    differing = []
    for i, (text, channel) in enumerate(messages):
        screened, rule_by_rule = classify(text, channel, ruleset), classify(text, channel, plain)
        if screened != rule_by_rule or screened.reasons != rule_by_rule.reasons:
            differing.append(i)
    assert differing == []
