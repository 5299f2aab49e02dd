"""WeCom callback crypto, message parsing and group-robot payloads."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml.ElementTree import fromstring

from tongpin.intake.domain.messages import TextError
from tongpin.intake.domain.wecom import (
    ROBOT_CONTENT_LIMITS,
    WeComCrypto,
    WeComCryptoError,
    WeComMessage,
    WeComMessageError,
    WeComSignatureError,
    parse_message,
    robot_payload,
    robot_payloads,
    split_utf8,
    to_message_input,
    wecom_signature,
)

pytestmark = pytest.mark.unit

# --- WeCom's published sample values ------------------------------------------------------------
# From WeCom developer document 90968 (加解密方案说明), as reproduced verbatim in the official
# callback SDK sample code: sbzhu/weworkapi_php, callback/Sample.php (commit 0855251597a9...),
# the same values appear in the C# and Node.js SDK samples that cite document 90968.
TOKEN = "QDG6eK"
ENCODING_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"

# 使用示例一：验证回调URL — GET /cgi-bin/wxpush?msg_signature=...&timestamp=...&nonce=...&echostr=...
# (echostr shown here URL-decoded, as the sample does).
VERIFY_MSG_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
VERIFY_TIMESTAMP = "1409659589"
VERIFY_NONCE = "263014780"
VERIFY_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="

# 使用示例二：对用户回复的消息解密 — POST /cgi-bin/wxpush?msg_signature=...&timestamp=...&nonce=...
MSG_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
MSG_TIMESTAMP = "1409659813"
MSG_NONCE = "1372623149"
MSG_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUp"
    "j911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue"
    "06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+"
    "3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH"
    "27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8"
    "R07+qN+E7Q=="
)
MSG_BODY = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA["
    + MSG_ENCRYPT
    + "]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
).encode()
# The decrypted message, as the sample's comment gives it.
MSG_PLAINTEXT = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
    "<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
    "<CreateTime>1409659813</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[hello]]></Content>\n"
    "<MsgId>4561255354251345929</MsgId>\n"
    "<AgentID>218</AgentID>\n"
    "</xml>"
)


@pytest.fixture
def crypto() -> WeComCrypto:
    return WeComCrypto(token=TOKEN, encoding_aes_key=ENCODING_AES_KEY, receive_id=CORP_ID)


# --- the published samples ----------------------------------------------------------------------


def test_sample_signatures_match_wecoms() -> None:
    assert wecom_signature(
        token=TOKEN, timestamp=VERIFY_TIMESTAMP, nonce=VERIFY_NONCE, encrypted=VERIFY_ECHOSTR
    ) == VERIFY_MSG_SIGNATURE
    assert wecom_signature(
        token=TOKEN, timestamp=MSG_TIMESTAMP, nonce=MSG_NONCE, encrypted=MSG_ENCRYPT
    ) == MSG_SIGNATURE


def test_sample_url_verification_returns_the_echo(crypto: WeComCrypto) -> None:
    echo = crypto.verify_url(
        msg_signature=VERIFY_MSG_SIGNATURE, timestamp=VERIFY_TIMESTAMP, nonce=VERIFY_NONCE,
        echostr=VERIFY_ECHOSTR,
    )
    assert echo == "1616140317555161061"


def test_sample_message_decrypts_to_the_published_plaintext(crypto: WeComCrypto) -> None:
    inner = crypto.decrypt_message(
        msg_signature=MSG_SIGNATURE, timestamp=MSG_TIMESTAMP, nonce=MSG_NONCE, xml_body=MSG_BODY
    )
    assert inner == MSG_PLAINTEXT


def test_encrypt_reproduces_the_sample_ciphertext_given_its_random_prefix(crypto: WeComCrypto) -> None:
    # Take the sample's 16 random bytes (the first plaintext block) and re-encrypt: byte-identical.
    key = base64.b64decode(ENCODING_AES_KEY + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    first_block = decryptor.update(base64.b64decode(MSG_ENCRYPT)[:16])
    assert crypto.encrypt(MSG_PLAINTEXT, random_prefix=first_block) == MSG_ENCRYPT


def test_sample_message_parses_into_intake_fields(crypto: WeComCrypto) -> None:
    message = parse_message(MSG_PLAINTEXT)
    assert message == WeComMessage(
        msg_type="text",
        to_user_name=CORP_ID,
        from_user_name="mycreate",
        create_time=datetime(2014, 9, 2, 12, 10, 13, tzinfo=UTC),
        content="hello",
        msg_id="4561255354251345929",
        agent_id="218",
    )
    fields = to_message_input(message)
    assert fields is not None
    assert fields.channel_external_id == "agent:218"
    assert fields.author_external_id == "mycreate"
    assert fields.text == "hello"
    assert fields.sent_at == datetime.fromtimestamp(1409659813, tz=UTC)
    assert fields.source_message_id == "wecom:4561255354251345929"


# --- refusals -----------------------------------------------------------------------------------


def test_wrong_signature_is_refused(crypto: WeComCrypto) -> None:
    with pytest.raises(WeComSignatureError):
        crypto.verify_url(
            msg_signature="0" * 40, timestamp=VERIFY_TIMESTAMP, nonce=VERIFY_NONCE, echostr=VERIFY_ECHOSTR
        )
    with pytest.raises(WeComSignatureError):
        crypto.decrypt_message(
            msg_signature=MSG_SIGNATURE, timestamp="1409659814", nonce=MSG_NONCE, xml_body=MSG_BODY
        )


def test_wrong_token_is_refused() -> None:
    other = WeComCrypto(token="not-the-token", encoding_aes_key=ENCODING_AES_KEY, receive_id=CORP_ID)
    with pytest.raises(WeComSignatureError):
        other.decrypt_message(
            msg_signature=MSG_SIGNATURE, timestamp=MSG_TIMESTAMP, nonce=MSG_NONCE, xml_body=MSG_BODY
        )


def test_wrong_receive_id_is_refused() -> None:
    other = WeComCrypto(token=TOKEN, encoding_aes_key=ENCODING_AES_KEY, receive_id="wwSomeOtherCorp")
    with pytest.raises(WeComCryptoError, match="receive id"):
        other.decrypt_message(
            msg_signature=MSG_SIGNATURE, timestamp=MSG_TIMESTAMP, nonce=MSG_NONCE, xml_body=MSG_BODY
        )


def test_wrong_key_is_refused() -> None:
    other = WeComCrypto(token=TOKEN, encoding_aes_key="A" * 42 + "E", receive_id=CORP_ID)
    with pytest.raises(WeComCryptoError):
        other.decrypt(MSG_ENCRYPT)


@pytest.mark.parametrize(
    "encrypted",
    [
        "not base64!!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(b"\x00" * 32).decode(),
        MSG_ENCRYPT[:-24] + "AAAAAAAAAAAAAAAAAAAAAA==",
    ],
)
def test_garbled_payloads_are_crypto_errors(crypto: WeComCrypto, encrypted: str) -> None:
    with pytest.raises(WeComCryptoError):
        crypto.decrypt(encrypted)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<xml><Encrypt>",
        b"<xml><ToUserName>x</ToUserName></xml>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<xml><Encrypt>&b;</Encrypt></xml>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<xml><Encrypt>&e;</Encrypt></xml>",
    ],
)
def test_malformed_or_unsafe_bodies_are_message_errors(crypto: WeComCrypto, body: bytes) -> None:
    with pytest.raises(WeComMessageError):
        crypto.decrypt_message(msg_signature=MSG_SIGNATURE, timestamp=MSG_TIMESTAMP, nonce=MSG_NONCE, xml_body=body)


@pytest.mark.parametrize("key", ["", "short", ENCODING_AES_KEY + "x", "!" * 43])
def test_bad_encoding_aes_keys_are_rejected_at_construction(key: str) -> None:
    with pytest.raises(ValueError):
        WeComCrypto(token=TOKEN, encoding_aes_key=key, receive_id=CORP_ID)


# --- round trips --------------------------------------------------------------------------------


REPLY = (
    "<xml><ToUserName><![CDATA[zhangsan]]></ToUserName><FromUserName><![CDATA[wx5823bf96d3bd56c7]]>"
    "</FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[收到！我们会尽快联系您，请放心。😊（政工室）]]></Content></xml>"
)


def test_encrypt_message_round_trips_through_decrypt_message(crypto: WeComCrypto) -> None:
    envelope = crypto.encrypt_message(reply_xml=REPLY, nonce="8831", timestamp="1700000001")
    root = fromstring(envelope)
    assert root.findtext("TimeStamp") == "1700000001"
    assert root.findtext("Nonce") == "8831"
    signature = root.findtext("MsgSignature")
    assert signature is not None
    inner = crypto.decrypt_message(
        msg_signature=signature, timestamp="1700000001", nonce="8831", xml_body=envelope.encode()
    )
    assert inner == REPLY


def test_encryption_uses_a_fresh_random_prefix(crypto: WeComCrypto) -> None:
    first, second = crypto.encrypt("同一条消息"), crypto.encrypt("同一条消息")
    assert first != second
    assert crypto.decrypt(first) == crypto.decrypt(second) == "同一条消息"


@pytest.mark.parametrize("length", [0, 1, 11, 12, 13, 31, 32, 33, 1000])
def test_round_trip_at_every_padding_length(crypto: WeComCrypto, length: int) -> None:
    text = ("警" * length)[:length]
    assert crypto.decrypt(crypto.encrypt(text)) == text


def test_chinese_group_message_maps_to_its_chat(crypto: WeComCrypto) -> None:
    content = "  家里房子的事又没着落了……😔 能不能帮忙问问？\r\n谢谢！ "
    inner = (
        "<xml><ToUserName><![CDATA[ww1234]]></ToUserName><FromUserName><![CDATA[lisi]]></FromUserName>"
        "<CreateTime>1717000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>7382</MsgId>"
        "<AgentID>1000002</AgentID><ChatId><![CDATA[wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA]]></ChatId></xml>"
    )
    # Through the full crypto path, as WeCom would deliver it.
    envelope = crypto.encrypt_message(reply_xml=inner, nonce="1", timestamp="1717000000")
    signature = fromstring(envelope).findtext("MsgSignature")
    assert signature is not None
    decrypted = crypto.decrypt_message(
        msg_signature=signature, timestamp="1717000000", nonce="1", xml_body=envelope.encode()
    )
    fields = to_message_input(parse_message(decrypted))
    assert fields is not None
    assert fields.channel_external_id == "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
    assert fields.author_external_id == "lisi"
    # XML itself turns CR LF into LF; everything else, outer spaces included, is kept exactly.
    assert fields.text == content.replace("\r\n", "\n")
    assert fields.sent_at == datetime(2024, 5, 29, 16, 26, 40, tzinfo=UTC)


def test_events_and_non_text_messages_are_not_message_input() -> None:
    event = parse_message(
        "<xml><ToUserName>ww1</ToUserName><FromUserName>sys</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>event</MsgType><Event>enter_agent</Event><AgentID>1</AgentID></xml>"
    )
    assert event.event == "enter_agent"
    assert to_message_input(event) is None
    image = parse_message(
        "<xml><ToUserName>ww1</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>image</MsgType><MsgId>2</MsgId><AgentID>1</AgentID></xml>"
    )
    assert to_message_input(image) is None


def test_blank_text_message_is_a_text_error() -> None:
    message = parse_message(
        "<xml><ToUserName>ww1</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>text</MsgType><Content><![CDATA[ \u3000 ]]></Content><MsgId>2</MsgId><AgentID>1</AgentID></xml>"
    )
    with pytest.raises(TextError):
        to_message_input(message)


@pytest.mark.parametrize(
    "xml",
    [
        "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime></xml>",
        "<xml><MsgType>text</MsgType><FromUserName>b</FromUserName><CreateTime>1</CreateTime></xml>",
        "<xml><MsgType>text</MsgType><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
        "<CreateTime>yesterday</CreateTime></xml>",
        "<xml><MsgType>text</MsgType><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
        "<CreateTime>99999999999999999999</CreateTime></xml>",
    ],
)
def test_incomplete_messages_are_message_errors(xml: str) -> None:
    with pytest.raises(WeComMessageError):
        parse_message(xml)


def test_text_without_msg_id_gets_a_stable_source_id() -> None:
    xml = (
        "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>text</MsgType><Content>重复推送</Content><AgentID>9</AgentID></xml>"
    )
    first, again = to_message_input(parse_message(xml)), to_message_input(parse_message(xml))
    assert first is not None and again is not None
    assert first.source_message_id == again.source_message_id
    assert first.source_message_id.startswith("wecom:sha256:")


def test_text_without_chat_or_agent_is_a_message_error() -> None:
    message = parse_message(
        "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>text</MsgType><Content>hi</Content></xml>"
    )
    with pytest.raises(WeComMessageError):
        to_message_input(message)


# --- group robot --------------------------------------------------------------------------------


def test_short_text_is_one_payload() -> None:
    notice = "今晚8点全体学习《条例》📚"
    assert robot_payload(notice) == {"msgtype": "text", "text": {"content": notice}}
    assert robot_payload("**通知**", msgtype="markdown") == {"msgtype": "markdown", "markdown": {"content": "**通知**"}}
    assert robot_payload("点名", mentioned_list=["@all"]) == {
        "msgtype": "text", "text": {"content": "点名", "mentioned_list": ["@all"]},
    }


def test_long_chinese_text_splits_on_utf8_boundaries() -> None:
    text = "民警思想吐槽群：住房、婚恋、休假，都可以说。👮‍♂️" * 120  # several KB of 3- and 4-byte characters
    payloads = robot_payloads(text, mentioned_list=["zhangsan"])
    assert len(payloads) > 1
    contents = [p["text"]["content"] for p in payloads]
    assert all(len(c.encode("utf-8")) <= 2048 for c in contents)
    assert "".join(contents) == text
    assert payloads[0]["text"]["mentioned_list"] == ["zhangsan"]
    assert all("mentioned_list" not in p["text"] for p in payloads[1:])
    # Each payload is a valid JSON body on its own.
    for payload in payloads:
        assert json.loads(json.dumps(payload, ensure_ascii=False)) == payload


def test_markdown_uses_its_own_larger_limit() -> None:
    text = "汉" * 2000  # 6000 bytes
    pieces = [p["markdown"]["content"] for p in robot_payloads(text, msgtype="markdown")]
    assert [len(p.encode()) for p in pieces] == [4095, 1905]
    assert ROBOT_CONTENT_LIMITS["markdown"] == 4096


def test_too_long_for_one_payload_says_so() -> None:
    with pytest.raises(ValueError, match="robot_payloads"):
        robot_payload("字" * 700)
    with pytest.raises(ValueError):
        robot_payloads("")


def test_split_prefers_line_breaks_and_keeps_emoji_sequences_whole() -> None:
    lines = "\n".join(f"第{i}条：按时参加学习。" for i in range(200))
    pieces = split_utf8(lines, max_bytes=2048)
    assert "".join(pieces) == lines
    assert all(p.endswith("\n") for p in pieces[:-1])

    family = "👨‍👩‍👧"  # man ZWJ woman ZWJ girl: 18 bytes
    text = "a" * 10 + family
    pieces = split_utf8(text, max_bytes=20)
    assert pieces == ["a" * 10, family]


def test_split_exact_fit_and_tiny_limits() -> None:
    assert split_utf8("ab", max_bytes=4) == ["ab"]
    assert split_utf8("😀😀", max_bytes=4) == ["😀", "😀"]
    with pytest.raises(ValueError):
        split_utf8("x", max_bytes=3)
