"""Request and response bodies of channels, membership, the roster and members."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from tongpin.intake.domain.roster import MAX_ROWS
from tongpin.shared.edge import MAX_VERSION
from tongpin.shared.events import ChannelKind, Id, MemberKind


class DeliveryConfig(BaseModel):
    adapter: Literal["wecom_robot", "webhook", "none"] = Field(
        default="none", description="wecom_robot: the robot_webhook_url of TONGPIN_WECOM_APPS; webhook: url below, "
        "signed with HMAC using TONGPIN_WEBHOOK_SECRETS[channel id]")
    url: HttpUrl | None = None

    @model_validator(mode="after")
    def _url_for_webhook(self) -> DeliveryConfig:
        if self.adapter == "webhook" and self.url is None:
            raise ValueError("a webhook adapter needs a url")
        return self


class ChannelCreate(BaseModel):
    id: Id
    kind: ChannelKind
    name: str = Field(min_length=1, max_length=100)
    external_group_id: str = Field(min_length=1, max_length=128, description="the group's id in WeCom or the bridge")
    unit: Id | None = None
    delivery: DeliveryConfig = DeliveryConfig()


def _omit_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class ChannelUpdate(BaseModel):
    """Only the fields sent change; name, group and delivery may be left out but never set to null."""

    model_config = ConfigDict(extra="forbid")

    # A None default that is never valid input: leaving a field out is allowed, sending null is not.
    version: int = Field(ge=1, le=MAX_VERSION, description="the version you read; 409 when it changed since")
    name: str = Field(default=None, min_length=1, max_length=100,  # type: ignore[assignment]
                      json_schema_extra=_omit_default)
    external_group_id: str = Field(default=None, min_length=1, max_length=128,  # type: ignore[assignment]
                                   json_schema_extra=_omit_default)
    unit: Id | None = Field(default=None, description="null clears the unit")
    delivery: DeliveryConfig = Field(default=None, json_schema_extra=_omit_default)  # type: ignore[assignment]


class ParticipationRead(BaseModel):
    joined: int
    headcount: int
    ratio: float | None = Field(description="joined / headcount, 4 decimal places; null with nobody on the roster")
    percent: float | None


class ChannelRead(BaseModel):
    id: str
    kind: ChannelKind
    name: str
    external_group_id: str
    unit: str | None
    delivery: DeliveryConfig
    version: int
    members_joined: int | None = Field(default=None, description="members in this channel at the date asked")
    participation: ParticipationRead | None = Field(
        default=None, description="this channel's joined members against its kind's roster headcount")


class ChannelPage(BaseModel):
    at: datetime
    items: list[ChannelRead]
    participation: dict[str, ParticipationRead] = Field(description="per channel kind, at the date asked")


class JoinCreate(BaseModel):
    member_id: Id | None = None
    member_external_id: str | None = Field(default=None, min_length=1, max_length=64)
    joined_at: datetime = Field(description="when the member joined; the bridge may report a past time")


class LeaveCreate(BaseModel):
    member_id: Id | None = None
    member_external_id: str | None = Field(default=None, min_length=1, max_length=64)
    left_at: datetime


class MembershipRead(BaseModel):
    member_id: str
    channel_id: str
    channel_kind: ChannelKind
    in_channel: bool
    intervals: list[dict[str, datetime | None]]
    changed: bool


class RosterUpsert(BaseModel):
    rows: list[dict[str, Any]] = Field(max_length=MAX_ROWS, description=(
        "roster rows: external_id, name, member_kind (officer/auxiliary/family/supervisor), unit, "
        "linked_officer_external_id, supervisor_kind, active, since"))


class RowErrorRead(BaseModel):
    row: int | None
    field: str | None
    reason: str


class RosterReportRead(BaseModel):
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    rejected: list[RowErrorRead]


class MemberRead(BaseModel):
    id: str
    external_id: str
    name: str
    member_kind: MemberKind
    channel_kind: ChannelKind
    unit: str | None
    linked_officer_id: str | None
    supervisor_kind: str | None
    active: bool
    roster_periods: list[dict[str, datetime | None]]
    version: int


class MemberPage(BaseModel):
    items: list[MemberRead]
    total: int
    limit: int
    offset: int
