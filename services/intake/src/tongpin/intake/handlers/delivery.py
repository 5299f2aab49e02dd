"""Delivery back out: staff replies and broadcasts queued per channel and sent through its adapter."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx

from tongpin.intake.domain import signing
from tongpin.intake.domain.wecom import robot_payloads
from tongpin.intake.handlers.common import Trace, business_now, now_utc
from tongpin.intake.repository import (
    ChannelRepository,
    DeliveryRepository,
    MessageRepository,
    ReceiptRepository,
)
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import BroadcastDelivered, BroadcastRequested, ReplyRequested, make_event
from tongpin.shared.logging import get_logger

log = get_logger(__name__)



def _delivery(*, delivery_id: str, kind: str, channel: dict[str, Any] | None, channel_id: str, text: str,
              title: str | None, now: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "_id": delivery_id, "kind": kind, "channel_id": channel_id,
        "channel_kind": channel["kind"] if channel else None, "target": "channel", "text": text, "title": title,
        "status": "pending", "attempts": 0, "next_attempt_at": now, "attempt_log": [], "pieces_done": 0,
        "created_at": now, "finished_at": None, "text_purged_at": None, **extra,
    }


async def on_reply_requested(
    *, event: CloudEvent, data: ReplyRequested, messages: MessageRepository, channels: ChannelRepository,
    receipts: ReceiptRepository, deliveries: DeliveryRepository,
) -> None:
    """Queue a staff reply for the channel the concern came from, or post it on the receipt thread."""
    now = now_utc()
    delivery_id = f"reply:{data.reply_id}"
    message = await messages.get(data.concern_id)
    if message is not None and message.get("receipt_id"):
        receipt_id = message["receipt_id"]
        await deliveries.insert({
            "_id": delivery_id, "kind": "reply", "target": "receipt", "receipt_id": receipt_id,
            "channel_id": message["channel_id"], "channel_kind": message["channel_kind"],
            "concern_id": data.concern_id, "case_id": data.case_id, "text": data.text, "title": None,
            "status": "delivered", "attempts": 1, "next_attempt_at": None, "created_at": now, "finished_at": now,
            "attempt_log": [{"at": now, "outcome": "delivered", "detail": "posted on the receipt thread"}],
            "text_purged_at": None,
        })
        await receipts.add_entry(receipt_id, {"id": f"r:{data.reply_id}", "kind": "reply", "ref": delivery_id,
                                              "at": data.requested_at})
        return
    if message is None:
        # Retried, then parked: the concern may not have arrived yet, and ops can replay it later.
        raise LookupError(f"no concern {data.concern_id} to reply to")
    # A reply goes back where its concern came from, whatever channel the request names.
    channel_id = message["channel_id"]
    if data.channel_id and data.channel_id != channel_id:
        log.warning("reply.channel_ignored", reply_id=data.reply_id, concern_id=data.concern_id,
                    requested_channel=data.channel_id, channel_id=channel_id)
    channel = await channels.get(channel_id)
    if channel is None:
        raise LookupError(f"reply to unknown channel {channel_id}")
    await deliveries.insert(_delivery(delivery_id=delivery_id, kind="reply", channel=channel, channel_id=channel_id,
                                      text=data.text, title=None, now=now, concern_id=data.concern_id,
                                      case_id=data.case_id))


async def on_broadcast_requested(
    *, data: BroadcastRequested, channels: ChannelRepository, deliveries: DeliveryRepository, trace: Trace,
) -> None:
    """One delivery per channel of a broadcast; an unknown channel is recorded as failed at once."""
    now = now_utc()
    for channel_id in dict.fromkeys(data.channel_ids):
        delivery_id = f"broadcast:{data.broadcast_id}:{channel_id}"
        channel = await channels.get(channel_id)
        doc = _delivery(delivery_id=delivery_id, kind="broadcast", channel=channel, channel_id=channel_id,
                        text=data.text, title=data.title, now=now, broadcast_id=data.broadcast_id)
        events: list[CloudEvent] = []
        if channel is None:
            doc.update(status="failed", attempts=1, next_attempt_at=None, finished_at=now,
                       attempt_log=[{"at": now, "outcome": "failed", "detail": "unknown channel"}])
            # channel_kind is unknown for an unknown channel, so no broadcast.delivered can name it.
        await deliveries.insert(doc, events)


def _backoff(settings: IntakeSettings, attempts: int) -> float:
    tiers = settings.delivery_backoff_seconds or [5.0]
    return tiers[min(attempts - 1, len(tiers) - 1)]


class DeliveryFailed(Exception):
    """One attempt did not get through; says why."""

    def __init__(self, detail: str, *, pieces_done: int = 0) -> None:
        super().__init__(detail)
        self.pieces_done = pieces_done


def _body_text(delivery: dict[str, Any]) -> str:
    title = delivery.get("title")
    return f"【{title}】\n{delivery['text']}" if title else str(delivery["text"])


async def _send_wecom_robot(*, http: httpx.AsyncClient, url: str, delivery: dict[str, Any]) -> None:
    done = int(delivery.get("pieces_done") or 0)
    pieces = robot_payloads(_body_text(delivery))
    for index in range(done, len(pieces)):
        try:
            response = await http.post(url, json=pieces[index])
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"robot webhook unreachable: {type(exc).__name__}", pieces_done=index) from None
        errcode = None
        try:
            errcode = response.json().get("errcode")
        except ValueError:
            pass
        if response.status_code != 200 or errcode not in (0, None):
            raise DeliveryFailed(f"robot webhook answered {response.status_code} errcode={errcode}",
                                 pieces_done=index)


async def _send_webhook(*, http: httpx.AsyncClient, url: str, secret: str, delivery: dict[str, Any]) -> None:
    body = json.dumps({
        "delivery_id": delivery["_id"], "kind": delivery["kind"], "channel_id": delivery["channel_id"],
        "concern_id": delivery.get("concern_id"), "broadcast_id": delivery.get("broadcast_id"),
        "title": delivery.get("title"), "text": delivery["text"],
    }, ensure_ascii=False).encode("utf-8")
    headers = {
        "content-type": "application/json; charset=utf-8",
        signing.SIGNATURE_HEADER: signing.sign(body=body, secret=secret, timestamp=int(now_utc().timestamp())),
        # Receivers deduplicate on this id: a success whose record was lost is retried with the same id.
        "Idempotency-Key": delivery["_id"],
    }
    try:
        response = await http.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"webhook unreachable: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"webhook answered {response.status_code}")


async def attempt_delivery(
    *, delivery: dict[str, Any], channel: dict[str, Any] | None, settings: IntakeSettings, http: httpx.AsyncClient
) -> None:
    """Send one delivery through its channel's adapter; raises DeliveryFailed."""
    if channel is None:
        raise DeliveryFailed("channel no longer exists")
    adapter = (channel.get("delivery") or {}).get("adapter", "none")
    if adapter == "wecom_robot":
        app = settings.wecom_apps.get(channel["_id"])
        if app is None or app.robot_webhook_url is None:
            raise DeliveryFailed("no robot_webhook_url configured for this channel")
        await _send_wecom_robot(http=http, url=app.robot_webhook_url.get_secret_value(), delivery=delivery)
    elif adapter == "webhook":
        url = (channel.get("delivery") or {}).get("url")
        secret = settings.webhook_secrets.get(channel["_id"])
        if not url or secret is None:
            raise DeliveryFailed("no webhook url or signing secret configured for this channel")
        await _send_webhook(http=http, url=url, secret=secret.get_secret_value(), delivery=delivery)
    else:
        raise DeliveryFailed("channel has no delivery adapter")


