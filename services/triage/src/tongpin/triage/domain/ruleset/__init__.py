"""Classification rule sets: versioned JSON documents staff can read, edit and publish.

A document looks like::

    {
      "version": 1,
      "name": "默认规则集",
      "settings": {"max_chars": 2000, ...},
      "cues": {"negation": ["不是", ...], "reported": ["新闻", ...], ...},
      "rules": [
        {"id": "self_harm.wish", "kind": "signal", "label": "自伤风险",
         "terms": ["不想活"], "patterns": ["跳(楼|河)"],
         "category": "mental_distress", "weight": 3, "flag": "self_harm", "severity": "critical",
         "channels": ["officers", "families"], "negatable": true,
         "ignore_in": ["reported", "joke", "question"]}
      ]
    }

Rule kinds: ``signal`` (evidence for a category and/or a risk flag), ``idiom`` (hyperbole and set
phrases such as 累死了: the span is masked so risk words inside it never fire, optionally adding
weak evidence for a category), ``chatter`` (greetings, acknowledgements, sticker placeholders).
"""

from tongpin.triage.domain.ruleset.locate import text_find_start
from tongpin.triage.domain.ruleset.parse import default_ruleset, parse_ruleset
from tongpin.triage.domain.ruleset.patterns import linear_regex, trie_pattern
from tongpin.triage.domain.ruleset.rules import CONTEXTS, CUE_KINDS, RULE_KINDS, Rule, RuleSet, RuleSetError

__all__ = [
    "CONTEXTS",
    "CUE_KINDS",
    "RULE_KINDS",
    "Rule",
    "RuleSet",
    "RuleSetError",
    "default_ruleset",
    "linear_regex",
    "parse_ruleset",
    "text_find_start",
    "trie_pattern",
]
