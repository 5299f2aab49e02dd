"""Triage's repositories, one module per room; ``collections`` is the only module that names collections."""

from tongpin.triage.repository.clusters import ClusterRepository, ThemeRepository
from tongpin.triage.repository.collections import (
    CASE_PROGRESS,
    CLUSTERS,
    DECISIONS,
    HEAD_ID,
    INDEXES,
    MODEL_HEAD,
    MODELS,
    OUTBOX_COLLECTIONS,
    RULESET_HEAD,
    RULESETS,
    STAFF,
    THEMES,
    WORKLOAD,
)
from tongpin.triage.repository.decisions import DecisionRepository
from tongpin.triage.repository.staff import StaffRepository
from tongpin.triage.repository.versions import ModelRepository, RuleSetRepository, _VersionStore

__all__ = [
    "CASE_PROGRESS", "CLUSTERS", "DECISIONS", "HEAD_ID", "INDEXES", "MODELS", "MODEL_HEAD", "OUTBOX_COLLECTIONS",
    "RULESETS", "RULESET_HEAD", "STAFF", "THEMES", "WORKLOAD", "ClusterRepository", "DecisionRepository",
    "ModelRepository", "RuleSetRepository", "StaffRepository", "ThemeRepository", "_VersionStore",
]
