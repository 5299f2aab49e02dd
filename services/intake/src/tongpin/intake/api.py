"""Intake's HTTP API: thin routes that validate, call one handler and map the result."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from tongpin.intake import handlers
from tongpin.intake.repository import MessageRepository
from tongpin.shared.auth import Principal, Roles
from tongpin.shared.events import MAX_TEXT, ChannelKind
from tongpin.shared.problems import NotFound

router = APIRouter(tags=["messages"])

Bridge = Annotated[Principal, Depends(Roles("system", "admin"))]


class MessageCreate(BaseModel):
    channel_id: str = Field(min_length=1, max_length=128)
    channel_kind: ChannelKind
    source_message_id: str = Field(min_length=1, max_length=256)
    author_member_id: str | None = Field(default=None, max_length=128)
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    sent_at: datetime


class MessageRead(BaseModel):
    id: str
    channel_id: str
    channel_kind: ChannelKind
    source_message_id: str
    author_member_id: str | None
    text: str | None
    sent_at: datetime


def _repo(request: Request) -> MessageRepository:
    return MessageRepository(request.app.state.runtime.db)


def _read(doc: dict[str, Any]) -> MessageRead:
    return MessageRead.model_validate({**doc, "id": doc["_id"]})


@router.post("/messages", status_code=201, response_model=MessageRead)
async def post_message(body: MessageCreate, request: Request, response: Response, _: Bridge) -> MessageRead:
    """Accept one message from a channel bridge; a retry with the same source id returns the same message."""
    doc, created = await handlers.accept_message(
        repo=_repo(request), channel_id=body.channel_id, channel_kind=body.channel_kind,
        source_message_id=body.source_message_id, text=body.text, sent_at=body.sent_at,
        author_member_id=body.author_member_id, correlation_id=request.state.correlation_id,
        traceparent=request.state.traceparent,
    )
    if created:
        request.app.state.runtime.notify_outbox()
    else:
        response.status_code = 200
    return _read(doc)


@router.get("/messages/{message_id}", response_model=MessageRead)
async def get_message(message_id: str, request: Request, _: Bridge) -> MessageRead:
    doc = await _repo(request).get(message_id)
    if doc is None:
        raise NotFound("message", message_id)
    return _read(doc)
