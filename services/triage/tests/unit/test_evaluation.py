"""The line held on the labelled set, and the evaluation report itself."""

import pytest

from tongpin.triage.domain import default_ruleset
from tongpin.triage.evaluate import EVAL_DIR, evaluate, format_report, load_records

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def labelled() -> list[dict]:
    return load_records(EVAL_DIR / "labelled.jsonl")


def test_labelled_set_is_broad(labelled: list[dict]) -> None:
    assert len(labelled) >= 320
    assert {r["channel_kind"] for r in labelled} == {"officers", "families", "supervision"}
    categories = {r["category"] for r in labelled}
    assert len(categories) == 13
    assert sum(r["dismissed"] for r in labelled) >= 30
    assert sum(r["crisis"] for r in labelled) >= 15


def test_quality_line_on_labelled_set(labelled: list[dict]) -> None:
    report = evaluate(labelled, default_ruleset())
    assert report.crisis_recall >= 0.95
    assert report.macro_f1 >= 0.80


def test_report_counts_add_up() -> None:
    records = [
        {"text": "不想活了", "channel_kind": "officers", "category": "mental_distress", "flags": ["self_harm"],
         "crisis": True, "dismissed": False},
        {"text": "收到", "channel_kind": "officers", "category": "other", "flags": [], "crisis": False,
         "dismissed": True},
        {"text": "加班费还没发", "channel_kind": "officers", "category": "housing", "flags": [], "crisis": False,
         "dismissed": False},
    ]
    report = evaluate(records, default_ruleset())
    assert report.total == 3
    assert report.crisis_recall == 1.0 and report.crisis_precision == 1.0
    assert report.confusion["housing"]["pay_benefits"] == 1
    assert report.per_category["housing"].recall == 0.0
    assert report.per_category["mental_distress"].f1 == 1.0
    assert len(report.misses) == 1
    assert report.messages_per_second > 0
    text = format_report(report, show_misses=True)
    assert "macro-F1" in text and "加班费还没发" in text
