"""Request and response bodies of rule sets: drafts, stored versions and the running pointer."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator


class RuleSetCreate(BaseModel):
    """A rule-set document, as JSON text (line numbers in errors refer to it) or as a JSON object."""

    model_config = ConfigDict(extra="forbid")

    document: str | dict[str, Any]

    @field_validator("document")
    @classmethod
    def _bounded(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        size = len(value) if isinstance(value, str) else len(json.dumps(value, ensure_ascii=False))
        if size > 1_000_000:
            raise ValueError("the document is larger than 1,000,000 characters")
        if isinstance(value, str) and not value.strip():
            raise ValueError("the document is empty")
        return value

    def text(self) -> str:
        if isinstance(self.document, str):
            return self.document
        return json.dumps(self.document, ensure_ascii=False, indent=2)


class RuleSetRead(BaseModel):
    version: int
    name: str = ""
    description: str = ""
    status: Literal["draft", "published"]
    running: bool
    rule_count: int = 0
    created_at: datetime
    created_by: str
    published_at: datetime | None = None
    document: str | None = None


class RuleSetPage(BaseModel):
    items: list[RuleSetRead]
    running_version: int | None
    total: int
    limit: int
    offset: int


class RuleSetHeadRead(BaseModel):
    running_version: int
    previous_versions: list[int]
    changed_at: datetime
    changed_by: str
