"""/healthz (the process is alive) and /readyz (its database and broker are reachable)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse


class Probed(Protocol):
    """What /readyz asks of the service's runtime (`app.state.runtime`)."""

    @property
    def db(self) -> Any: ...

    @property
    def reports(self) -> Mapping[str, Callable[[], dict[str, Any]]]: ...

    def broker_connected(self) -> bool: ...


def health_router() -> APIRouter:
    router = APIRouter(tags=["ops"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz(request: Request) -> dict[str, str]:
        return {"status": "ok", "service": request.app.state.runtime.settings.service_name}

    @router.get("/readyz", summary="The database and the broker are reachable")
    async def readyz(request: Request) -> JSONResponse:
        runtime: Probed = request.app.state.runtime
        checks = {"database": await _check_database(runtime), "broker": runtime.broker_connected()}
        ready = all(checks.values())
        body: dict[str, object] = {"status": "ready" if ready else "not_ready", "checks": checks}
        # Reports say what the service runs on (a degraded part keeps working on its last good state).
        body.update({name: report() for name, report in runtime.reports.items()})
        return JSONResponse(body, status_code=200 if ready else 503)

    return router


async def _check_database(runtime: Probed) -> bool:
    try:
        async with asyncio.timeout(2):
            await runtime.db.command("ping")
    except Exception:
        return False
    return True
