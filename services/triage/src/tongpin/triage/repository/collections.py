"""Triage's collection names and indexes: the one place that names them (the room modules use these)."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

DECISIONS = "decisions"
RULESETS = "rulesets"
RULESET_HEAD = "ruleset_head"
MODELS = "models"
MODEL_HEAD = "model_head"
STAFF = "staff"
WORKLOAD = "workload"
CLUSTERS = "clusters"
THEMES = "themes"
CASE_PROGRESS = "case_progress"

HEAD_ID = "head"

INDEXES = {
    DECISIONS: [
        IndexModel([("severity_rank", ASCENDING), ("raised_at", ASCENDING)], name="queue_order"),
        IndexModel([("open", ASCENDING), ("crisis", DESCENDING), ("severity_rank", ASCENDING),
                    ("raised_at", ASCENDING)], name="open_crisis_queue_order"),
        IndexModel([("unit", ASCENDING), ("category", ASCENDING), ("raised_at", ASCENDING)], name="unit_category"),
        IndexModel([("overridden", ASCENDING), ("triaged_at", ASCENDING)], name="overridden"),
        IndexModel([("case_id", ASCENDING)], name="case_id"),
    ],
    RULESETS: [IndexModel([("created_at", DESCENDING)], name="created_at")],
    MODELS: [IndexModel([("sha256", ASCENDING)], name="sha256")],
    STAFF: [IndexModel([("roles", ASCENDING)], name="roles")],
    WORKLOAD: [
        IndexModel([("assignee_id", ASCENDING), ("open", ASCENDING)], name="assignee_open"),
        IndexModel([("case_id", ASCENDING)], name="case_id"),
    ],
    THEMES: [IndexModel([("unit", ASCENDING), ("category", ASCENDING), ("last_at", DESCENDING)],
                        name="unit_category_last")],
}
OUTBOX_COLLECTIONS = [DECISIONS]

