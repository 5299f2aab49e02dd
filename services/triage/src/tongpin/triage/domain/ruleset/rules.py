"""A rule set in memory: its rules, cues and settings, and the screen that tells which rules can fire on a
text."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

import re2

from tongpin.shared.events import CHANNEL_KINDS
from tongpin.triage.domain.ruleset.patterns import _PY_UNICODE_ESCAPE

RULE_KINDS = ("signal", "idiom", "chatter")
# Contexts in which a rule may be told not to count; see domain/text.py for how each is detected.
CONTEXTS = ("reported", "joke", "question")
CUE_KINDS = ("negation", "negation_breakers", "reported", "reported_enders", "joke", "question")


class RuleSetError(ValueError):
    """A rule-set document that cannot be used; ``errors`` lists (line, reason) for each problem."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"第{line}行: {reason}" for line, reason in errors))


@dataclass(frozen=True)
class Rule:
    """One rule: literal terms and/or regular expressions, and what a match means."""

    id: str
    kind: str = "signal"
    label: str = ""
    terms: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    category: str | None = None
    weight: float = 1.0
    flag: str | None = None
    severity: str = "low"
    channels: tuple[str, ...] = CHANNEL_KINDS
    negatable: bool = True
    # Evidence a negated match still gives its category: "我不会想不开的" is no risk, but it is a
    # sign the writer is struggling; the flag is never raised from a negated match.
    negated_weight: float = 0.0
    ignore_in: tuple[str, ...] = ("reported", "joke")
    note: str = ""
    # A forcing rule decides the category whatever the model says (a convention the corpus may not teach,
    # such as 公积金 being pay_benefits rather than housing).
    force: bool = False
    # One alternation for terms and patterns together: a rule is one regex scan per message. Rules with
    # patterns are compiled for RE2 (linear time whatever the pattern), terms-only rules for `re`.
    regex: Any = field(compare=False, repr=False, default=re.compile(r"(?!)"))

    def to_dict(self) -> dict[str, Any]:
        """The rule as a JSON object, leaving out fields at their defaults."""
        out: dict[str, Any] = {"id": self.id, "kind": self.kind}
        if self.label:
            out["label"] = self.label
        if self.terms:
            out["terms"] = list(self.terms)
        if self.patterns:
            out["patterns"] = list(self.patterns)
        if self.category is not None:
            out["category"] = self.category
        if self.weight != 1.0:
            out["weight"] = self.weight
        if self.flag is not None:
            out["flag"] = self.flag
        if self.severity != "low":
            out["severity"] = self.severity
        if self.channels != CHANNEL_KINDS:
            out["channels"] = list(self.channels)
        if not self.negatable:
            out["negatable"] = False
        if self.negated_weight:
            out["negated_weight"] = self.negated_weight
        if self.ignore_in != ("reported", "joke"):
            out["ignore_in"] = list(self.ignore_in)
        if self.note:
            out["note"] = self.note
        if self.force:
            out["force"] = True
        return out


@dataclass(frozen=True)
class RuleSet:
    """A versioned, validated rule set."""

    version: int
    rules: tuple[Rule, ...]
    cues: dict[str, tuple[str, ...]]
    settings: dict[str, Any]
    name: str = ""
    description: str = ""
    # Every rule's regex in one RE2 set, so a message is scanned once to learn which rules can fire.
    _screen: Any = field(default=None, init=False, compare=False, repr=False)

    # Rule indexes by (kind, channel kind), in the set's order: what a message from that channel can fire.
    _plan: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict, init=False, compare=False,
                                                          repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_screen", _screen_for(self.rules))
        plan: dict[tuple[str, str], list[int]] = {}
        for index, rule in enumerate(self.rules):
            for channel in rule.channels:
                plan.setdefault((rule.kind, channel), []).append(index)
        object.__setattr__(self, "_plan", {key: tuple(indexes) for key, indexes in plan.items()})

    def scan(self, kind: str, channel_kind: str, candidates: frozenset[int] | None) -> list[Rule]:
        """The rules of a kind that apply to a channel, in the set's order, keeping only the candidates when
        they are known (see firing_candidates)."""
        indexes = self._plan.get((kind, channel_kind), ())
        if candidates is not None:
            indexes = tuple(i for i in indexes if i in candidates)
        return [self.rules[i] for i in indexes]

    def firing_candidates(self, text: str) -> frozenset[int] | None:
        """Indexes of the rules whose regex matches somewhere in the text, or None when that is not known
        (no screen could be built, or the text is too long to trust it): then every rule is scanned.

        A rule outside the set has no match at all in the text, so skipping it changes no decision."""
        if self._screen is None or len(text) > _SCREEN_MAX_CHARS:
            return None
        return frozenset(self._screen.Match(text) or ())

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (KeyError if absent)."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def to_dict(self) -> dict[str, Any]:
        """The rule set as a JSON-ready document."""
        return {
            "version": self.version,
            "name": self.name,
            "description": self.description,
            "settings": self.settings,
            "cues": {kind: list(words) for kind, words in self.cues.items()},
            "rules": [rule.to_dict() for rule in self.rules],
        }

    def to_json(self) -> str:
        """The document as JSON text that parse_ruleset reads back to an equal rule set (one rule a line)."""
        head = {key: value for key, value in self.to_dict().items() if key != "rules"}
        lines = json.dumps(head, ensure_ascii=False, indent=2)[:-2]
        rules = ",\n".join("    " + json.dumps(rule.to_dict(), ensure_ascii=False) for rule in self.rules)
        return f'{lines},\n  "rules": [\n{rules}\n  ]\n}}\n'

    def with_version(self, version: int) -> RuleSet:
        """A copy carrying another version number, for publishing an edited set (the compiled screen and
        plan are shared, not built again)."""
        copied = copy.copy(self)
        object.__setattr__(copied, "version", version)
        return copied


_SCREEN_OPTIONS = re2.Options()
_SCREEN_OPTIONS.log_errors = False
_SCREEN_OPTIONS.max_mem = 64 << 20
# RE2's set matcher reports "no match" when its automaton runs out of memory; with 64 MB it cannot on
# texts this short, and longer ones are scanned rule by rule.
_SCREEN_MAX_CHARS = 4000


def _screen_for(rules: tuple[Rule, ...]) -> Any:
    """One RE2 set holding every rule's regex, index for index; None when one cannot be added."""
    screen = re2.Set.SearchSet(_SCREEN_OPTIONS)
    try:
        for index, rule in enumerate(rules):
            pattern = rule.regex.pattern
            if isinstance(pattern, bytes) or screen.Add(_PY_UNICODE_ESCAPE.sub(r"\1\\x{\2}", pattern)) != index:
                return None
        screen.Compile()
    except re2.error:
        return None
    return screen
