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

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import re2

from tongpin.shared.events import CATEGORIES, CHANNEL_KINDS, RISK_FLAGS, SEVERITIES

RULE_KINDS = ("signal", "idiom", "chatter")
# Contexts in which a rule may be told not to count; see text.py for how each is detected.
CONTEXTS = ("reported", "joke", "question")
CUE_KINDS = ("negation", "negation_breakers", "reported", "reported_enders", "joke", "question")

_ID = re.compile(r"^[a-z][a-z0-9_.\-]{0,63}$")
_RULE_FIELDS = frozenset({
    "id", "kind", "label", "terms", "patterns", "category", "weight", "flag", "severity",
    "channels", "negatable", "negated_weight", "ignore_in", "note", "force",
})
_SETTINGS_DEFAULTS: dict[str, Any] = {
    "max_chars": 2000,
    "negation_window": 3,
    "chatter_max_residual": 6,
    "max_reasons": 8,
    "min_score": 1.5,
    "category_priority": list(CATEGORIES),
    "committee_categories": ["housing"],
    "committee_flags": ["urgent_hardship"],
    "committee_severity": {"pay_benefits": "high"},
}
_TOP_FIELDS = frozenset({"version", "name", "description", "settings", "cues", "rules"})


class RuleSetError(ValueError):
    """A rule-set document that cannot be used; ``errors`` lists (line, reason) for each problem."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"第{line}行: {reason}" for line, reason in errors))


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_PY_UNICODE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9a-fA-F]{4})")


def linear_regex(pattern: str) -> Any:
    """The pattern compiled for RE2, which matches in time linear in the text whatever the pattern; raises
    re2.error for what only a backtracking engine can do (backreferences, lookarounds)."""
    # Python's \uXXXX escapes are written \x{XXXX} in RE2.
    return re2.compile(_PY_UNICODE_ESCAPE.sub(r"\1\\x{\2}", pattern), _RE2_OPTIONS)


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


class _Locator:
    """Maps problems to line numbers in the source text, so an editor can jump to them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.rule_spans: list[tuple[int, int]] = []

    def line_at(self, offset: int) -> int:
        return self.text.count("\n", 0, max(offset, 0)) + 1

    def key_line(self, key: str, start: int = 0, end: int | None = None) -> int:
        """Line of ``"key"`` within [start, end), or of start when absent."""
        found = self.text.find(json.dumps(key, ensure_ascii=False), start, end)
        return self.line_at(found if found >= 0 else start)

    def value_line(self, value: str, start: int, end: int) -> int:
        found = self.text.find(json.dumps(value, ensure_ascii=False)[1:-1], start, end)
        return self.line_at(found if found >= 0 else start)

    def find_rule_spans(self) -> None:
        """Record where each element of the top-level ``rules`` array starts and ends."""
        match = re.search(r'"rules"\s*:\s*\[', self.text)
        if match is None:
            return
        decoder = json.JSONDecoder()
        pos = match.end()
        while True:
            pos = _skip_ws(self.text, pos)
            if pos >= len(self.text) or self.text[pos] == "]":
                return
            try:
                _, end = decoder.raw_decode(self.text, pos)
            except json.JSONDecodeError:
                return
            self.rule_spans.append((pos, end))
            pos = _skip_ws(self.text, end)
            if pos < len(self.text) and self.text[pos] == ",":
                pos += 1


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def parse_ruleset(text: str) -> RuleSet:
    """Parse and validate a rule-set document; RuleSetError lists every problem with its line."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuleSetError([(exc.lineno, f"JSON 语法错误: {exc.msg}（第{exc.colno}列）")]) from None
    loc = _Locator(text)
    errors: list[tuple[int, str]] = []
    if not isinstance(doc, dict):
        raise RuleSetError([(1, "文档必须是 JSON 对象")])
    for key in doc:
        if key not in _TOP_FIELDS:
            errors.append((loc.key_line(key), f"未知字段 {key!r}"))
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        errors.append((loc.key_line("version"), "version 必须是不小于 1 的整数"))
        version = 1
    name = doc.get("name", "")
    description = doc.get("description", "")
    for key, value in (("name", name), ("description", description)):
        if not isinstance(value, str):
            errors.append((loc.key_line(key), f"{key} 必须是字符串"))
    settings = _parse_settings(doc.get("settings", {}), loc, errors)
    cues = _parse_cues(doc.get("cues", {}), loc, errors)
    raw_rules = doc.get("rules")
    rules: list[Rule] = []
    if not isinstance(raw_rules, list) or not raw_rules:
        errors.append((loc.key_line("rules"), "rules 必须是非空数组"))
    else:
        loc.find_rule_spans()
        seen: dict[str, int] = {}
        for index, raw in enumerate(raw_rules):
            span = loc.rule_spans[index] if index < len(loc.rule_spans) else (0, len(text))
            rule = _parse_rule(raw, span, loc, errors)
            if rule is None:
                continue
            line = loc.line_at(span[0])
            if rule.id in seen:
                errors.append((line, f"规则 id {rule.id!r} 重复（首次出现在第{seen[rule.id]}行）"))
                continue
            seen[rule.id] = line
            rules.append(rule)
    if errors:
        raise RuleSetError(sorted(errors, key=lambda item: item[0]))
    return RuleSet(
        version=version, rules=tuple(rules), cues=cues, settings=settings,
        name=name if isinstance(name, str) else "",
        description=description if isinstance(description, str) else "",
    )


def _parse_settings(raw: Any, loc: _Locator, errors: list[tuple[int, str]]) -> dict[str, Any]:
    settings = dict(_SETTINGS_DEFAULTS)
    if not isinstance(raw, dict):
        errors.append((loc.key_line("settings"), "settings 必须是对象"))
        return settings
    for key, value in raw.items():
        line = loc.key_line(key, text_find_start(loc, "settings"))
        if key not in _SETTINGS_DEFAULTS:
            errors.append((line, f"未知设置 {key!r}"))
        elif key in ("max_chars", "negation_window", "chatter_max_residual", "max_reasons"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                errors.append((line, f"{key} 必须是非负整数"))
            else:
                settings[key] = value
        elif key == "min_score":
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                errors.append((line, "min_score 必须是非负数"))
            else:
                settings[key] = float(value)
        elif key in ("category_priority", "committee_categories"):
            bad = _not_in(value, CATEGORIES)
            if bad is not None:
                errors.append((line, f"{key} 含未知类别 {bad!r}"))
            else:
                settings[key] = list(value)
        elif key == "committee_flags":
            bad = _not_in(value, RISK_FLAGS)
            if bad is not None:
                errors.append((line, f"{key} 含未知风险标记 {bad!r}"))
            else:
                settings[key] = list(value)
        elif key == "committee_severity":
            ok = isinstance(value, dict) and all(
                k in CATEGORIES and v in SEVERITIES for k, v in value.items()
            )
            if not ok:
                errors.append((line, "committee_severity 必须是 {类别: 严重程度}"))
            else:
                settings[key] = dict(value)
    return settings


def text_find_start(loc: _Locator, key: str) -> int:
    """Offset of a top-level key, so nested lookups start there."""
    found = loc.text.find(json.dumps(key))
    return max(found, 0)


def _not_in(value: Any, allowed: tuple[str, ...]) -> Any:
    """The first item of ``value`` outside ``allowed`` (or the value itself when it is not a list)."""
    if not isinstance(value, list):
        return value
    for item in value:
        if item not in allowed:
            return item
    return None


def _parse_cues(raw: Any, loc: _Locator, errors: list[tuple[int, str]]) -> dict[str, tuple[str, ...]]:
    cues: dict[str, tuple[str, ...]] = {kind: () for kind in CUE_KINDS}
    if not isinstance(raw, dict):
        errors.append((loc.key_line("cues"), "cues 必须是对象"))
        return cues
    start = text_find_start(loc, "cues")
    for key, value in raw.items():
        line = loc.key_line(key, start)
        if key not in CUE_KINDS:
            errors.append((line, f"未知提示词类型 {key!r}（可用: {', '.join(CUE_KINDS)}）"))
        elif not isinstance(value, list) or not all(isinstance(w, str) and w for w in value):
            errors.append((line, f"cues.{key} 必须是非空字符串数组"))
        else:
            cues[key] = tuple(value)
    return cues


def _parse_rule(
    raw: Any, span: tuple[int, int], loc: _Locator, errors: list[tuple[int, str]]
) -> Rule | None:
    start, end = span
    line = loc.line_at(start)
    if not isinstance(raw, dict):
        errors.append((line, "规则必须是 JSON 对象"))
        return None
    before = len(errors)

    def at(key: str) -> int:
        return loc.key_line(key, start, end)

    for key in raw:
        if key not in _RULE_FIELDS:
            errors.append((at(key), f"规则含未知字段 {key!r}"))
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _ID.match(rule_id):
        errors.append((line, "规则缺少合法的 id（小写字母开头，仅含 a-z 0-9 _ . -）"))
        rule_id = ""
    kind = raw.get("kind", "signal")
    if kind not in RULE_KINDS:
        errors.append((at("kind"), f"未知规则类型 {kind!r}"))
    terms = raw.get("terms", [])
    patterns = raw.get("patterns", [])
    if not isinstance(terms, list) or not all(isinstance(t, str) and t for t in terms):
        errors.append((at("terms"), "terms 必须是非空字符串数组"))
        terms = []
    if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
        errors.append((at("patterns"), "patterns 必须是非空字符串数组"))
        patterns = []
    if not terms and not patterns:
        errors.append((line, f"规则 {rule_id!r} 缺少 terms 或 patterns"))
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            errors.append((loc.value_line(pattern, start, end), f"正则表达式 {pattern!r} 无效: {exc}"))
            continue
        try:
            compiled = linear_regex(pattern)
        except re2.error as exc:
            reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
            errors.append((loc.value_line(pattern, start, end),
                           f"正则表达式 {pattern!r} 无法线性时间匹配（不支持反向引用、环视等）: {reason}"))
            continue
        if compiled.match(""):
            errors.append((loc.value_line(pattern, start, end), f"正则表达式 {pattern!r} 可匹配空串"))
    category = raw.get("category")
    if category is not None and category not in CATEGORIES:
        errors.append((at("category"), f"未知类别 {category!r}"))
    flag = raw.get("flag")
    if flag is not None and flag not in RISK_FLAGS:
        errors.append((at("flag"), f"未知风险标记 {flag!r}"))
    if kind == "signal" and category is None and flag is None:
        errors.append((line, f"signal 规则 {rule_id!r} 须给出 category 或 flag"))
    if kind in ("idiom", "chatter") and flag is not None:
        errors.append((at("flag"), f"{kind} 规则不能带风险标记"))
    weight = raw.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or weight < 0:
        errors.append((at("weight"), "weight 必须是非负数"))
        weight = 1.0
    negated_weight = raw.get("negated_weight", 0.0)
    if not isinstance(negated_weight, int | float) or isinstance(negated_weight, bool) or negated_weight < 0:
        errors.append((at("negated_weight"), "negated_weight 必须是非负数"))
        negated_weight = 0.0
    severity = raw.get("severity", "low")
    if severity not in SEVERITIES:
        errors.append((at("severity"), f"未知严重程度 {severity!r}"))
    channels = raw.get("channels", list(CHANNEL_KINDS))
    bad_channel = _not_in(channels, CHANNEL_KINDS)
    if bad_channel is not None or not channels:
        errors.append((at("channels"), f"channels 含未知渠道 {bad_channel!r}"))
    ignore_in = raw.get("ignore_in", ["reported", "joke"])
    bad_context = _not_in(ignore_in, CONTEXTS)
    if bad_context is not None:
        errors.append((at("ignore_in"), f"ignore_in 含未知语境 {bad_context!r}（可用: {', '.join(CONTEXTS)}）"))
    negatable = raw.get("negatable", True)
    if not isinstance(negatable, bool):
        errors.append((at("negatable"), "negatable 必须是 true 或 false"))
    force = raw.get("force", False)
    if not isinstance(force, bool):
        errors.append((at("force"), "force 必须是 true 或 false"))
    elif force and (kind != "signal" or category is None):
        errors.append((at("force"), "只有给出 category 的 signal 规则才能强制类别"))
    for key in ("label", "note"):
        if not isinstance(raw.get(key, ""), str):
            errors.append((at(key), f"{key} 必须是字符串"))
    if len(errors) > before:
        return None
    alternatives = [trie_pattern([t.lower() for t in terms])] if terms else []
    alternatives += [f"(?:{p})" for p in patterns]
    joined = "|".join(alternatives)
    return Rule(
        id=rule_id, kind=kind, label=raw.get("label", ""), terms=tuple(terms), patterns=tuple(patterns),
        category=category, weight=float(weight), flag=flag, severity=severity, channels=tuple(channels),
        negatable=negatable, negated_weight=float(negated_weight), ignore_in=tuple(ignore_in), note=raw.get("note", ""),
        # Literal terms alone cannot backtrack; anything with a pattern runs on the linear-time engine.
        force=bool(force), regex=linear_regex(joined) if patterns else re.compile(joined),
    )


def trie_pattern(terms: list[str]) -> str:
    """One regular expression for a list of literal terms, with shared prefixes factored out.

    At any position it matches the longest term that starts there, as the terms sorted longest first in
    one alternation would, but tries each character once instead of once per term (about 12 % faster on
    the corpus, same decisions).
    """
    trie: dict[str, Any] = {}
    for term in terms:
        node = trie
        for char in term:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:  # a term ends here: what follows is optional, tried first (the longest match wins)
            return f"(?:{body})?" if len(branches) == 1 else body + "?"
        return body

    return build(trie)


_DEFAULT: RuleSet | None = None


def default_ruleset() -> RuleSet:
    """The packaged default rule set (version 1), parsed once."""
    global _DEFAULT
    if _DEFAULT is None:
        text = resources.files("tongpin.triage.domain").joinpath("default_ruleset.json").read_text("utf-8")
        _DEFAULT = parse_ruleset(text)
    return _DEFAULT
