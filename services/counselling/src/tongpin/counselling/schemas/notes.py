"""Sealed notes (their content only for readers the author's group admits)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from tongpin.counselling.schemas.common import Strict, Text


class NoteCreate(Strict):
    text: Text


class NoteMeta(BaseModel):
    model_config = ConfigDict(extra="ignore")

    note_id: str
    case_id: str
    author_id: str
    author_group: str
    created_at: datetime
    readable: bool = False


class NoteRead(NoteMeta):
    text: str


class NoteReadRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reader_id: str
    reader_roles: list[str]
    at: datetime

