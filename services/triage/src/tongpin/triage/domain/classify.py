"""Explainable classification of one message: category, severity, risk flags, route."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tongpin.shared.events import SEVERITIES
from tongpin.triage.domain.ruleset import Rule, RuleSet
from tongpin.triage.domain.text import find_contexts, negation_before, prepare, substance, tokenizer

CRISIS_FLAGS = frozenset({"self_harm", "violence"})
# Oversight collects what families and the public raise about officers (an oversight item, README).
OVERSIGHT_CHANNELS = frozenset({"families", "supervision"})
OVERSIGHT_CATEGORIES = frozenset({"conduct", "service_complaint"})
OVERSIGHT_FLAGS = frozenset({"domestic_violence", "corruption"})
PSYCH_CATEGORIES = frozenset({"mental_distress"})

_ASSIGNEE = {
    "answer_online": "political_worker",
    "psych_support": "psychologist",
    "committee": "centre_coordinator",
    "oversight": "centre_coordinator",
    "dismiss": None,
}
_CONTEXT_WORDS = {"reported": "转述/新闻", "joke": "玩笑", "question": "咨询提问"}
_FLAG_WORDS = {
    "self_harm": "自伤风险", "violence": "暴力风险", "domestic_violence": "家庭暴力",
    "corruption": "廉洁问题", "substance": "饮酒/成瘾", "urgent_hardship": "紧急困难",
}


@dataclass(frozen=True)
class Classification:
    """The triage decision for one message, with the rules and reasons behind it."""

    category: str
    severity: str
    flags: tuple[str, ...]
    route: str
    dismissed: bool
    crisis: bool
    rule_ids: tuple[str, ...]
    ruleset_version: int
    reasons: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict, compare=False)
    # The same explanation naming rules only, never the message's words: what triage stores and shows.
    explanation: tuple[str, ...] = ()
    # The category a forcing rule decided, if one fired (the model cannot outvote it).
    forced_category: str | None = None


@dataclass
class _Firing:
    rule: Rule
    terms: list[str]


def warm_up() -> None:
    """Load the word segmenter now (about a second) rather than on the first message that needs it."""
    tokenizer()


def assignee_role_for(route: str) -> str | None:
    """The staff role whose pool takes a concern on this route (None for dismiss)."""
    return _ASSIGNEE[route]


def classify(text: str, channel_kind: str, ruleset: RuleSet) -> Classification:
    """Classify one message from a channel under a rule set; never raises on odd text."""
    settings = ruleset.settings
    work = prepare(text if isinstance(text, str) else "", max_chars=settings["max_chars"])
    reasons: list[str] = []
    notes: list[str] = []
    idiom_hits: list[_Firing] = []
    chatter_hit = False

    # Idioms first: 累死了 / 笑死 / 想死你们了 are masked so the 死 inside never reaches the risk rules.
    masked = list(work)
    candidates = ruleset.firing_candidates(work)
    for rule in ruleset.scan("idiom", channel_kind, candidates):
        found = [m for m in rule.regex.finditer(work) if m.end() > m.start()]
        if not found:
            continue
        idiom_hits.append(_Firing(rule, [m.group(0) for m in found]))
        for match in found:
            masked[match.start():match.end()] = " " * (match.end() - match.start())
        reasons.append(f"“{found[0].group(0)}”是{rule.label or '夸张/习惯说法'}，不计为风险")
        notes.append(f"规则 {rule.id}（{rule.label or '夸张/习惯说法'}）：夸张或习惯说法，不计为风险")
    if idiom_hits:
        work = "".join(masked)
        candidates = ruleset.firing_candidates(work)

    contexts = find_contexts(work, ruleset.cues)
    firings: list[_Firing] = []
    denied: list[_Firing] = []
    for rule in ruleset.scan("signal", channel_kind, candidates):
        kept: list[str] = []
        negated: list[str] = []
        for match in rule.regex.finditer(work):
            word = match.group(0)
            if not word:
                continue
            active = [c for c in contexts.at(match.start()) if c in rule.ignore_in]
            if active:
                reasons.append(f"“{word}”出现在{_CONTEXT_WORDS[active[0]]}中，不计")
                notes.append(f"规则 {rule.id}：出现在{_CONTEXT_WORDS[active[0]]}中，不计")
                continue
            if rule.negatable:
                negation = negation_before(
                    work, match.start(),
                    cues=ruleset.cues.get("negation", ()),
                    breakers=ruleset.cues.get("negation_breakers", ()),
                    window=settings["negation_window"],
                )
                if negation is not None:
                    reasons.append(f"“{word}”前有否定“{negation}”，不计")
                    notes.append(f"规则 {rule.id}：前有否定，不计")
                    negated.append(word)
                    continue
            if word not in kept:
                kept.append(word)
        if kept:
            firings.append(_Firing(rule, kept))
        elif negated and rule.negated_weight > 0:
            denied.append(_Firing(rule, negated))

    scores: dict[str, float] = {}
    for firing in [*firings, *idiom_hits]:
        if firing.rule.category is not None and firing.rule.weight > 0:
            # A second distinct word from the same rule adds half again; more adds nothing.
            bonus = 1.0 + 0.5 * min(len(firing.terms) - 1, 1)
            scores[firing.rule.category] = scores.get(firing.rule.category, 0.0) + firing.rule.weight * bonus
    for firing in denied:
        if firing.rule.category is not None:
            scores[firing.rule.category] = scores.get(firing.rule.category, 0.0) + firing.rule.negated_weight
    # Weak evidence alone (a passing 孩子 or 领导) is not enough to name a category.
    scores = {code: score for code, score in scores.items() if score >= settings["min_score"]}

    # Chatter only when nothing of substance fired: no category reached, no risk flag raised.
    if not scores and not any(f.rule.flag for f in firings):
        residual = work
        for rule in ruleset.scan("chatter", channel_kind, None):
            residual, count = rule.regex.subn(" ", residual)
            chatter_hit = chatter_hit or count > 0
        left = substance(residual)
        small = (chatter_hit or idiom_hits) and len(left) <= settings["chatter_max_residual"]
        if not left or (small and not denied):
            reasons.append("寒暄、表态或表情，无需处理" if (chatter_hit or idiom_hits) else "无实质内容")
            notes.append(reasons[-1])
            return Classification(
                category="other", severity="low", flags=(), route="dismiss", dismissed=True, crisis=False,
                rule_ids=tuple(f.rule.id for f in idiom_hits) + _chatter_ids(ruleset, work, channel_kind),
                ruleset_version=ruleset.version, reasons=tuple(reasons[: settings["max_reasons"]]),
                scores={}, explanation=_unique(notes, settings["max_reasons"]),
            )

    category = _best_category(scores, settings["category_priority"])
    flags: list[str] = []
    severity_rank = 0
    for firing in firings:
        if firing.rule.flag and firing.rule.flag not in flags:
            flags.append(firing.rule.flag)
        # Severity only counts from rules backing the chosen category or raising a flag.
        if firing.rule.flag or firing.rule.category == category:
            severity_rank = max(severity_rank, SEVERITIES.index(firing.rule.severity))
    severity = SEVERITIES[severity_rank]
    crisis = severity == "critical" or bool(CRISIS_FLAGS.intersection(flags))
    if crisis and severity_rank < SEVERITIES.index("high"):
        severity = "high"
    forced = next((f.rule.category for f in firings if f.rule.force and f.rule.category), None)
    if forced is not None:
        category = forced
    route = route_for(category=category, severity=severity, flags=flags, crisis=crisis,
                      channel_kind=channel_kind, ruleset=ruleset)
    hit_reasons = [
        f"命中“{'”“'.join(f.terms[:3])}”（{f.rule.label or f.rule.category or f.rule.flag}）" for f in firings
    ]
    hit_notes = [f"命中规则 {f.rule.id}（{f.rule.label or f.rule.category or f.rule.flag}）" for f in firings]
    if category == "other":
        hit_reasons.append("未达到任何类别的判定阈值，归为其他")
        hit_notes.append(hit_reasons[-1])
    ordered = hit_reasons + reasons
    return Classification(
        category=category, severity=severity, flags=tuple(flags), route=route, dismissed=False,
        crisis=crisis, rule_ids=tuple(f.rule.id for f in [*firings, *denied, *idiom_hits]),
        ruleset_version=ruleset.version, reasons=tuple(ordered[: settings["max_reasons"]]), scores=scores,
        explanation=_unique(hit_notes + notes, settings["max_reasons"]), forced_category=forced,
    )


def _unique(notes: list[str], limit: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(notes))[:limit]


def _chatter_ids(ruleset: RuleSet, work: str, channel_kind: str) -> tuple[str, ...]:
    return tuple(
        rule.id for rule in ruleset.scan("chatter", channel_kind, None) if rule.regex.search(work)
    )


def _best_category(scores: dict[str, float], priority: list[str]) -> str:
    """Highest score wins; ties go to the category listed earlier in the rule set's priority."""
    if not scores:
        return "other"
    rank = {code: index for index, code in enumerate(priority)}
    return max(scores, key=lambda code: (scores[code], -rank.get(code, len(rank))))


def route_for(
    *, category: str, severity: str, flags: Sequence[str], crisis: bool, channel_kind: str, ruleset: RuleSet
) -> str:
    """Where the concern goes; order matters: safety first, then oversight, then who can solve it."""
    settings = ruleset.settings
    if crisis:
        return "psych_support"
    if category == "praise":
        # Praise needs no case: it is kept in the decision record for statistics, nobody is assigned.
        return "dismiss"
    external = channel_kind in OVERSIGHT_CHANNELS
    if external and (category in OVERSIGHT_CATEGORIES or OVERSIGHT_FLAGS.intersection(flags)):
        return "oversight"
    if category in PSYCH_CATEGORIES or "substance" in flags:
        return "psych_support"
    if category in settings["committee_categories"] or set(settings["committee_flags"]).intersection(flags):
        return "committee"
    threshold = settings["committee_severity"].get(category)
    if threshold is not None and SEVERITIES.index(severity) >= SEVERITIES.index(threshold):
        return "committee"
    return "answer_online"
