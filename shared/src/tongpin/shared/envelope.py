"""CloudEvents 1.0 envelope, structured JSON mode, with correlation and trace extensions."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CONTENT_TYPE = "application/cloudevents+json"


class EnvelopeError(ValueError):
    """A message that is not a valid CloudEvent of a known type; carries the reason it was refused."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    specversion: str = "1.0"
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    datacontenttype: str = "application/json"
    data: dict[str, Any]
    correlationid: str | None = None
    traceparent: str | None = None

    @property
    def routing_key(self) -> str:
        return self.type

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    def to_document(self) -> dict[str, Any]:
        """BSON-friendly form for the outbox."""
        return self.model_dump(mode="json")


def new_traceparent() -> str:
    return f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"


def child_traceparent(parent: str | None) -> str:
    """Same trace, new span: what an event caused by another event or request carries."""
    parts = (parent or "").split("-")
    if len(parts) == 4 and len(parts[1]) == 32:
        return f"00-{parts[1]}-{os.urandom(8).hex()}-01"
    return new_traceparent()


def parse_envelope(body: bytes) -> CloudEvent:
    """Decode a message body into a CloudEvent, or raise EnvelopeError naming why it cannot be."""
    try:
        raw = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError("not_json", str(exc)) from exc
    if not isinstance(raw, dict):
        raise EnvelopeError("not_json", "the body is JSON but not an object")
    try:
        event = CloudEvent.model_validate(raw)
    except ValidationError as exc:
        raise EnvelopeError("bad_envelope", _first_errors(exc)) from exc
    if event.specversion != "1.0":
        raise EnvelopeError("bad_envelope", f"specversion {event.specversion!r} is not 1.0")
    return event


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
