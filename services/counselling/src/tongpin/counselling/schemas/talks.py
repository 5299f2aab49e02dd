"""Offline talks (约谈)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from tongpin.counselling.schemas.common import ShortText, Strict, Version
from tongpin.shared.codes import TalkCancelReason, TalkOutcome
from tongpin.shared.events import Id


class TalkRead(BaseModel):
    model_config = ConfigDict(extra="ignore")

    talk_id: str
    scheduled_for: datetime
    place: str
    participants: list[str] = []
    staff_ids: list[str] = []
    status: str
    outcome_code: str | None = None
    held_at: datetime | None = None
    cancelled_at: datetime | None = None


class TalkCreate(Strict):
    scheduled_for: AwareDatetime
    place: ShortText
    participants: Annotated[list[ShortText], Field(max_length=20)] = []  # noqa: RUF012 - a pydantic field
    staff_ids: Annotated[list[Id], Field(max_length=20)] = []  # noqa: RUF012 - a pydantic field
    version: Version | None = None


class TalkUpdate(Strict):
    scheduled_for: AwareDatetime | None = None
    place: ShortText | None = None
    participants: Annotated[list[ShortText], Field(max_length=20)] | None = None
    staff_ids: Annotated[list[Id], Field(max_length=20)] | None = None
    version: Version | None = None


class TalkCancel(Strict):
    reason_code: TalkCancelReason | None = None
    version: Version | None = None


class TalkHeldCreate(Strict):
    outcome_code: TalkOutcome
    version: Version | None = None

