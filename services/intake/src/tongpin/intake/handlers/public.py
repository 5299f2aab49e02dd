"""The public form: submissions without login, receipt codes, their threads and oversight's status on them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tongpin.intake.domain.receipts import ReceiptCodeError, hash_receipt, new_receipt_code
from tongpin.intake.handlers.common import Trace, aware, business_now, now_utc
from tongpin.intake.handlers.messages import accept_message, checked_text, new_concern_id
from tongpin.intake.repository import (
    ChannelRepository,
    DeliveryRepository,
    GuardRepository,
    MessageRepository,
    ReceiptRepository,
)
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.problems import NotFound, Problem


class TooManyRequests(Problem):
    def __init__(self, detail: str, *, retry_after: float) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(429, detail, headers={"Retry-After": str(seconds)}, retry_after=seconds)


class PublicFormClosed(Problem):
    def __init__(self) -> None:
        super().__init__(503, "the public form is not configured (no receipt pepper)")


def _pepper(settings: IntakeSettings) -> bytes:
    if settings.receipt_pepper is None:
        raise PublicFormClosed()
    return settings.receipt_pepper.get_secret_value().encode("utf-8")


async def limit_public_rate(*, guard: GuardRepository, settings: IntakeSettings, client: str, now: datetime) -> None:
    """Count one public write for the client and for everyone; 429 over either limit."""
    window = settings.public_window_seconds
    index = int(now.timestamp() // window)
    window_end = datetime.fromtimestamp((index + 1) * window, tz=UTC)
    retry_after = (window_end - now).total_seconds()
    if await guard.hit(f"public:client:{client}:{index}", expires_at=window_end) > settings.public_per_client_limit:
        raise TooManyRequests("too many submissions from this client; try again later", retry_after=retry_after)
    if await guard.hit(f"public:all:{index}", expires_at=window_end) > settings.public_overall_limit:
        raise TooManyRequests("the form is receiving too many submissions; try again later", retry_after=retry_after)


async def submit_public(
    *, channels: ChannelRepository, messages: MessageRepository, receipts: ReceiptRepository,
    guard: GuardRepository, settings: IntakeSettings, client: str, channel_kind: str, channel_id: str | None,
    text: str, anonymous: bool, contact: str | None, about_officer_id: str | None, trace: Trace,
) -> tuple[dict[str, Any], str]:
    """Take a public form submission; return the stored concern and the receipt code (shown once)."""
    pepper = _pepper(settings)
    text = checked_text(text)
    if channel_id:
        channel = await channels.get(channel_id)
        if channel is None or channel["kind"] != channel_kind:
            raise NotFound("channel", channel_id)
    else:
        channel = await channels.first_of_kind(channel_kind)
        if channel is None:
            raise NotFound("channel of kind", channel_kind)
    await limit_public_rate(guard=guard, settings=settings, client=client, now=now_utc())
    now = business_now()
    code = new_receipt_code()
    receipt_id = hash_receipt(code, pepper=pepper)
    concern_id = new_concern_id()
    # The receipt first, the message (which raises the concern) last: a request cut off between the
    # two leaves only a receipt nobody holds the code of, never a concern the submitter was told failed.
    unit = str(channel.get("unit") or settings.bureau_unit)  # a submission to a unit's channel counts there
    await receipts.insert({
        "_id": receipt_id, "concern_id": concern_id, "channel_id": channel["_id"], "channel_kind": channel["kind"],
        "unit": unit, "status": "received", "status_at": None, "created_at": now,
        "thread": [{"id": f"m:{concern_id}", "kind": "submission", "ref": concern_id, "at": now}],
    })
    doc, _ = await accept_message(
        repo=messages, channel_id=channel["_id"], channel_kind=channel["kind"],
        source_message_id=f"form:{uuid.uuid4().hex}", text=text, sent_at=now, author_member_id=None,
        correlation_id=trace.correlation_id, traceparent=trace.traceparent, origin="public_form",
        about_officer_id=None, unit=unit, receipt_id=receipt_id, contact=None if anonymous else contact,
        concern_id=concern_id,
    )
    return doc, code


async def open_receipt(
    *, receipts: ReceiptRepository, guard: GuardRepository, settings: IntakeSettings, client: str, code: str,
    now: datetime,
) -> dict[str, Any]:
    """The receipt for a code, or 404; wrong codes lock the client out for longer and longer."""
    pepper = _pepper(settings)
    lock = await guard.lockout(client)
    if lock and lock.get("locked_until") and aware(lock["locked_until"]) > now:
        raise TooManyRequests("too many wrong receipt codes; try again later",
                              retry_after=(aware(lock["locked_until"]) - now).total_seconds())
    window = settings.public_window_seconds
    index = int(now.timestamp() // window)
    window_end = datetime.fromtimestamp((index + 1) * window, tz=UTC)
    if await guard.count(f"receipt-fail:all:{index}") >= settings.receipt_overall_failure_limit:
        raise TooManyRequests("receipt look-ups are paused; try again later",
                              retry_after=(window_end - now).total_seconds())
    receipt = None
    try:
        receipt = await receipts.get(hash_receipt(code, pepper=pepper))
    except ReceiptCodeError:
        receipt = None
    if receipt is not None:
        return receipt
    state = await guard.fail(client, now=now)
    await guard.hit(f"receipt-fail:all:{index}", expires_at=window_end)
    over = int(state["failures"]) - settings.receipt_free_failures
    if over >= 0:
        delay = min(settings.receipt_lockout_max_seconds, settings.receipt_lockout_seconds * (2 ** min(over, 30)))
        await guard.lock_until(client, until=now + timedelta(seconds=delay))
    raise NotFound("receipt", "(the code given)")


async def read_thread(
    *, receipt: dict[str, Any], messages: MessageRepository, deliveries: DeliveryRepository
) -> dict[str, Any]:
    """The receipt holder's view: public status and the thread of their messages, replies and status changes."""
    entries = []
    for entry in receipt.get("thread") or []:
        item: dict[str, Any] = {"kind": entry["kind"], "at": entry["at"]}
        if entry["kind"] == "submission":
            message = await messages.get(entry["ref"])
            if message is None:
                continue  # its request failed after the thread entry was written; nothing was raised
            item["text"] = message.get("text")
        elif entry["kind"] == "reply":
            delivery = await deliveries.get(entry["ref"])
            item["text"] = delivery.get("text") if delivery else None
        else:
            item["status"] = entry.get("status")
        entries.append(item)
    return {"status": receipt.get("status", "received"), "channel_kind": receipt["channel_kind"],
            "created_at": receipt["created_at"], "entries": entries}


