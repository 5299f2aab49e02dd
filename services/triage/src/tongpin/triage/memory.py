"""Triage's repositories on an in-memory database: the classes of ``repository`` themselves, for handler
unit tests that need no server (``tongpin.shared.testing.memory`` says what the database keeps)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from pymongo.asynchronous.database import AsyncDatabase

from tongpin.shared.testing.memory import MemoryDatabase
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
    rulebook: RuleBook
    modelbook: ModelBook


def in_memory() -> TriageStores:
    """Fresh, empty repositories with triage's unique indexes (no rule set stored: the packaged one judges,
    and no model: the rules judge alone)."""
    memory = MemoryDatabase(r.INDEXES)
    db = cast("AsyncDatabase[Any]", memory)
    rulesets, models = r.RuleSetRepository(db), r.ModelRepository(db)
    return TriageStores(
        db=memory, decisions=r.DecisionRepository(db), staff=r.StaffRepository(db), clusters=r.ClusterRepository(db),
        themes=r.ThemeRepository(db), rulesets=rulesets, models=models, rulebook=RuleBook(repo=rulesets),
        modelbook=ModelBook(repo=models),
    )
