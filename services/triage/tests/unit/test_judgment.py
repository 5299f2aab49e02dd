"""How the rules and the model combine, how decisions explain themselves, and the model file itself."""

from __future__ import annotations

import numpy as np
import pytest

from tongpin.triage.domain import default_ruleset, parse_ruleset
from tongpin.triage.domain.classify import Classification, classify
from tongpin.triage.domain.judgment import combine, judge, judgment_version, rule_confidence, rule_confidence_table
from tongpin.triage.domain.model import (
    CHATTER,
    Contribution,
    Head,
    Model,
    ModelError,
    Prediction,
    checksum,
    features,
    normalise,
)

pytestmark = pytest.mark.unit

CLASSES = ("housing", "mental_distress", "pay_benefits", "other", CHATTER)
TABLE = [{"min_score": 0.0, "precision": 0.6}, {"min_score": 3.0, "precision": 0.8},
         {"min_score": 5.0, "precision": 0.95}]


def tiny_model(*, version: int = 7, threshold: float = 0.2) -> Model:
    """A two-feature model: enough to exercise loading, scoring and the bytes."""
    vocabulary = {"ch:officers": 0, "c:房": 1}
    weights = np.zeros((2, len(CLASSES)), dtype=np.float32)
    weights[1, 0] = 3.0  # 房 → housing
    category = Head(name="category", kind="softmax", outputs=CLASSES, weights=weights,
                    intercept=np.zeros(len(CLASSES)), temperature=1.0)
    crisis = Head(name="crisis", kind="sigmoid", outputs=("crisis",), weights=np.zeros((2, 1), dtype=np.float32),
                  intercept=np.array([-2.0]), platt=(-1.0, 0.0))
    flags = tuple(Head(name=flag, kind="sigmoid", outputs=(flag,), weights=np.zeros((2, 1), dtype=np.float32),
                       intercept=np.array([-3.0]), platt=(-1.0, 0.0)) for flag in ("self_harm", "violence"))
    return Model(version=version, name="测试模型", vocabulary=vocabulary, idf=np.ones(2), category=category,
                 crisis=crisis, flags=flags, crisis_threshold=threshold, flag_threshold=0.5,
                 meta={"rule_confidence": TABLE})


def prediction(category: str, probability: float, *, crisis: float = 0.01, self_harm: float = 0.0,
               violence: float = 0.0, threshold: float = 0.2, flags: tuple[str, ...] = ()) -> Prediction:
    return Prediction(
        category=category, category_probability=probability, probabilities={category: probability},
        crisis_probability=crisis, crisis=crisis >= threshold,
        flag_probabilities={"self_harm": self_harm, "violence": violence}, flags=flags,
        category_evidence=(Contribution("c:最后", 0.4), Contribution("c:交代", 0.2)),
        crisis_evidence=(Contribution("c:交代", 0.5),),
    )


def rules_for(text: str, channel: str = "officers") -> Classification:
    return classify(text, channel, default_ruleset())


def decide(text: str, pred: Prediction, channel: str = "officers"):
    return combine(rules_for(text, channel), pred, model=tiny_model(), ruleset=default_ruleset(),
                   channel_kind=channel)


class TestCrisis:
    def test_rules_crisis_stands_when_the_model_sees_none(self) -> None:
        judged = decide("真的不想活了，每天都看不到头", prediction("mental_distress", 0.9, crisis=0.01))
        assert judged.decision.crisis and "self_harm" in judged.decision.flags
        assert judged.decision.route == "psych_support"

    def test_model_crisis_alone_makes_a_crisis_with_its_flag(self) -> None:
        # Words no rule knows: the model's calibrated probability is over its threshold.
        judged = decide("抽屉里给你们留了封信，以后家里就靠你了", prediction("mental_distress", 0.7, crisis=0.6,
                                                                                  self_harm=0.8, violence=0.1))
        decision = judged.decision
        assert decision.crisis and decision.flags == ("self_harm",)
        assert decision.severity in ("high", "critical") and decision.route == "psych_support"
        assert not decision.dismissed
        assert any("危机概率 0.60" in line and "阈值 0.20" in line for line in decision.explanation)

    def test_model_crisis_names_violence_when_that_is_likelier(self) -> None:
        judged = decide("他天天在车里放着那把东西，说迟早找那人算账", prediction("interpersonal", 0.6, crisis=0.9,
                                                                                   self_harm=0.1, violence=0.7))
        assert judged.decision.crisis and "violence" in judged.decision.flags

    def test_below_threshold_is_no_crisis(self) -> None:
        judged = decide("最近总是睡不好", prediction("mental_distress", 0.8, crisis=0.19))
        assert not judged.decision.crisis and judged.decision.flags == ()


class TestCategory:
    def test_more_confident_model_wins(self) -> None:
        rules = rules_for("宿舍又停水了")
        assert rules.category == "housing"
        judged = combine(rules, prediction("pay_benefits", 0.99), model=tiny_model(), ruleset=default_ruleset(),
                         channel_kind="officers")
        assert judged.decision.category == "pay_benefits" and judged.evidence is not None
        assert judged.evidence.source == "model"

    def test_more_confident_rules_win(self) -> None:
        rules = rules_for("宿舍又停水了")
        score = rules.scores[rules.category]
        judged = combine(rules, prediction("pay_benefits", rule_confidence(score, TABLE) - 0.05), model=tiny_model(),
                         ruleset=default_ruleset(), channel_kind="officers")
        assert judged.decision.category == "housing" and judged.evidence.source == "rules"  # type: ignore[union-attr]

    def test_a_forcing_rule_decides_the_category(self) -> None:
        ruleset = parse_ruleset('{"version": 1, "rules": [{"id": "pay.fund", "kind": "signal", '
                                '"terms": ["公积金"], "category": "pay_benefits", "weight": 2, "force": true}]}')
        rules = classify("公积金什么时候能提出来买房", "officers", ruleset)
        assert rules.forced_category == "pay_benefits"
        judged = combine(rules, prediction("housing", 0.99), model=tiny_model(), ruleset=ruleset,
                         channel_kind="officers")
        assert judged.decision.category == "pay_benefits" and judged.evidence.source == "rules_forced"  # type: ignore[union-attr]

    def test_force_is_refused_on_a_rule_without_category(self) -> None:
        with pytest.raises(ValueError, match="强制"):
            parse_ruleset('{"version": 1, "rules": [{"id": "x.y", "kind": "signal", "terms": ["刀"], '
                          '"flag": "violence", "force": true}]}')


