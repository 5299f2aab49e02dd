"""Oversight's repositories on an in-memory database: the classes of ``repository`` themselves, for handler
and appender unit tests that need no server (``tongpin.shared.testing.memory`` says what the database keeps)."""

from __future__ import annotations

from dataclasses import dataclass

from tongpin.oversight import repository as r
from tongpin.oversight.appender import LedgerAppender
from tongpin.shared.testing.memory import MemoryDatabase, in_memory_stores


@dataclass
class OversightStores:
    """Every oversight repository over one in-memory database."""

    db: MemoryDatabase
    ledger: r.LedgerRepository
    batches: r.BatchRepository
    stats: r.StatisticsRepository
    subjects: r.SubjectRepository
    threads: r.ThreadRepository
    rejected: r.RejectedRepository
    items: r.ItemRepository
    audit: r.AuditQueryRepository

    def appender(self, *, max_deferrals: int = 2) -> LedgerAppender:
        """A ledger appender writing to these repositories, as a freshly started process has it."""
        return LedgerAppender(ledger=self.ledger, batches=self.batches, stats=self.stats, subjects=self.subjects,
                              rejected=self.rejected, items=self.items, threads_repo=self.threads,
                              max_deferrals=max_deferrals)


def in_memory() -> OversightStores:
    """Fresh, empty repositories with oversight's unique indexes."""
    return in_memory_stores(OversightStores, r.INDEXES)
