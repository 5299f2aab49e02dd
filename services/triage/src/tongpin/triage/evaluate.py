"""Score a rule set against a labelled set: ``python -m tongpin.triage.evaluate [--file path]``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tongpin.shared.events import CATEGORIES
from tongpin.triage.domain import RuleSet, classify, default_ruleset, parse_ruleset, warm_up

# The labelled sets live in the source tree (services/triage/eval), not in the installed package.
EVAL_DIR = Path(__file__).resolve().parents[3] / "eval"


@dataclass(frozen=True)
class CategoryScore:
    """Precision, recall and F1 for one category, with its support in the labels."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Miss:
    """One message the rules got wrong, for reading the errors."""

    text: str
    channel_kind: str
    expected: str
    predicted: str
    expected_crisis: bool
    predicted_crisis: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """What an evaluation run measured."""

    total: int
    per_category: dict[str, CategoryScore]
    confusion: dict[str, dict[str, int]]
    macro_f1: float
    accuracy: float
    crisis_recall: float
    crisis_precision: float
    crisis_support: int
    dismissed_accuracy: float
    flag_recall: float
    flag_precision: float
    messages_per_second: float
    misses: tuple[Miss, ...] = field(default=(), repr=False)


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def evaluate(records: Iterable[Mapping[str, Any]], ruleset: RuleSet) -> Report:
    """Classify every labelled record and compare with its labels."""
    rows = list(records)
    started = time.perf_counter()
    results = [classify(str(r["text"]), str(r["channel_kind"]), ruleset) for r in rows]
    elapsed = time.perf_counter() - started
    confusion = {gold: dict.fromkeys(CATEGORIES, 0) for gold in CATEGORIES}
    misses: list[Miss] = []
    crisis_tp = crisis_fp = crisis_fn = 0
    flag_tp = flag_fp = flag_fn = 0
    dismissed_ok = 0
    for row, result in zip(rows, results, strict=True):
        gold = str(row["category"])
        confusion[gold][result.category] += 1
        gold_crisis = bool(row.get("crisis", False))
        crisis_tp += gold_crisis and result.crisis
        crisis_fp += (not gold_crisis) and result.crisis
        crisis_fn += gold_crisis and not result.crisis
        gold_flags = set(row.get("flags", []))
        flag_tp += len(gold_flags & set(result.flags))
        flag_fp += len(set(result.flags) - gold_flags)
        flag_fn += len(gold_flags - set(result.flags))
        dismissed_ok += bool(row.get("dismissed", False)) == result.dismissed
        if gold != result.category or gold_crisis != result.crisis:
            misses.append(Miss(
                text=str(row["text"]), channel_kind=str(row["channel_kind"]), expected=gold,
                predicted=result.category, expected_crisis=gold_crisis, predicted_crisis=result.crisis,
                reasons=result.reasons,
            ))
    per_category: dict[str, CategoryScore] = {}
    for code in CATEGORIES:
        tp = confusion[code][code]
        predicted = sum(confusion[gold][code] for gold in CATEGORIES)
        support = sum(confusion[code].values())
        if not support and not predicted:
            continue
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_category[code] = CategoryScore(precision, recall, f1, support)
    correct = sum(confusion[code][code] for code in CATEGORIES)
    return Report(
        total=len(rows),
        per_category=per_category,
        confusion=confusion,
        macro_f1=sum(s.f1 for s in per_category.values()) / len(per_category) if per_category else 0.0,
        accuracy=_ratio(correct, len(rows)),
        crisis_recall=_ratio(crisis_tp, crisis_tp + crisis_fn),
        crisis_precision=_ratio(crisis_tp, crisis_tp + crisis_fp),
        crisis_support=crisis_tp + crisis_fn,
        dismissed_accuracy=_ratio(dismissed_ok, len(rows)),
        flag_recall=_ratio(flag_tp, flag_tp + flag_fn),
        flag_precision=_ratio(flag_tp, flag_tp + flag_fp),
        messages_per_second=len(rows) / elapsed if elapsed > 0 else float("inf"),
        misses=tuple(misses),
    )


def load_records(path: Path) -> list[dict[str, Any]]:
    """Read a JSON-lines labelled set, skipping blank lines."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def format_report(report: Report, *, show_misses: bool = False) -> str:
    """The report as a plain-text table."""
    short = {code: code[:6] for code in CATEGORIES}
    lines = [f"messages: {report.total}", "", f"{'category':<18}{'prec':>7}{'recall':>8}{'f1':>7}{'n':>6}"]
    for code, score in report.per_category.items():
        lines.append(f"{code:<18}{score.precision:>7.3f}{score.recall:>8.3f}{score.f1:>7.3f}{score.support:>6}")
    lines += ["", "confusion (rows: labelled, columns: predicted)"]
    codes = [code for code in CATEGORIES if code in report.per_category]
    lines.append(" " * 18 + "".join(f"{short[c]:>7}" for c in codes))
    for gold in codes:
        lines.append(f"{gold:<18}" + "".join(f"{report.confusion[gold][c]:>7}" for c in codes))
    lines += [
        "",
        f"macro-F1:            {report.macro_f1:.3f}",
        f"accuracy:            {report.accuracy:.3f}",
        f"crisis recall:       {report.crisis_recall:.3f}  (n={report.crisis_support})",
        f"crisis precision:    {report.crisis_precision:.3f}",
        f"risk-flag recall:    {report.flag_recall:.3f}",
        f"risk-flag precision: {report.flag_precision:.3f}",
        f"dismissed accuracy:  {report.dismissed_accuracy:.3f}",
        f"throughput:          {report.messages_per_second:,.0f} messages/s",
    ]
    if show_misses:
        lines += ["", f"misses ({len(report.misses)}):"]
        for miss in report.misses:
            crisis = f" crisis {miss.expected_crisis}->{miss.predicted_crisis}" \
                if miss.expected_crisis != miss.predicted_crisis else ""
            lines.append(f"  [{miss.channel_kind}] {miss.expected} -> {miss.predicted}{crisis}: {miss.text!r}")
            lines += [f"      {reason}" for reason in miss.reasons]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Evaluate the triage rules on a labelled set.")
    parser.add_argument("--file", type=Path, default=EVAL_DIR / "labelled.jsonl", help="JSON-lines labelled set")
    parser.add_argument("--ruleset", type=Path, help="rule-set JSON (default: the packaged one)")
    parser.add_argument("--misses", action="store_true", help="list misclassified messages with reasons")
    args = parser.parse_args(argv)
    ruleset = parse_ruleset(args.ruleset.read_text(encoding="utf-8")) if args.ruleset else default_ruleset()
    records = load_records(args.file)
    warm_up()  # jieba loads in about a second; keep that out of the throughput figure
    report = evaluate(records, ruleset)
    print(f"file: {args.file}  ruleset version: {ruleset.version}")
    print(format_report(report, show_misses=args.misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
