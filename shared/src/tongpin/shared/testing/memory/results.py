"""What the in-memory collection's writes answer, with the attributes of PyMongo's results the services read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class UpdateResult:
    matched_count: int
    modified_count: int
    upserted_id: Any = None


@dataclass(frozen=True)
class DeleteResult:
    deleted_count: int


@dataclass(frozen=True)
class InsertOneResult:
    inserted_id: Any
