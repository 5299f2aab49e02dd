"""What the rooms' HTTP schemas share: versions, text limits, strict bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tongpin.shared.edge import MAX_VERSION
from tongpin.shared.events import MAX_TEXT

Version = Annotated[int, Field(ge=1, le=MAX_VERSION, description="the case version read; or send it as If-Match")]

RecordVersion = Annotated[int, Field(ge=1, le=MAX_VERSION, description="the record version read (409 if it moved)")]

Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=r"\S")]

ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")]

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@\-]{2,64}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
