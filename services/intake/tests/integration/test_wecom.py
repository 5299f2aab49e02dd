"""Issue 3, point 4: WeCom callbacks checked against WeCom's published sample values."""

from __future__ import annotations

import pytest

from tongpin.intake.handlers.roster import member_id_for
from tongpin.intake.testing import WECOM_AES_KEY, WECOM_CORP_ID, WECOM_TOKEN, intake, setup_channel

pytestmark = pytest.mark.integration

# WeCom developer document 90968, sample 1 (URL verification) and sample 2 (encrypted message).
VERIFY = {"msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "timestamp": "1409659589",
          "nonce": "263014780",
          "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="}
MSG = {"msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6", "timestamp": "1409659813", "nonce": "1372623149"}
MSG_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUp"
    "j911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue"
    "06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+"
    "3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH"
    "27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8"
    "R07+qN+E7Q=="
)
MSG_BODY = ("<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[" + MSG_ENCRYPT
            + "]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>").encode()


def wecom_settings(intake_settings):
    return intake_settings(wecom_apps={"officers-01": {"token": WECOM_TOKEN, "aes_key": WECOM_AES_KEY,
                                                       "corp_id": WECOM_CORP_ID}})


async def test_sample_url_verification_and_message_become_a_concern(
    intake_settings, clean_run, signing_key, mongo_client, event_capture
):
    async with intake(wecom_settings(intake_settings)) as client:
        await setup_channel(client, signing_key.headers("admin"))
        await client.post("/roster", json={"rows": [{"external_id": "mycreate", "name": "样例用户",
                                                     "member_kind": "officer", "unit": "unit-01"}]},
                          headers=signing_key.headers("admin"))
        verify = await client.get("/wecom/officers-01/callback", params=VERIFY)
        assert verify.status_code == 200, verify.text
        assert verify.text.isdigit()  # the sample's echostr decrypts to a numeric string

        for _ in range(2):  # WeCom retries a callback; the second is the same message
            received = await client.post("/wecom/officers-01/callback", params=MSG, content=MSG_BODY)
            assert received.status_code == 200, received.text
            assert received.text == "success"
        messages = mongo_client[f"{clean_run}_intake"]["messages"]
        assert await messages.count_documents({}) == 1
        stored = await messages.find_one({})
        assert stored["text"] == "hello" and stored["source_message_id"] == "wecom:4561255354251345929"
        assert stored["author_member_id"] == member_id_for("mycreate") and stored["origin"] == "wecom"
        raised = await event_capture.wait_for_type("concern.raised")
        assert raised[0].data["origin"] == "wecom" and raised[0].data["sent_at"] == "2014-09-02T12:10:13Z"


async def test_wrong_signature_is_refused_and_nothing_is_stored(intake_settings, clean_run, signing_key, mongo_client):
    async with intake(wecom_settings(intake_settings)) as client:
        await setup_channel(client, signing_key.headers("admin"))
        bad = {**MSG, "msg_signature": "0" * 40}
        refused = await client.post("/wecom/officers-01/callback", params=bad, content=MSG_BODY)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        tampered = MSG_BODY.replace(b"RypEvHKD8", b"RypEvHKD9")
        assert (await client.post("/wecom/officers-01/callback", params=MSG, content=tampered)).status_code == 403
        bad_verify = await client.get("/wecom/officers-01/callback", params={**VERIFY, "nonce": "1"})
        assert bad_verify.status_code == 403
        garbage = await client.post("/wecom/officers-01/callback", params=MSG, content=b"<xml><oops")
        assert garbage.status_code == 422
        unknown = await client.post("/wecom/families-09/callback", params=MSG, content=MSG_BODY)
        assert unknown.status_code == 404
        assert await mongo_client[f"{clean_run}_intake"]["messages"].count_documents({}) == 0
