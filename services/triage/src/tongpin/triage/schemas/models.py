"""Request and response bodies of models: proposals from retraining, stored versions and the running pointer."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator


class ModelCreate(BaseModel):
    """A proposed model from the retraining command: its bytes, their checksum and its measured figures."""

    model_config = ConfigDict(extra="forbid")

    blob: str = Field(min_length=1, max_length=45_000_000, description="the model file, base64")
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    figures: dict[str, Any] = Field(default={}, description="figures per evaluation set, current beside proposed")
    note: Annotated[str, StringConstraints(max_length=2000)] = ""

    @field_validator("figures")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, ensure_ascii=False)) > 200_000:
            raise ValueError("figures are larger than 200,000 characters")
        return value


class ModelRead(BaseModel):
    version: int
    name: str = ""
    status: Literal["draft", "published", "discarded"]
    source: str = ""
    running: bool
    sha256: str
    size: int
    created_at: datetime
    created_by: str
    published_at: datetime | None = None
    discarded_at: datetime | None = None
    discarded_by: str | None = None
    note: str = ""
    trained_on: int | None = None
    features: int | None = None
    crisis_recall_target: float | None = None
    figures: dict[str, Any] = {}


class ModelPage(BaseModel):
    items: list[ModelRead]
    running_version: int | None
    total: int
    limit: int
    offset: int


class ModelHeadRead(BaseModel):
    running_version: int
    previous_versions: list[int]
    changed_at: datetime
    changed_by: str
