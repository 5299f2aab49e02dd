"""What the rooms' routes share: the roles each admits, the runtime, page bounds and path parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from tongpin.shared.auth import Principal, Roles
from tongpin.shared.edge import MAX_OFFSET
from tongpin.shared.runtime import ServiceRuntime

Staff = Annotated[Principal, Depends(Roles("political_worker", "psychologist", "centre_coordinator", "admin"))]
Overrider = Annotated[Principal, Depends(Roles("political_worker", "psychologist", "centre_coordinator"))]
Exporter = Annotated[Principal, Depends(Roles("centre_coordinator", "admin"))]
RuleEditor = Annotated[Principal, Depends(Roles("centre_coordinator", "admin"))]
ThemeReader = Annotated[Principal, Depends(Roles("committee_member", "centre_coordinator", "admin"))]
ModelProposer = Annotated[Principal, Depends(Roles("centre_coordinator", "admin", "system"))]
ModelPublisher = Annotated[Principal, Depends(Roles("centre_coordinator"))]

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
ConcernId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")]
Version = Annotated[int, Path(ge=1, le=1_000_000)]


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[ServiceRuntime, Depends(_runtime)]
