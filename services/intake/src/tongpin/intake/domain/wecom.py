"""WeCom (企业微信) app callbacks: the WXBizMsgCrypt scheme, message parsing and group-robot payloads.

Scheme (WeCom developer document 90968): signature = sha1 of the sorted concatenation of token,
timestamp, nonce and the encrypted text; AES-256-CBC with key = base64(EncodingAESKey + "="),
IV = key[:16], PKCS#7 padding to 32 bytes; plaintext = 16 random bytes + 4-byte big-endian length
+ message + receive id (the corp id for a corp's own app).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from xml.etree.ElementTree import Element, ParseError

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from tongpin.intake.domain.messages import validate_text

_BLOCK = 32  # WeCom pads to 32 bytes, not AES's 16
_RANDOM_PREFIX = 16
_MAX_BODY = 1 << 20  # a callback body is a few KB; refuse anything absurd before parsing

RobotMsgType = Literal["text", "markdown"]
# Group robot content limits in UTF-8 bytes (WeCom group robot docs: text 2048, markdown 4096).
ROBOT_CONTENT_LIMITS: dict[str, int] = {"text": 2048, "markdown": 4096}


class WeComError(Exception):
    """Base class for every WeCom callback failure."""


class WeComSignatureError(WeComError):
    """The msg_signature does not match token, timestamp, nonce and payload."""


class WeComCryptoError(WeComError):
    """The payload does not decrypt to a well-formed message for this receive id."""


class WeComMessageError(WeComError):
    """The XML is malformed, unsafe, or lacks a field we need."""


def wecom_signature(*, token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """The hex sha1 WeCom signs callbacks with: sha1 of the sorted, concatenated parts."""
    joined = "".join(sorted([token, timestamp, nonce, encrypted]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()  # noqa: S324  (sha1 is WeCom's protocol)


def _pkcs7_pad(data: bytes) -> bytes:
    pad = _BLOCK - len(data) % _BLOCK
    return data + bytes([pad]) * pad


def _pkcs7_unpad(data: bytes) -> bytes:
    if not data:
        raise WeComCryptoError("empty plaintext")
    pad = data[-1]
    if not 1 <= pad <= _BLOCK or data[-pad:] != bytes([pad]) * pad:
        raise WeComCryptoError("bad padding")
    return data[:-pad]


def _parse_xml(xml: bytes | str) -> Element:
    if len(xml) > _MAX_BODY:
        raise WeComMessageError("XML body too large")
    try:
        root = fromstring(xml, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise WeComMessageError(f"unsafe XML refused: {type(exc).__name__}") from None
    except (ParseError, ValueError) as exc:
        raise WeComMessageError(f"malformed XML: {exc}") from None
    if not isinstance(root, Element):
        raise WeComMessageError("malformed XML")
    return root


def _child_text(root: Element, tag: str) -> str | None:
    node = root.find(tag)
    if node is None:
        return None
    return node.text or ""


class WeComCrypto:
    """Verify, decrypt and encrypt WeCom app callbacks for one app (token, EncodingAESKey, receive id)."""

    def __init__(self, *, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if not token:
            raise ValueError("token must not be empty")
        if len(encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error:
            raise ValueError("EncodingAESKey is not valid base64") from None
        if len(key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes")
        self._token = token
        self._key = key
        self._receive_id = receive_id.encode("utf-8")

    # --- signature ------------------------------------------------------------------------------

    def signature(self, *, timestamp: str, nonce: str, encrypted: str) -> str:
        """The msg_signature for an encrypted payload."""
        return wecom_signature(token=self._token, timestamp=timestamp, nonce=nonce, encrypted=encrypted)

    def _check_signature(self, *, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = self.signature(timestamp=timestamp, nonce=nonce, encrypted=encrypted)
        if not hmac.compare_digest(expected.encode("ascii"), msg_signature.lower().encode("utf-8")):
            raise WeComSignatureError("msg_signature does not match")

    # --- raw encryption -------------------------------------------------------------------------

    def encrypt(self, plaintext: str, *, random_prefix: bytes | None = None) -> str:
        """Encrypt a message to WeCom's base64 form (random prefix + length + message + receive id)."""
        prefix = os.urandom(_RANDOM_PREFIX) if random_prefix is None else random_prefix
        if len(prefix) != _RANDOM_PREFIX:
            raise ValueError("random_prefix must be 16 bytes")
        message = plaintext.encode("utf-8")
        body = prefix + struct.pack(">I", len(message)) + message + self._receive_id
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).encryptor()
        ciphertext = encryptor.update(_pkcs7_pad(body)) + encryptor.finalize()
        return base64.b64encode(ciphertext).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        """Decrypt WeCom's base64 form and check the receive id; return the message."""
        try:
            ciphertext = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise WeComCryptoError("payload is not valid base64") from None
        if not ciphertext or len(ciphertext) % 16:
            raise WeComCryptoError("payload length is not a whole number of AES blocks")
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).decryptor()
        body = _pkcs7_unpad(decryptor.update(ciphertext) + decryptor.finalize())
        if len(body) < _RANDOM_PREFIX + 4:
            raise WeComCryptoError("plaintext too short")
        (length,) = struct.unpack(">I", body[_RANDOM_PREFIX : _RANDOM_PREFIX + 4])
        start = _RANDOM_PREFIX + 4
        if start + length > len(body):
            raise WeComCryptoError("message length exceeds plaintext")
        message, receive_id = body[start : start + length], body[start + length :]
        if not hmac.compare_digest(receive_id, self._receive_id):
            raise WeComCryptoError("receive id does not match")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise WeComCryptoError("message is not valid UTF-8") from None

    # --- callback operations --------------------------------------------------------------------

    def verify_url(self, *, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """Answer WeCom's URL verification GET: check the signature, return the decrypted echostr."""
        self._check_signature(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, encrypted=echostr)
        return self.decrypt(echostr)

    def decrypt_message(self, *, msg_signature: str, timestamp: str, nonce: str, xml_body: bytes) -> str:
        """Check and decrypt a callback POST body; return the inner message XML."""
        root = _parse_xml(xml_body)
        encrypted = _child_text(root, "Encrypt")
        if not encrypted:
            raise WeComMessageError("callback body has no Encrypt element")
        self._check_signature(
            msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, encrypted=encrypted
        )
        return self.decrypt(encrypted)

    def encrypt_message(self, *, reply_xml: str, nonce: str, timestamp: str) -> str:
        """Encrypt a passive reply and wrap it in the signed XML envelope WeCom expects."""
        for name, value in (("nonce", nonce), ("timestamp", timestamp)):
            if not value or "]]>" in value or "<" in value:
                raise ValueError(f"{name} is not usable in the reply envelope")
        encrypted = self.encrypt(reply_xml)
        signature = self.signature(timestamp=timestamp, nonce=nonce, encrypted=encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )


# --- inner messages ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeComMessage:
    """A decrypted WeCom message: the fields intake uses, as WeCom sent them."""

    msg_type: str
    to_user_name: str
    from_user_name: str
    create_time: datetime
    content: str | None = None
    msg_id: str | None = None
    agent_id: str | None = None
    chat_id: str | None = None
    event: str | None = None


@dataclass(frozen=True, slots=True)
class WeComMessageInput:
    """The fields of intake's message input, taken from one WeCom text message."""

    channel_external_id: str
    author_external_id: str
    text: str
    sent_at: datetime
    source_message_id: str


def parse_message(xml: str | bytes) -> WeComMessage:
    """Parse a decrypted inner message XML safely (no DTDs, no entities) into a WeComMessage."""
    root = _parse_xml(xml)
    values: dict[str, str | None] = {
        tag: _child_text(root, tag)
        for tag in (
            "MsgType", "ToUserName", "FromUserName", "CreateTime", "Content", "MsgId", "AgentID",
            "ChatId", "Event",
        )
    }
    for required in ("MsgType", "ToUserName", "FromUserName", "CreateTime"):
        if not values[required]:
            raise WeComMessageError(f"message has no {required}")
    raw_time = (values["CreateTime"] or "").strip()
    if not raw_time.isascii() or not raw_time.isdigit():
        raise WeComMessageError("CreateTime is not a Unix timestamp")
    try:
        create_time = datetime.fromtimestamp(int(raw_time), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise WeComMessageError("CreateTime is out of range") from None

    def stripped(tag: str) -> str | None:
        value = values[tag]
        return (value.strip() or None) if value is not None else None

    return WeComMessage(
        msg_type=(values["MsgType"] or "").strip(),
        to_user_name=(values["ToUserName"] or "").strip(),
        from_user_name=(values["FromUserName"] or "").strip(),
        create_time=create_time,
        content=values["Content"],  # what the person wrote: kept exactly
        msg_id=stripped("MsgId"),
        agent_id=stripped("AgentID"),
        chat_id=stripped("ChatId"),
        event=stripped("Event"),
    )


def to_message_input(message: WeComMessage) -> WeComMessageInput | None:
    """Map a text message to intake's message input; None for events and non-text messages.

    The channel is the group chat id when WeCom sends one, else the app (``agent:<AgentID>``), so
    a deployment may run one app per channel. The source message id is ``wecom:<MsgId>`` (or, for a
    message without one, a digest of sender, time and text) so WeCom's retries deduplicate.
    Raises TextError for blank or over-long text and WeComMessageError when no channel can be told.
    """
    if message.msg_type != "text" or message.content is None:
        return None
    if message.chat_id:
        channel = message.chat_id
    elif message.agent_id:
        channel = f"agent:{message.agent_id}"
    else:
        raise WeComMessageError("message names neither a ChatId nor an AgentID")
    if message.msg_id:
        source_id = f"wecom:{message.msg_id}"
    else:
        seed = f"{message.from_user_name}\n{int(message.create_time.timestamp())}\n{message.content}"
        source_id = f"wecom:sha256:{hashlib.sha256(seed.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"
    return WeComMessageInput(
        channel_external_id=channel,
        author_external_id=message.from_user_name,
        text=validate_text(message.content, field="Content"),
        sent_at=message.create_time,
        source_message_id=source_id,
    )


# --- group robot webhook ----------------------------------------------------------------------


def _can_cut_at(text: str, index: int) -> bool:
    """False inside a grapheme: before a combining mark, variation selector, skin tone or joiner, or after a joiner."""
    after, before = text[index], text[index - 1]
    if before == "\u200d" or after == "\u200d":
        return False
    if "\ufe00" <= after <= "\ufe0f" or "\U0001f3fb" <= after <= "\U0001f3ff":
        return False
    return unicodedata.category(after) not in ("Mn", "Me", "Mc")


def split_utf8(text: str, *, max_bytes: int) -> list[str]:
    """Split text into pieces of at most max_bytes UTF-8 bytes, never inside a character.

    Prefers to cut after a line break in the second half of a piece, and avoids separating a
    character from its combining marks or an emoji sequence from its joiners when it can.
    Joining the pieces gives back the text exactly.
    """
    if max_bytes < 4:
        raise ValueError("max_bytes must be at least 4 (one UTF-8 character)")
    pieces: list[str] = []
    start = 0
    while start < len(text):
        size = 0
        end = start
        while end < len(text):
            width = len(text[end].encode("utf-8", "surrogatepass"))
            if size + width > max_bytes:
                break
            size += width
            end += 1
        if end < len(text):
            newline = text.rfind("\n", start, end)
            if newline >= start + (end - start) // 2:
                end = newline + 1
            else:
                cut = end
                while cut > start + 1 and not _can_cut_at(text, cut):
                    cut -= 1
                if _can_cut_at(text, cut):
                    end = cut
        pieces.append(text[start:end])
        start = end
    return pieces


def robot_payloads(
    text: str, *, msgtype: RobotMsgType = "text", mentioned_list: list[str] | None = None
) -> list[dict[str, Any]]:
    """Group-robot webhook bodies for the text, split so each content fits WeCom's byte limit."""
    if not text:
        raise ValueError("robot message text must not be empty")
    limit = ROBOT_CONTENT_LIMITS[msgtype]
    payloads: list[dict[str, Any]] = []
    for index, piece in enumerate(split_utf8(text, max_bytes=limit)):
        body: dict[str, Any] = {"content": piece}
        # Mention people once, on the first piece; markdown messages cannot mention by list.
        if mentioned_list and msgtype == "text" and index == 0:
            body["mentioned_list"] = list(mentioned_list)
        payloads.append({"msgtype": msgtype, msgtype: body})
    return payloads


def robot_payload(
    text: str, *, msgtype: RobotMsgType = "text", mentioned_list: list[str] | None = None
) -> dict[str, Any]:
    """One group-robot webhook body; ValueError if the text needs splitting (use robot_payloads)."""
    payloads = robot_payloads(text, msgtype=msgtype, mentioned_list=mentioned_list)
    if len(payloads) != 1:
        raise ValueError(
            f"text is over {ROBOT_CONTENT_LIMITS[msgtype]} UTF-8 bytes; use robot_payloads to split it"
        )
    return payloads[0]
