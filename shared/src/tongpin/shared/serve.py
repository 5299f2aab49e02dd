"""Run a service process: `python -m tongpin.<service>`."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from tongpin.shared.settings import ServiceSettings


def serve(create_app: Callable[[ServiceSettings], FastAPI], settings: ServiceSettings) -> None:
    """Serve the app on the settings' host and port, with logs left to structlog.

    uvicorn's own forwarded-header handling is off: it would believe X-Forwarded-For from any local
    client. The app believes it only from settings.trusted_proxies (see create_service_app).
    """
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                proxy_headers=False)
