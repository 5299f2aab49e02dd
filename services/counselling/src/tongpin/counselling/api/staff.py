"""Tokens and the staff directory."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from tongpin.counselling.api.dependencies import (
    Admin,
    AnyStaff,
    Availability,
    DirectoryReader,
    Limit,
    Offset,
    Open,
    context,
    trace,
)
from tongpin.counselling.handlers import staff
from tongpin.counselling.schemas.staff import (
    AvailabilityUpdate,
    MeRead,
    StaffCreate,
    StaffPage,
    StaffRead,
    StaffUpdate,
    TokenRead,
)
from tongpin.shared.problems import NotFound

router = APIRouter()


@router.post("/auth/token", response_model=TokenRead, tags=["auth"], responses={429: {"description": "throttled"}})
async def issue_token(
    request: Request, _: Open, username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
) -> TokenRead:
    """OAuth2 password flow: a short-lived bearer token for a staff member."""
    ctx = context(request)
    result = await staff.login(staff=ctx.staff, hasher=ctx.hasher, throttle=ctx.throttle, issuer=ctx.issuer,
                           username=username, password=password,
                           client=request.client.host if request.client else None)
    return TokenRead(access_token=result.token, expires_in=int(ctx.issuer.ttl.total_seconds()),
                     roles=result.staff["roles"], name=result.staff["name"], staff_id=result.staff["_id"])


@router.get("/auth/jwks", tags=["auth"])
async def jwks(request: Request, response: Response, _: Open) -> dict[str, Any]:
    """The public keys that verify staff tokens."""
    response.headers["cache-control"] = "public, max-age=300"
    return context(request).issuer.jwks()


@router.get("/auth/me", response_model=MeRead, tags=["auth"])
async def me(principal: AnyStaff) -> MeRead:
    """Who the bearer token says the caller is."""
    return MeRead(staff_id=principal.subject, roles=sorted(principal.roles), name=principal.name, kind=principal.kind)


def _staff_read(doc: dict[str, Any]) -> StaffRead:
    return StaffRead.model_validate({**doc, "staff_id": doc["_id"]})


@router.post("/staff", status_code=201, response_model=StaffRead, tags=["staff"])
async def create_staff(body: StaffCreate, request: Request, _: Admin) -> StaffRead:
    """Add a staff account."""
    ctx = context(request)
    doc = await staff.create_staff(staff=ctx.staff, hasher=ctx.hasher, username=body.username, name=body.name,
                               password=body.password, roles=list(body.roles), skills=body.skills, unit=body.unit,
                               on_call=body.on_call, staff_id=body.staff_id, trace=trace(request))
    request.app.state.runtime.notify_outbox()
    return _staff_read(doc)


@router.get("/staff", response_model=StaffPage, tags=["staff"])
async def list_staff(
    request: Request, _: DirectoryReader, role: str | None = None, limit: Limit = 50, offset: Offset = 0
) -> StaffPage:
    """The staff directory."""
    docs, total = await context(request).staff.page(query={"roles": role} if role else {}, limit=limit, offset=offset)
    return StaffPage(items=[_staff_read(d) for d in docs], total=total, limit=limit, offset=offset)


@router.get("/staff/{staff_id}", response_model=StaffRead, tags=["staff"])
async def get_staff(staff_id: str, request: Request, _: DirectoryReader) -> StaffRead:
    """One staff member."""
    doc = await context(request).staff.get(staff_id)
    if doc is None:
        raise NotFound("staff member", staff_id)
    return _staff_read(doc)


@router.patch("/staff/{staff_id}", response_model=StaffRead, tags=["staff"])
async def update_staff(staff_id: str, body: StaffUpdate, request: Request, _: Admin) -> StaffRead:
    """Change roles, skills, name, password or whether the account is active."""
    return await _change_staff(request, staff_id, body)


@router.put("/staff/{staff_id}/availability", response_model=StaffRead, tags=["staff"])
async def set_availability(staff_id: str, body: AvailabilityUpdate, request: Request, _: Availability) -> StaffRead:
    """Availability, leave and on-call (the coordinator may set these)."""
    return await _change_staff(request, staff_id, body)


async def _change_staff(request: Request, staff_id: str, body: StaffUpdate | AvailabilityUpdate) -> StaffRead:
    """Apply the fields a request set (never its version) to a staff member, and announce the change."""
    ctx = context(request)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    doc = await staff.update_staff(staff=ctx.staff, hasher=ctx.hasher, staff_id=staff_id, changes=changes,
                               version=body.version, trace=trace(request))
    request.app.state.runtime.notify_outbox()
    return _staff_read(doc)

