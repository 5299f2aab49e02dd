"""RFC 9457 problem details for every error a service returns."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException as StarletteHTTPException

from tongpin.shared.logging import get_logger

PROBLEM_JSON = "application/problem+json"
log = get_logger(__name__)


class Problem(Exception):
    """An error answered as problem+json. Raise it from handlers; the app maps it."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_ or f"https://tongpin.dev/problems/{HTTPStatus(status).phrase.lower().replace(' ', '-')}"
        self.headers = headers
        self.extensions = extensions


class NotFound(Problem):
    def __init__(self, what: str, ident: str) -> None:
        super().__init__(404, f"{what} {ident!r} was not found", what=what, id=ident)


class Conflict(Problem):
    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(409, detail, **extensions)


class Invalid(Problem):
    """422 naming the field at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(422, f"{field}: {reason}", errors=[{"field": field, "reason": reason}])


def problem_response(
    status: int, detail: str, *, title: str | None = None, type_: str | None = None,
    headers: dict[str, str] | None = None, instance: str | None = None, **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_ or "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"} and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or "body"


class Unavailable(Problem):
    """503: a dependency (the database, the broker) cannot be reached now; try again after a while."""

    def __init__(self, what: str, *, retry_after: int) -> None:
        super().__init__(503, f"the {what} cannot be reached; try again in a few seconds",
                         headers={"Retry-After": str(retry_after)}, retry_after=retry_after)


def install_problem_handlers(app: FastAPI, *, retry_after: int = 5) -> None:
    """Map every error, including unexpected ones, to problem+json; never a bare 500 page."""

    @app.exception_handler(ConnectionFailure)
    async def _database_away(request: Request, exc: ConnectionFailure) -> JSONResponse:
        log.warning("http.database_unreachable", path=request.url.path, error=repr(exc)[:300])
        problem = Unavailable("database", retry_after=retry_after)
        return problem_response(problem.status, problem.detail, headers=problem.headers, instance=request.url.path,
                                **problem.extensions)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, title=exc.title, type_=exc.type, headers=exc.headers,
                                instance=request.url.path, **exc.extensions)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(e.get("loc", ())), "reason": e.get("msg", "invalid")} for e in exc.errors()]
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        return problem_response(422, f"invalid input: {fields}", title="Unprocessable Content",
                                instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None),
                                instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unexpected_error", path=request.url.path)
        return problem_response(500, "an unexpected error occurred; it has been logged", instance=request.url.path)
