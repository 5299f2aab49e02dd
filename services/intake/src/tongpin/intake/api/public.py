"""The public form over HTTP: submissions without login and the threads of receipt codes."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tongpin.intake.api.dependencies import (
    Channels,
    Client,
    Deliveries,
    Guard,
    Messages,
    Open,
    Receipts,
    Settings,
    TraceIds,
    runtime_of,
)
from tongpin.intake.handlers import public as handlers
from tongpin.intake.handlers.common import now_utc
from tongpin.intake.schemas.messages import TEXT_DOC
from tongpin.intake.schemas.public import (
    ReceiptLookup,
    ReceiptMessageCreate,
    SubmissionCreate,
    SubmissionRead,
    ThreadRead,
)

router = APIRouter()


@router.post("/public/submissions", status_code=201, response_model=SubmissionRead, tags=["public"],
             responses={429: {"description": "throttled"}},
             summary="Public form (no login) for the families and supervision channels",
             description=f"Anonymous allowed. Rate limited per client and overall (429). {TEXT_DOC}")
async def submit(body: SubmissionCreate, request: Request, channels: Channels, messages: Messages,
                 receipts: Receipts, guard: Guard, settings: Settings, client: Client, trace: TraceIds,
                 _: Open) -> SubmissionRead:
    """Take a submission and return its receipt code once."""
    doc, code = await handlers.submit_public(
        channels=channels, messages=messages, receipts=receipts, guard=guard, settings=settings, client=client,
        channel_kind=body.channel_kind, channel_id=body.channel_id, text=body.text, anonymous=body.anonymous,
        contact=body.contact, about_officer_id=None, trace=trace)
    runtime_of(request).notify_outbox()
    return SubmissionRead(concern_id=doc["_id"], receipt_code=code, status="received")


@router.post("/public/receipts/thread", response_model=ThreadRead, tags=["public"],
             responses={429: {"description": "throttled"}},
             summary="Read a receipt's status and replies",
             description="The code travels in the body, never the URL. Wrong codes answer 404 and lock the client "
                         "out for longer and longer (429 with Retry-After).")
async def read_thread(body: ReceiptLookup, request: Request, messages: Messages, receipts: Receipts,
                      deliveries: Deliveries, guard: Guard, settings: Settings, client: Client,
                      _: Open) -> ThreadRead:
    """The thread of a receipt code."""
    receipt = await handlers.open_receipt(receipts=receipts, guard=guard, settings=settings, client=client,
                                          code=body.receipt_code, now=now_utc())
    return ThreadRead.model_validate(await handlers.read_thread(receipt=receipt, messages=messages,
                                                                deliveries=deliveries))


@router.post("/public/receipts/messages", status_code=201, response_model=ThreadRead, tags=["public"],
             responses={429: {"description": "throttled"}},
             summary="Add a message to a receipt's thread", description=TEXT_DOC)
async def add_receipt_message(body: ReceiptMessageCreate, request: Request, messages: Messages, receipts: Receipts,
                              deliveries: Deliveries, guard: Guard, settings: Settings, client: Client,
                              trace: TraceIds, _: Open) -> ThreadRead:
    """A follow-up from the receipt holder; returns the thread."""
    receipt = await handlers.open_receipt(receipts=receipts, guard=guard, settings=settings, client=client,
                                          code=body.receipt_code, now=now_utc())
    await handlers.add_public_message(receipt=receipt, messages=messages, receipts=receipts, guard=guard,
                                      settings=settings, client=client, text=body.text, trace=trace)
    runtime_of(request).notify_outbox()
    fresh = await receipts.get(receipt["_id"])
    assert fresh is not None
    return ThreadRead.model_validate(await handlers.read_thread(receipt=fresh, messages=messages,
                                                                deliveries=deliveries))
