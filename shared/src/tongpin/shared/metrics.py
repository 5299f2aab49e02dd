"""Prometheus metrics shared by every service (defined once per process, labelled by service)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

HTTP_REQUESTS = Counter(
    "tongpin_http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "tongpin_http_request_seconds", "HTTP request latency", ["service", "method", "route"]
)
EVENTS_PUBLISHED = Counter("tongpin_events_published_total", "Events confirmed by the broker", ["service", "type"])
EVENTS_CONSUMED = Counter(
    "tongpin_events_consumed_total", "Events handled by consumers", ["service", "type", "outcome"]
)
EVENT_LATENCY = Histogram(
    "tongpin_event_handle_seconds", "Time spent handling one event", ["service", "type"]
)
DATABASE_COMMANDS = Counter(
    "tongpin_database_commands_total", "Database commands sent (round trips), by command and collection",
    ["service", "command", "collection"],
)


def metrics_router() -> APIRouter:
    router = APIRouter(tags=["ops"])

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


CallNext = Callable[[Request], Awaitable[Response]]


def http_metrics_middleware(service: str) -> Callable[[Request, CallNext], Awaitable[Response]]:
    async def middleware(request: Request, call_next: CallNext) -> Response:
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            HTTP_REQUESTS.labels(service, request.method, path, str(status)).inc()
            HTTP_LATENCY.labels(service, request.method, path).observe(time.perf_counter() - start)

    return middleware
