"""Oversight's repositories, one module per room; ``collections`` is the only module that names collections."""

from tongpin.oversight.repository.audit import AuditQueryRepository
from tongpin.oversight.repository.collections import (
    AUDIT_QUERIES,
    DIGESTS,
    INDEXES,
    ITEMS,
    LEDGER,
    LEDGER_BATCHES,
    LEDGER_CLAIMS,
    OUTBOX_COLLECTIONS,
    REJECTED,
    STATISTICS,
    SUBJECTS,
    THREADS,
    UNITS,
)
from tongpin.oversight.repository.items import ItemRepository
from tongpin.oversight.repository.ledger import BatchRepository, LedgerConflict, LedgerRepository, RejectedRepository
from tongpin.oversight.repository.statistics import StatisticsRepository
from tongpin.oversight.repository.threads import SubjectRepository, ThreadRepository, mark_key

__all__ = [
    "AUDIT_QUERIES", "DIGESTS", "INDEXES", "ITEMS", "LEDGER", "LEDGER_BATCHES", "LEDGER_CLAIMS", "OUTBOX_COLLECTIONS",
    "REJECTED", "STATISTICS", "SUBJECTS", "THREADS", "UNITS", "AuditQueryRepository", "BatchRepository",
    "ItemRepository", "LedgerConflict", "LedgerRepository", "RejectedRepository", "StatisticsRepository",
    "SubjectRepository", "ThreadRepository", "mark_key",
]
