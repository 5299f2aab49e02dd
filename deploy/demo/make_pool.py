"""Write pool.py: the demo's curated texts with what triage's packaged judgment makes of them.

    uv run --no-sync python deploy/demo/make_pool.py > deploy/demo/pool.py

POOL holds texts of the labelled corpus the rules were first written against, kept where the judgment
(rules and the packaged model) agrees with the label. MISROUTED holds texts of the evaluation sets that
are no longer blind (``heldout*.jsonl``) that the judgment gets wrong, with the category their label
gives (a staff member's correction in the demo). Run it again whenever the rules or the model change:
tests/e2e/test_year.py fails until the pool says what the judgment does.
"""

from __future__ import annotations

import sys

from tongpin.triage.domain import default_ruleset, warm_up
from tongpin.triage.domain.judgment import judge
from tongpin.triage.evaluate import EVAL_DIR, load_model, load_records
from tongpin.triage.train import PACKAGED

# The corpus's first messages are the ones the rules were written against (see test_evaluation.py).
RULES_CORPUS = 492
HEADER = '''# ruff: noqa: E501 - one curated message per line
"""The curated message pool: texts with what triage's packaged judgment (rules and model) makes of them.

Written by make_pool.py; do not edit by hand. Each entry: (channel kind, category, severity, flags, route,
crisis, text), from the labelled corpus where the judgment agrees with the label. MISROUTED lists texts
of the seen evaluation sets that it gets wrong, with the category a staff member corrects it to (a
triage override). tests/e2e/test_year.py checks every entry against the judgment.
"""

from __future__ import annotations

Entry = tuple[str, str, str, tuple[str, ...], str, bool, str]

'''


def main() -> int:
    ruleset, model = default_ruleset(), load_model(PACKAGED)
    warm_up()
    pool, misrouted = [], []
    for row in load_records(EVAL_DIR / "labelled.jsonl")[:RULES_CORPUS]:
        got = judge(row["text"], row["channel_kind"], ruleset, model).decision
        if row["text"].strip() and (got.category, got.crisis, got.dismissed) == (
                row["category"], row["crisis"], row["dismissed"]):
            pool.append((row["channel_kind"], got.category, got.severity, tuple(got.flags), got.route, got.crisis,
                         row["text"]))
    for path in sorted(EVAL_DIR.glob("heldout*.jsonl")):
        for row in load_records(path):
            got = judge(row["text"], row["channel_kind"], ruleset, model).decision
            if got.category != row["category"] and not (got.crisis or row["crisis"] or got.dismissed
                                                        or row["dismissed"] or got.route == "dismiss"):
                misrouted.append((row["channel_kind"], got.category, got.severity, tuple(got.flags), got.route,
                                  got.crisis, row["text"], row["category"]))
    out = [HEADER, "POOL: tuple[Entry, ...] = (\n"]
    out += [f"    {entry!r},\n" for entry in pool]
    out.append(")\n\n")
    out.append("MISROUTED: tuple[tuple[str, str, str, tuple[str, ...], str, bool, str, str], ...] = (\n")
    out += [f"    {entry!r},\n" for entry in misrouted]
    out.append(")\n")
    sys.stdout.write("".join(out))
    print(f"{len(pool)} pool texts, {len(misrouted)} misrouted", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
