"""Triage domain: pure-Python classification of concerns under versioned rule sets."""

from tongpin.triage.domain.classify import Classification, assignee_role_for, classify, warm_up
from tongpin.triage.domain.ruleset import Rule, RuleSet, RuleSetError, default_ruleset, parse_ruleset

__all__ = [
    "Classification",
    "Rule",
    "RuleSet",
    "RuleSetError",
    "assignee_role_for",
    "classify",
    "default_ruleset",
    "parse_ruleset",
    "warm_up",
]