async def deliver_due(
    *, deliveries: DeliveryRepository, channels: ChannelRepository, settings: IntakeSettings,
    http: httpx.AsyncClient, now: datetime | None = None,
) -> int:
    """Attempt every delivery that is due; returns how many were attempted."""
    now = now or now_utc()
    attempted = 0
    for delivery in await deliveries.due(now=now):
        lease = now + timedelta(seconds=settings.delivery_lease_seconds)
        if not await deliveries.claim(delivery["_id"], seen_next=delivery["next_attempt_at"], lease_until=lease):
            continue  # another worker took it
        attempted += 1
        channel = await channels.get(delivery["channel_id"])
        attempts = int(delivery.get("attempts", 0)) + 1
        at = now_utc()
        try:
            await attempt_delivery(delivery=delivery, channel=channel, settings=settings, http=http)
        except DeliveryFailed as exc:
            final = attempts >= settings.delivery_max_attempts
            update: dict[str, Any] = {
                "$set": {"attempts": attempts, "pieces_done": exc.pieces_done,
                         "status": "failed" if final else "pending",
                         "next_attempt_at": None if final else at + timedelta(seconds=_backoff(settings, attempts)),
                         "finished_at": at if final else None},
                "$push": {"attempt_log": {"at": at, "outcome": "failed", "detail": str(exc)}},
            }
            log.warning("delivery.attempt_failed", delivery_id=delivery["_id"], attempts=attempts, error=str(exc))
            await deliveries.record(delivery["_id"], update=update,
                                    events=_finished(delivery, channel, "failed", attempts,
                                                     bureau_unit=settings.bureau_unit) if final else [])
            continue
        update = {
            "$set": {"attempts": attempts, "status": "delivered", "next_attempt_at": None, "finished_at": at},
            "$push": {"attempt_log": {"at": at, "outcome": "delivered", "detail": None}},
        }
        await deliveries.record(delivery["_id"], update=update,
                                events=_finished(delivery, channel, "delivered", attempts,
                                                 bureau_unit=settings.bureau_unit))
    return attempted


def _finished(delivery: dict[str, Any], channel: dict[str, Any] | None, outcome: str, attempts: int, *,
              bureau_unit: str) -> list[CloudEvent]:
    if delivery["kind"] != "broadcast" or channel is None:
        return []
    # Counted in the month it reached the group (business time), in the channel's unit.
    data = BroadcastDelivered(broadcast_id=delivery["broadcast_id"], channel_id=delivery["channel_id"],
                              channel_kind=channel["kind"], outcome=outcome,  # type: ignore[arg-type]
                              attempts=attempts, unit=str(channel.get("unit") or bureau_unit),
                              delivered_at=business_now())
    return [make_event(data, subject=delivery["broadcast_id"])]
