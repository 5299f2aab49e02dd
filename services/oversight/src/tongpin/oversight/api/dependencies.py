"""What the rooms' routes share: the roles each admits (auditor-facing reads recorded), repositories, periods."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tongpin.oversight.consumers import ledger_repository, statistics_repository
from tongpin.oversight.domain import statistics
from tongpin.oversight.domain.periods import Period, PeriodError, parse_period
from tongpin.oversight.handlers.audit import record_query
from tongpin.oversight.repository import AuditQueryRepository, ItemRepository, LedgerRepository, StatisticsRepository
from tongpin.oversight.settings import OversightSettings
from tongpin.shared.auth import Principal, Public, Roles
from tongpin.shared.edge import MAX_OFFSET
from tongpin.shared.problems import Invalid, Problem
from tongpin.shared.runtime import ServiceRuntime

MAX_PAGE = 200


def runtime_of(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def threshold_of(request: Request) -> int:
    settings = runtime_of(request).settings
    return settings.suppression_threshold if isinstance(settings, OversightSettings) else statistics.DEFAULT_THRESHOLD


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _declared_query(dependant: Dependant) -> frozenset[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared_query(sub)
    return frozenset(names)


def _query_names(request: Request) -> frozenset[str]:
    """The query parameters the matched route declares."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return frozenset()
    names = _QUERY_NAMES.get(id(route))
    if names is None:
        names = _QUERY_NAMES[id(route)] = _declared_query(route.dependant)
    return names


class RecordedRoles(Roles):
    """Admit the roles, refuse parameters the route does not take, and record the query before it is answered."""

    async def __call__(self, request: Request) -> Principal:
        principal = await super().__call__(request)
        pairs = request.query_params.multi_items()
        known = _query_names(request)
        unknown = list(dict.fromkeys(name for name, _ in pairs if name not in known))
        if unknown:
            raise Problem(422, f"invalid input: {', '.join(repr(n) for n in unknown)}", title="Unprocessable Content",
                          errors=[{"field": name, "reason": "is not a parameter of this endpoint"} for name in unknown])
        await record_query(
            audit=AuditQueryRepository(runtime_of(request).db), principal=principal, method=request.method,
            path=request.url.path, query=pairs,
        )
        return principal


AuditRead = Annotated[Principal, Depends(RecordedRoles("auditor", "admin"))]
ItemsRead = Annotated[Principal, Depends(RecordedRoles("auditor", "admin", "centre_coordinator"))]
StatisticsRead = Annotated[Principal, Depends(RecordedRoles("auditor", "admin", "committee_member"))]
ItemsWrite = Annotated[Principal, Depends(Roles("centre_coordinator", "admin"))]
Anyone = Annotated[None, Depends(Public())]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def as_period(value: str, param: str = "period") -> Period:
    try:
        return parse_period(value, param=param)
    except PeriodError as exc:
        raise Invalid(exc.param, exc.reason) from exc


def _items(request: Request) -> ItemRepository:
    return ItemRepository(runtime_of(request).db)


def _ledger(request: Request) -> LedgerRepository:
    return ledger_repository(runtime_of(request))


def _stats(request: Request) -> StatisticsRepository:
    return statistics_repository(runtime_of(request))


Items = Annotated[ItemRepository, Depends(_items)]
Ledger = Annotated[LedgerRepository, Depends(_ledger)]
Stats = Annotated[StatisticsRepository, Depends(_stats)]
