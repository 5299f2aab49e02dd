"""WeCom's callbacks: the URL check and encrypted group messages, signed by WeCom (no login)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from tongpin.intake.api.dependencies import Channels, Members, Messages, Open, Settings, TraceIds, runtime_of
from tongpin.intake.domain.messages import TextError
from tongpin.intake.domain.wecom import (
    WeComCrypto,
    WeComCryptoError,
    WeComMessageError,
    WeComSignatureError,
    parse_message,
    to_message_input,
)
from tongpin.intake.handlers import messages as handlers
from tongpin.intake.schemas.messages import TEXT_DOC
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Invalid, NotFound, Problem

log = get_logger(__name__)
router = APIRouter()


def _wecom(settings: IntakeSettings, channel_id: str) -> WeComCrypto:
    app = settings.wecom_apps.get(channel_id)
    if app is None:
        raise NotFound("WeCom app for channel", channel_id)
    return WeComCrypto(token=app.token.get_secret_value(), encoding_aes_key=app.aes_key.get_secret_value(),
                       receive_id=app.corp_id)


SignatureParam = Annotated[str, Query(min_length=1, max_length=128)]


@router.get("/wecom/{channel_id}/callback", response_class=PlainTextResponse, tags=["wecom"],
            summary="WeCom URL verification (signed by WeCom, no login)")
async def wecom_verify(channel_id: str, settings: Settings, msg_signature: SignatureParam, timestamp: SignatureParam,
                       nonce: SignatureParam, echostr: Annotated[str, Query(min_length=1, max_length=4096)],
                       _: Open) -> PlainTextResponse:
    """Answer WeCom's URL check with the decrypted echostr."""
    crypto = _wecom(settings, channel_id)
    try:
        plain = crypto.verify_url(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, echostr=echostr)
    except WeComSignatureError:
        raise Problem(403, "msg_signature does not match") from None
    except WeComCryptoError as exc:
        raise Invalid("echostr", str(exc)) from None
    return PlainTextResponse(plain)


@router.post("/wecom/{channel_id}/callback", response_class=PlainTextResponse, tags=["wecom"],
             summary="WeCom encrypted message callback (signed by WeCom, no login)",
             description=f"Group text messages become messages of the channel. {TEXT_DOC}")
async def wecom_receive(channel_id: str, request: Request, settings: Settings, channels: Channels, members: Members,
                        messages: Messages, trace: TraceIds, msg_signature: SignatureParam,
                        timestamp: SignatureParam, nonce: SignatureParam, _: Open) -> PlainTextResponse:
    """Verify, decrypt and store one message; a wrong signature stores nothing."""
    crypto = _wecom(settings, channel_id)
    body = await request.body()
    try:
        inner = crypto.decrypt_message(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, xml_body=body)
        parsed = to_message_input(parse_message(inner))
    except WeComSignatureError:
        raise Problem(403, "msg_signature does not match") from None
    except (WeComCryptoError, WeComMessageError) as exc:
        raise Invalid("body", str(exc)) from None
    except TextError as exc:
        raise Invalid(exc.field, exc.reason) from None
    if parsed is None:
        return PlainTextResponse("success")  # events and non-text messages: acknowledged, nothing to store
    author = await members.by_external_id(parsed.author_external_id)
    if author is None:
        log.warning("wecom.unknown_sender", channel_id=channel_id)
    _doc, created = await handlers.post_message(
        channels=channels, members=members, messages=messages, channel_id=channel_id,
        source_message_id=parsed.source_message_id, text=parsed.text, sent_at=parsed.sent_at,
        author_member_id=author["_id"] if author else None, anonymous=author is None, origin="wecom", trace=trace,
        bureau_unit=settings.bureau_unit)
    if created:
        runtime_of(request).notify_outbox()
    return PlainTextResponse("success")
