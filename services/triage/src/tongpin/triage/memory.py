"""Triage's repositories on an in-memory database: the classes of ``repository`` themselves, for handler
unit tests that need no server (``tongpin.shared.testing.memory`` says what the database keeps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tongpin.shared.testing.memory import MemoryDatabase, in_memory_stores
from tongpin.triage import repository as r
from tongpin.triage.judgments import ModelBook, RuleBook


@dataclass
class TriageStores:
    """Every triage repository over one in-memory database, and the rule and model books reading it."""

    db: MemoryDatabase
    decisions: r.DecisionRepository
    staff: r.StaffRepository
    clusters: r.ClusterRepository
    themes: r.ThemeRepository
    rulesets: r.RuleSetRepository
    models: r.ModelRepository
    rulebook: RuleBook = field(init=False)
    modelbook: ModelBook = field(init=False)

    def __post_init__(self) -> None:
        self.rulebook = RuleBook(repo=self.rulesets)
        self.modelbook = ModelBook(repo=self.models)


def in_memory() -> TriageStores:
    """Fresh, empty repositories with triage's unique indexes (no rule set stored: the packaged one judges,
    and no model: the rules judge alone)."""
    return in_memory_stores(TriageStores, r.INDEXES)