class TestChatter:
    def test_model_chatter_without_flags_is_dismissed(self) -> None:
        judged = decide("好的，周四下午的谈话我准时到", prediction(CHATTER, 0.9))
        assert judged.decision.dismissed and judged.decision.route == "dismiss"
        assert judged.decision.category == "other"

    def test_chatter_is_never_dismissed_when_a_flag_is_raised(self) -> None:
        judged = decide("收到。他昨晚跟我说不想活了", prediction(CHATTER, 0.6), "families")
        assert not judged.decision.dismissed and judged.decision.crisis

    def test_the_model_dismisses_a_concern_the_rules_name_only_when_surer(self) -> None:
        rules = rules_for("宿舍又停水了")
        score = rules.scores[rules.category]
        sure = rule_confidence(score, TABLE)
        unsure = combine(rules, prediction(CHATTER, sure - 0.1), model=tiny_model(), ruleset=default_ruleset(),
                         channel_kind="officers")
        assert not unsure.decision.dismissed and unsure.decision.category == "housing"
        surer = combine(rules, prediction(CHATTER, min(0.99, sure + 0.1)), model=tiny_model(),
                        ruleset=default_ruleset(), channel_kind="officers")
        assert surer.decision.dismissed

    def test_markup_around_a_concern_does_not_hide_it(self) -> None:
        assert normalise('<script>x=1</script><img src=x onerror="y">住房困难 https://a.example/b') == \
            normalise("x=1 住房困难")

    def test_a_concern_the_model_sees_keeps_rules_chatter_from_dismissing(self) -> None:
        judged = decide("收到", prediction("workload_leave", 0.8))
        assert not judged.decision.dismissed


class TestExplanation:
    def test_explanation_names_rules_and_model_with_probability(self) -> None:
        judged = decide("宿舍又停水了", prediction("housing", 0.93))
        explanation = judged.decision.explanation
        assert any(line.startswith("命中规则 ") for line in explanation)
        assert any("模型 m7" in line and "0.93" in line for line in explanation)
        # The stored explanation never quotes the message; the n-grams go in reasons, for readers only.
        assert not any("停水" in line for line in explanation)
        assert any("依据" in reason and "最后" in reason for reason in judged.decision.reasons)
        assert judged.version == "r1-m7"

    def test_judgment_version_names_both_halves(self) -> None:
        assert judgment_version(3, 2) == "r3-m2"
        assert judgment_version(3, None) == "r3"


class TestModelFile:
    def test_round_trip_gives_the_same_bytes_and_scores(self) -> None:
        model = tiny_model()
        blob = model.to_bytes()
        again = Model.from_bytes(blob, expected_checksum=checksum(blob))
        assert again.to_bytes() == blob
        predicted = again.predict(features("房子的事", "officers"))
        assert predicted.category == "housing" and 0 < predicted.category_probability <= 1
        assert predicted.category_evidence[0].feature == "c:房"

    def test_checksum_mismatch_is_refused(self) -> None:
        blob = tiny_model().to_bytes()
        with pytest.raises(ModelError, match="checksum"):
            Model.from_bytes(blob, expected_checksum="0" * 64)

    @pytest.mark.parametrize("damage", [
        lambda b: b[:-7], lambda b: b + b"x", lambda b: b"junk" + b[4:], lambda b: b[:30],
    ])
    def test_damaged_files_are_refused(self, damage) -> None:
        with pytest.raises(ModelError):
            Model.from_bytes(damage(tiny_model().to_bytes()))

    def test_traditional_and_full_width_text_read_as_simplified(self) -> None:
        assert normalise("憂鬱，ＡＢＣ") == normalise("忧郁,abc")
        assert features("憂鬱", "families") == features("忧郁", "families")


class TestRuleConfidence:
    def test_table_measures_precision_per_bin(self) -> None:
        pairs = [(1.0, True), (1.0, False), (4.0, True), (4.0, True), (6.0, True)]
        table = rule_confidence_table(pairs)
        assert table == [{"min_score": 0.0, "precision": 0.5}, {"min_score": 3.0, "precision": 1.0},
                         {"min_score": 5.0, "precision": 1.0}]
        assert rule_confidence(4.5, TABLE) == 0.8 and rule_confidence(0.5, TABLE) == 0.6


@pytest.mark.parametrize("text", [
    "", "   ", "😭😭😭🙏", "啊" * 10_000, "OT到凌晨3點，boss說weekend也要on call🙃", "我真嘅好攰，唔想返工",
    "\u200b\u200b", "𠮷野家", "1" * 5000,
])
def test_odd_messages_are_judged_without_error(text: str) -> None:
    judged = judge(text, "officers", default_ruleset(), tiny_model())
    assert judged.decision.category in (*CLASSES, "other", "marriage_family", "workload_leave", "health",
                                        "career", "interpersonal", "conduct", "service_complaint", "suggestion",
                                        "praise")
    assert judged.version == "r1-m7"
