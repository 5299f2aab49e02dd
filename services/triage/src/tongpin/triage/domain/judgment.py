"""Triage's judgment: the rules and the learned model read each message, and their answers combine.

- **Crisis** when the rules fire a crisis **or** the model's calibrated crisis probability reaches the
  model's threshold (chosen on out-of-fold data for high recall). Either way the decision carries a
  ``self_harm`` or ``violence`` flag, so the crisis is visible for what it is.
- **Category** from whichever is more confident: the model's calibrated probability for its class, or
  the rules' measured precision at the strength of their evidence (``rule_confidence`` in the model,
  measured on the corpus when the model was trained). A rule marked ``force`` decides the category.
- **Chatter** (no case) only when the model's most likely class is chatter — or the rules found only
  chatter and the model does not see a concern — and neither half raised a risk flag.

Every decision names the rules that fired and the model's strongest n-grams with its probabilities.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from tongpin.shared.events import SEVERITIES
from tongpin.triage.domain.classify import CRISIS_FLAGS, Classification, classify, route_for
from tongpin.triage.domain.model import CHATTER, Model, Prediction, features, readable
from tongpin.triage.domain.ruleset import RuleSet

# The way the halves combine, recorded in every model trained for it: a change here is a new judgment,
# so a model built for it has new bytes and a new version (and the blind sets are scored again).
# 1: first model. 2: chatter dismissed only when the model is surer than the rules are of a concern.
COMBINATION = 2

# When the model alone names a category, how urgent that usually is (the rules give severity otherwise).
_MODEL_SEVERITY = {"mental_distress": "medium"}
_FLAG_SEVERITY = {"urgent_hardship": "high", "domestic_violence": "high"}
_CATEGORY_WORDS = {
    "housing": "住房", "marriage_family": "婚恋家庭", "workload_leave": "工作量与休假", "pay_benefits": "薪酬待遇",
    "career": "职业发展", "health": "身体健康", "mental_distress": "心理困扰", "interpersonal": "人际关系",
    "conduct": "民警言行", "service_complaint": "服务投诉", "suggestion": "建议", "praise": "表扬",
    "other": "其他", CHATTER: "寒暄/表态",
}


def judgment_version(ruleset_version: int, model_version: int | None) -> str:
    """The name of a judgment: the rule set and model versions that made it (``r3-m2``; ``r3`` without a model)."""
    return f"r{ruleset_version}" if model_version is None else f"r{ruleset_version}-m{model_version}"


@dataclass(frozen=True)
class Evidence:
    """What the model contributed to a decision, for staff who may read the message."""

    model_version: int
    category: str
    category_probability: float
    crisis_probability: float
    crisis_threshold: float
    category_ngrams: tuple[str, ...]
    crisis_ngrams: tuple[str, ...]
    source: str  # which half decided the category: "rules", "model", "rules_forced" or "agree"

    def as_doc(self) -> dict[str, object]:
        return {
            "model_version": self.model_version, "category": self.category,
            "category_probability": round(self.category_probability, 4),
            "crisis_probability": round(self.crisis_probability, 4),
            "crisis_threshold": round(self.crisis_threshold, 4),
            "category_ngrams": list(self.category_ngrams), "crisis_ngrams": list(self.crisis_ngrams),
            "source": self.source,
        }


@dataclass(frozen=True)
class Judgment:
    """A decision with what each half said."""

    decision: Classification
    rules: Classification
    evidence: Evidence | None
    version: str


def rule_confidence(score: float, table: Sequence[Mapping[str, float]]) -> float:
    """The rules' measured precision at this evidence score (``table``: ascending min_score, precision)."""
    confidence = 0.0
    for row in table:
        if score >= row["min_score"]:
            confidence = row["precision"]
    return confidence


def judge(text: str, channel_kind: str, ruleset: RuleSet, model: Model | None) -> Judgment:
    """Judge one message with the rules and, when one runs, the model; never raises on odd text."""
    rules = classify(text, channel_kind, ruleset)
    if model is None:
        return Judgment(decision=rules, rules=rules, evidence=None,
                        version=judgment_version(ruleset.version, None))
    prediction = model.predict(features(text, channel_kind))
    return combine(rules, prediction, model=model, ruleset=ruleset, channel_kind=channel_kind)


