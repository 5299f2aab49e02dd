"""structlog JSON logs with correlation id and trace id bound on every line."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars, merge_contextvars


def configure_logging(*, service: str, level: str = "INFO", json: bool = True) -> None:
    """Route stdlib and structlog output through one JSON renderer on stdout."""
    shared: list[Any] = [
        merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _ensure_ids,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiormq", "aio_pika", "pymongo", "uvicorn.access", "httpx", "jieba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    bind_contextvars(service=service)
    _SERVICE[0] = service


_SERVICE = ["tongpin"]


def _ensure_ids(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict.setdefault("service", _SERVICE[0])
    event_dict.setdefault("correlation_id", None)
    event_dict.setdefault("trace_id", None)
    return event_dict


def bind_request_ids(*, correlation_id: str | None, traceparent: str | None, service: str | None = None) -> None:
    """Bind the ids of the request or event being handled to every log line that follows."""
    clear_contextvars()
    bind_contextvars(
        service=service or _SERVICE[0],
        correlation_id=correlation_id,
        trace_id=trace_id_of(traceparent),
        traceparent=traceparent,
    )


def trace_id_of(traceparent: str | None) -> str | None:
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
