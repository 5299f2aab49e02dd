"""Reading a rule-set document: every problem found with its line, or a validated RuleSet; and the packaged
default set."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import re2

from tongpin.shared.events import CATEGORIES, CHANNEL_KINDS, RISK_FLAGS, SEVERITIES
from tongpin.triage.domain.ruleset.locate import _Locator, text_find_start
from tongpin.triage.domain.ruleset.patterns import linear_regex, trie_pattern
from tongpin.triage.domain.ruleset.rules import CONTEXTS, CUE_KINDS, RULE_KINDS, Rule, RuleSet, RuleSetError

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
# Settings that list codes: what they may hold, and what the error calls such a code.
_LISTED: dict[str, tuple[tuple[str, ...], str]] = {
    "category_priority": (CATEGORIES, "类别"), "committee_categories": (CATEGORIES, "类别"),
    "committee_flags": (RISK_FLAGS, "风险标记"),
}


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
        elif key in _LISTED:
            allowed, what = _LISTED[key]
            bad = _not_in(value, allowed)
            if bad is not None:
                errors.append((line, f"{key} 含未知{what} {bad!r}"))
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


_DEFAULT: RuleSet | None = None


def default_ruleset() -> RuleSet:
    """The packaged default rule set (version 1), parsed once."""
    global _DEFAULT
    if _DEFAULT is None:
        text = resources.files("tongpin.triage.domain").joinpath("default_ruleset.json").read_text("utf-8")
        _DEFAULT = parse_ruleset(text)
    return _DEFAULT