async def add_public_message(
    *, receipt: dict[str, Any], messages: MessageRepository, receipts: ReceiptRepository, guard: GuardRepository,
    settings: IntakeSettings, client: str, text: str, trace: Trace,
) -> dict[str, Any]:
    """A follow-up by the receipt holder: a new concern on the same receipt thread."""
    text = checked_text(text)
    await limit_public_rate(guard=guard, settings=settings, client=client, now=now_utc())
    now = business_now()
    first = await messages.get(str(receipt["concern_id"])) if not receipt.get("unit") else None
    concern_id = new_concern_id()
    # The thread entry first, the message last (see submit_public); the thread skips entries whose
    # message was never stored.
    await receipts.add_entry(receipt["_id"], {"id": f"m:{concern_id}", "kind": "submission", "ref": concern_id,
                                              "at": now})
    doc, _ = await accept_message(
        repo=messages, channel_id=receipt["channel_id"], channel_kind=receipt["channel_kind"],
        source_message_id=f"form:{uuid.uuid4().hex}", text=text, sent_at=now, author_member_id=None,
        correlation_id=trace.correlation_id, traceparent=trace.traceparent, origin="public_form",
        receipt_id=receipt["_id"], concern_id=concern_id,
        unit=str(receipt.get("unit") or (first or {}).get("unit") or settings.bureau_unit),
    )
    return doc


# --- oversight status ---------------------------------------------------------------------------


async def on_oversight_status(
    *, concern_id: str, item_id: str, status: str, at: datetime, messages: MessageRepository,
    receipts: ReceiptRepository,
) -> None:
    """Show oversight's public status on the concern and on its receipt thread."""
    message = await messages.set_public_status(concern_id, status=status, at=aware(at))
    if message is None:
        message = await messages.get(concern_id)
        if message is None:
            raise LookupError(f"oversight status for unknown concern {concern_id}")
    receipt_id = message.get("receipt_id")
    if receipt_id:
        await receipts.set_status(receipt_id, status=status, at=aware(at))
        await receipts.add_entry(receipt_id, {"id": f"s:{item_id}:{status}:{aware(at).isoformat()}",
                                              "kind": "status", "status": status, "at": aware(at)})
