"""The audit trail of queries: who asked oversight what, and when, written before the answer is given."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from tongpin.oversight.repository import AuditQueryRepository
from tongpin.shared.auth import Principal


async def record_query(
    *, audit: AuditQueryRepository, principal: Principal, method: str, path: str, query: Sequence[tuple[str, str]]
) -> None:
    """Write down who asked what, and when, before the answer is given (the query as name/value pairs)."""
    await audit.record({
        "at": datetime.now(UTC), "who": principal.subject, "roles": sorted(principal.roles),
        "method": method, "path": path, "query": [{"name": name, "value": value} for name, value in query],
    })
