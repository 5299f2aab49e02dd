"""Tokens, the caller, and the staff directory."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from tongpin.counselling.domain.roles import role_set_problem
from tongpin.counselling.schemas.common import RecordVersion, ShortText, Strict, Username
from tongpin.shared.events import Code, Id, StaffRole


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    roles: list[str]
    name: str
    staff_id: str


class MeRead(BaseModel):
    staff_id: str
    roles: list[str]
    name: str
    kind: str


def _combinable(roles: list[str] | None) -> list[str] | None:
    problem = role_set_problem(roles) if roles is not None else None
    if problem:
        raise ValueError(problem)
    return roles


class StaffCreate(Strict):
    username: Username
    name: ShortText
    password: Annotated[str, StringConstraints(min_length=8, max_length=1024)]
    roles: Annotated[list[StaffRole], Field(min_length=1)]
    skills: list[Code] = []  # noqa: RUF012 - a pydantic field (Strict is a BaseModel), copied per instance
    unit: Id | None = None
    on_call: bool = False
    staff_id: Id | None = None

    _roles_combine = field_validator("roles")(_combinable)


class StaffUpdate(Strict):
    name: ShortText | None = None
    password: Annotated[str, StringConstraints(min_length=8, max_length=1024)] | None = None
    roles: Annotated[list[StaffRole], Field(min_length=1)] | None = None
    skills: list[Code] | None = None
    unit: Id | None = None
    active: bool | None = None
    version: RecordVersion | None = None

    _roles_combine = field_validator("roles")(_combinable)


class AvailabilityUpdate(Strict):
    on_leave: bool | None = None
    leave_until: AwareDatetime | None = None
    on_call: bool | None = None
    available: bool | None = None
    version: RecordVersion | None = None


class StaffRead(BaseModel):
    model_config = ConfigDict(extra="ignore")

    staff_id: str
    username: str
    name: str
    roles: list[str]
    skills: list[str] = []
    unit: str | None = None
    active: bool = True
    on_leave: bool = False
    leave_until: datetime | None = None
    on_call: bool = False
    available: bool = True
    version: int = 1
    updated_at: datetime | None = None


class StaffPage(BaseModel):
    items: list[StaffRead]
    total: int
    limit: int
    offset: int

