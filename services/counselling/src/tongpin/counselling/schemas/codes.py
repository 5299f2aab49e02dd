"""The closed lists of outcome, decision and reason codes, with their labels."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CodeRead(BaseModel):
    code: str
    zh: str
    en: str


class CodeListRead(BaseModel):
    name: str = Field(description="the list: talk_outcome, resolution_outcome, committee_decision, reopen_reason, "
                                  "talk_cancel_reason")
    zh: str
    en: str
    fields: list[str] = Field(description="the event and request fields that take a code of this list")
    codes: list[CodeRead]


class CodeListsRead(BaseModel):
    lists: list[CodeListRead]
