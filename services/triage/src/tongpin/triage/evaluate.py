"""Score triage's judgment (rules and model) on labelled sets: ``python -m tongpin.triage.evaluate``.

Blind sets (``eval/blind/``) are scored with ``--blind``: each set once per judgment version, the
figures appended to ``eval/scores.jsonl``; their misses are never printed (reading them would make
the set seen). ``--cv`` reports cross-validated figures on the labelled corpus.
"""

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
from tongpin.triage.domain import RuleSet, default_ruleset, parse_ruleset, warm_up
from tongpin.triage.domain.judgment import judge, judgment_version
from tongpin.triage.domain.model import Model, checksum

# The labelled sets live in the source tree (services/triage/eval), not in the installed package.
EVAL_DIR = Path(__file__).resolve().parents[3] / "eval"
BLIND_DIR = EVAL_DIR / "blind"
SCORES = EVAL_DIR / "scores.jsonl"


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
    chatter_recall: float
    chatter_support: int
    wrongly_dismissed: int
    flag_recall: float
    flag_precision: float
    messages_per_second: float
    misses: tuple[Miss, ...] = field(default=(), repr=False)


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def evaluate(records: Iterable[Mapping[str, Any]], ruleset: RuleSet, model: Model | None = None) -> Report:
    """Judge every labelled record (rules, and the model when given) and compare with its labels."""
    rows = list(records)
    started = time.perf_counter()
    results = [judge(str(r["text"]), str(r["channel_kind"]), ruleset, model).decision for r in rows]
    elapsed = time.perf_counter() - started
    return compare(rows, results, elapsed=elapsed)


def compare(rows: list[Mapping[str, Any]], results: list[Any], *, elapsed: float = 0.0) -> Report:
    """Compare decisions with the labels of the same rows."""
    confusion = {gold: dict.fromkeys(CATEGORIES, 0) for gold in CATEGORIES}
    misses: list[Miss] = []
    crisis_tp = crisis_fp = crisis_fn = 0
    flag_tp = flag_fp = flag_fn = 0
    dismissed_ok = chatter_hit = chatter_support = wrongly_dismissed = 0
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
        gold_dismissed = bool(row.get("dismissed", False))
        dismissed_ok += gold_dismissed == result.dismissed
        chatter_support += gold_dismissed
        chatter_hit += gold_dismissed and result.dismissed
        wrongly_dismissed += (not gold_dismissed) and result.dismissed
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
        chatter_recall=_ratio(chatter_hit, chatter_support),
        chatter_support=chatter_support,
        wrongly_dismissed=wrongly_dismissed,
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
        f"chatter dismissed:   {report.chatter_recall:.3f}  (n={report.chatter_support}; "
        f"concerns wrongly dismissed: {report.wrongly_dismissed})",
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


def figures(report: Report) -> dict[str, Any]:
    """The headline figures of a report, as recorded in scores.jsonl and the eval README."""
    return {
        "n": report.total, "macro_f1": round(report.macro_f1, 3), "accuracy": round(report.accuracy, 3),
        "crisis_recall": round(report.crisis_recall, 3), "crisis_precision": round(report.crisis_precision, 3),
        "crisis_n": report.crisis_support, "chatter_dismissed": round(report.chatter_recall, 3),
        "chatter_n": report.chatter_support, "wrongly_dismissed": report.wrongly_dismissed,
        "flag_recall": round(report.flag_recall, 3), "flag_precision": round(report.flag_precision, 3),
        "messages_per_second": round(report.messages_per_second),
    }


def load_model(path: Path | None) -> Model | None:
    """A model file (checked against the .sha256 beside it when there is one), or None."""
    if path is None:
        return None
    blob = path.read_bytes()
    digest = path.with_suffix(".sha256")
    expected = digest.read_text(encoding="utf-8").strip() if digest.exists() else None
    return Model.from_bytes(blob, expected_checksum=expected)


def already_scored(set_name: str, judgment: str, model_sha: str | None) -> bool:
    if not SCORES.exists():
        return False
    for line in SCORES.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row["set"] == set_name and row["judgment"] == judgment and row.get("model_sha256") == model_sha:
                return True
    return False


def score_blind(ruleset: RuleSet, model: Model | None, *, note: str = "") -> list[dict[str, Any]]:
    """Score every blind set not yet scored with this judgment; append the figures to scores.jsonl."""
    judgment = judgment_version(ruleset.version, model.version if model else None)
    model_sha = checksum(model.to_bytes()) if model else None
    recorded = []
    for path in sorted(BLIND_DIR.glob("*.jsonl")):
        if already_scored(path.stem, judgment, model_sha):
            print(f"{path.stem}: already scored with {judgment} (model {str(model_sha)[:12]}); not scored again")
            continue
        report = evaluate(load_records(path), ruleset, model)
        row = {"set": path.stem, "judgment": judgment, "model_sha256": model_sha,
               "combination": model.meta.get("combination", 1) if model else None,
               "scored_at": time.strftime("%Y-%m-%d"), **figures(report)}
        if note:
            row["note"] = note
        with SCORES.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        recorded.append(row)
        print(json.dumps(row, ensure_ascii=False))
    return recorded


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from tongpin.triage.train import PACKAGED  # training needs scikit-learn; only load it here

    parser = argparse.ArgumentParser(description="Evaluate triage's judgment on a labelled set.")
    parser.add_argument("--file", type=Path, default=EVAL_DIR / "labelled.jsonl", help="JSON-lines labelled set")
    parser.add_argument("--ruleset", type=Path, help="rule-set JSON (default: the packaged one)")
    parser.add_argument("--model", type=Path, default=PACKAGED, help="model file (default: the packaged one)")
    parser.add_argument("--rules-only", action="store_true", help="judge with the rules alone")
    parser.add_argument("--misses", action="store_true", help="list misjudged messages with reasons")
    parser.add_argument("--blind", action="store_true",
                        help="score every blind set once for this judgment and record the figures")
    parser.add_argument("--cv", action="store_true", help="cross-validated figures on the labelled corpus")
    parser.add_argument("--note", default="", help="a note recorded with --blind figures")
    args = parser.parse_args(argv)
    ruleset = parse_ruleset(args.ruleset.read_text(encoding="utf-8")) if args.ruleset else default_ruleset()
    warm_up()  # jieba loads in about a second; keep that out of the throughput figure
    if args.cv:
        from tongpin.triage.train import cross_validate

        report = cross_validate(load_records(args.file), ruleset)
        print(f"cross-validated on {args.file}: rule set {ruleset.version} + a model trained per fold")
        print(format_report(report))
        return 0
    if not args.rules_only and not args.model.exists():
        print(f"no model at {args.model}: build it with `python -m tongpin.triage.train`", file=sys.stderr)
        return 2
    model = None if args.rules_only else load_model(args.model)
    if args.blind:
        score_blind(ruleset, model, note=args.note)
        return 0
    if args.misses and args.file.resolve().parent == BLIND_DIR.resolve():
        print("refusing to print the misses of a blind set: reading them makes it seen. Move it to eval/seen/ "
              "first (and say so in the eval README).", file=sys.stderr)
        return 2
    records = load_records(args.file)
    report = evaluate(records, ruleset, model)
    print(f"file: {args.file}  judgment: {judgment_version(ruleset.version, model.version if model else None)}")
    print(format_report(report, show_misses=args.misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
