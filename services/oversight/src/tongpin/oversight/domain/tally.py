"""Oversight's counting in memory: the same threads, facts and counters the handlers keep in the database.

``Tally.record`` does for one accepted event what ``appender.LedgerAppender.record`` does with its repositories
(event facts, or the change in its thread's counts, applied as ``$inc`` would), and ``Tally.reports``
reads a period back like the API. Tests and what-if checks use it to compare figures with ground truth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import tzinfo
from typing import Any

from tongpin.oversight.domain import statistics, threads
from tongpin.oversight.domain.periods import SHANGHAI, Period, months_of
from tongpin.shared import events


class Tally:
    """Threads and counter documents kept in dictionaries."""

    def __init__(self, *, zone: tzinfo = SHANGHAI) -> None:
        self.zone = zone
        self.threads: dict[str, threads.Thread] = {}
        self.thread_counts: dict[str, Counter[threads.Fact]] = {}
        self.case_thread: dict[str, str] = {}
        self.docs: dict[str, dict[str, Any]] = {}

    def record(self, data: events.EventData, *, event_id: str) -> None:
        """Count one accepted event."""
        key = threads.thread_key(data)
        if key is None:
            self.apply(statistics.increments(statistics.event_facts(data, zone=self.zone)))
            return
        kind, ident = key
        thread_id = ident if kind == "concern" else self.case_thread.get(ident, f"case:{ident}")
        if isinstance(data, events.CaseOpened):
            self.case_thread[data.case_id] = thread_id
        state = threads.apply(self.threads.get(thread_id, threads.empty()), data, mark=event_id)
        after = threads.counted(state, zone=self.zone)
        delta = threads.changes(self.thread_counts.get(thread_id, Counter()), after)
        self.threads[thread_id], self.thread_counts[thread_id] = state, after
        self.apply(statistics.increments(statistics.month_facts(delta)))

    def apply(self, increments: Iterable[statistics.Increment]) -> None:
        """What an upsert with ``$inc`` does with each increment."""
        for inc in increments:
            doc = self.docs.setdefault(inc.scope_key, {"_id": inc.scope_key, **statistics.scope_fields(inc.scope_key)})
            *parents, leaf = inc.field_path.split(".")
            node = doc
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = node.get(leaf, 0) + inc.amount

    def units(self) -> list[str]:
        return sorted({str(doc["unit"]) for doc in self.docs.values()} | {statistics.ALL_UNITS})

    def reports(self, period: Period, *, threshold: int | None = None) -> dict[str, dict[str, Any]]:
        """Every unit's report and the bureau's for a period; with a threshold, as published."""
        months = set(months_of(period))
        docs = [doc for doc in self.docs.values() if doc["kind"] == statistics.MONTH and doc["key"] in months]
        stock = statistics.participation_sums(self.docs.values(), last_day=period.last_day.isoformat())
        reports = {unit: statistics.figures_of(docs, period=period, unit=unit, participation=stock.get(unit))
                   for unit in self.units()}
        return reports if threshold is None else statistics.published(reports, threshold=threshold)