def combine(rules: Classification, prediction: Prediction, *, model: Model, ruleset: RuleSet,
            channel_kind: str) -> Judgment:
    """The decision both halves make together (pure: the unit tests drive it with chosen predictions)."""
    table = model.meta.get("rule_confidence") or [{"min_score": 0.0, "precision": 0.6}]
    rules_named = not rules.dismissed and rules.category != "other"
    model_category = prediction.category
    forced = rules.forced_category
    if forced:
        category, source = forced, "rules_forced"
    elif rules_named and model_category == rules.category:
        category, source = rules.category, "agree"
    elif rules_named and (model_category == CHATTER or _rule_wins(rules, prediction, table)):
        category, source = rules.category, "rules"
    else:
        category, source = ("other" if model_category == CHATTER else model_category), "model"

    flags = list(rules.flags)
    for flag in prediction.flags:
        if flag not in flags and flag not in CRISIS_FLAGS:
            flags.append(flag)
    crisis = rules.crisis or prediction.crisis
    if prediction.crisis and not CRISIS_FLAGS.intersection(flags):
        probabilities = prediction.flag_probabilities
        flags.append("violence" if probabilities.get("violence", 0.0) > probabilities.get("self_harm", 0.0)
                     else "self_harm")
    # Chatter opens no case and is not on the reading list, so nobody reads it: the model dismisses a
    # message the rules found a concern in only when it is surer of chatter than the rules are of the concern.
    dismissed = not crisis and not flags and forced is None and (
        (model_category == CHATTER and (not rules_named or _rule_wins(rules, prediction, table) is False))
        or (rules.dismissed and model_category == "other")
    )
    if dismissed:
        category = "other"

    severity = _severity(rules=rules, category=category, flags=flags, crisis=crisis)
    route = "dismiss" if dismissed else route_for(
        category=category, severity=severity, flags=flags, crisis=crisis, channel_kind=channel_kind, ruleset=ruleset)
    evidence = Evidence(
        model_version=model.version, category=model_category, category_probability=prediction.category_probability,
        crisis_probability=prediction.crisis_probability, crisis_threshold=model.crisis_threshold,
        category_ngrams=tuple(readable(c.feature) for c in prediction.category_evidence),
        crisis_ngrams=tuple(readable(c.feature) for c in prediction.crisis_evidence),
        source=source,
    )
    explanation = _explain(rules=rules, evidence=evidence, crisis=crisis, model_crisis=prediction.crisis,
                           dismissed=dismissed, limit=ruleset.settings["max_reasons"])
    decision = replace(
        rules, category=category, severity=severity, flags=tuple(flags), route=route, dismissed=dismissed,
        crisis=crisis, explanation=explanation,
        reasons=tuple(rules.reasons) + tuple(_model_reasons(evidence, prediction.crisis)),
    )
    return Judgment(decision=decision, rules=rules, evidence=evidence,
                    version=judgment_version(ruleset.version, model.version))


def _rule_wins(rules: Classification, prediction: Prediction, table: Sequence[Mapping[str, float]]) -> bool:
    score = rules.scores.get(rules.category, 0.0)
    return rule_confidence(score, table) >= prediction.category_probability


def _severity(*, rules: Classification, category: str, flags: Sequence[str], crisis: bool) -> str:
    rank = 0
    if category == rules.category:
        rank = SEVERITIES.index(rules.severity)
    rank = max(rank, SEVERITIES.index(_MODEL_SEVERITY.get(category, "low")))
    for flag in flags:
        rank = max(rank, SEVERITIES.index(_FLAG_SEVERITY.get(flag, "low")))
    if rules.severity == "critical":
        rank = SEVERITIES.index("critical")
    if crisis:
        rank = max(rank, SEVERITIES.index("high"))
    return SEVERITIES[rank]


def _explain(*, rules: Classification, evidence: Evidence, crisis: bool, model_crisis: bool, dismissed: bool,
             limit: int) -> tuple[str, ...]:
    """What triage stores and shows to every staff role: rules by id, the model by version and probability."""
    notes = list(rules.explanation)
    label = _CATEGORY_WORDS.get(evidence.category, evidence.category)
    notes.append(f"模型 m{evidence.model_version}：{label}（概率 {evidence.category_probability:.2f}）")
    if model_crisis:
        notes.append(f"模型 m{evidence.model_version}：危机概率 {evidence.crisis_probability:.2f}"
                     f"（阈值 {evidence.crisis_threshold:.2f}），按危机处理")
    elif crisis:
        notes.append(f"规则判为危机；模型危机概率 {evidence.crisis_probability:.2f}")
    source = {"rules": "类别取规则（规则更有把握）", "model": "类别取模型（模型更有把握）",
              "rules_forced": "类别由规则强制指定", "agree": "规则与模型类别一致"}[evidence.source]
    notes.append("寒暄或表态，无需处理" if dismissed else source)
    # The model's lines go last but are never cut: the rules' notes give way first.
    model_lines = notes[len(rules.explanation):]
    keep = max(0, limit - len(model_lines))
    return tuple(dict.fromkeys(list(rules.explanation)[:keep] + model_lines))


def _model_reasons(evidence: Evidence, model_crisis: bool) -> list[str]:
    """The model's reasons with the n-grams behind them (shown only to roles that may read the message)."""
    label = _CATEGORY_WORDS.get(evidence.category, evidence.category)
    lines = []
    if evidence.category_ngrams:
        lines.append(f"模型认为是{label}（{evidence.category_probability:.2f}），依据“"
                     + "”“".join(evidence.category_ngrams) + "”")
    if model_crisis and evidence.crisis_ngrams:
        lines.append(f"模型危机概率 {evidence.crisis_probability:.2f}，依据“" + "”“".join(evidence.crisis_ngrams) + "”")
    return lines


def rule_confidence_table(pairs: Sequence[tuple[float, bool]], *, bins: Sequence[float] = (0.0, 3.0, 5.0),
                          floor: float = 0.5) -> list[dict[str, float]]:
    """Measured precision of the rules' category per evidence-score bin, from (score, correct) pairs.

    Rows are objects, not pairs: FerretDB 1.24 refuses nested arrays in stored documents.
    """
    table = []
    edges = [*list(bins), float("inf")]
    for low, high in itertools.pairwise(edges):
        hits = [correct for score, correct in pairs if low <= score < high]
        precision = sum(hits) / len(hits) if hits else floor
        table.append({"min_score": low, "precision": round(max(floor, precision), 4)})
    return table


def probabilities_doc(prediction: Prediction) -> Mapping[str, float]:
    """The model's category probabilities, rounded, for the evaluation report."""
    return {code: round(p, 4) for code, p in prediction.probabilities.items()}
