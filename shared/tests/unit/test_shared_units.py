"""Pure tests of the shared library: envelope, outbox staging, tokens, problems."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from tongpin.shared.auth import Principal, Public, Roles, TokenVerifier
from tongpin.shared.envelope import EnvelopeError, child_traceparent, parse_envelope
from tongpin.shared.events import ConcernRaised, ConcernTriaged, decode_data, make_event
from tongpin.shared.messaging.outbox import stage, with_outbox
from tongpin.shared.messaging.topology import Names
from tongpin.shared.problems import Invalid, install_problem_handlers
from tongpin.shared.settings import ServiceSettings
from tongpin.shared.testing.fixtures import SigningKey

pytestmark = pytest.mark.unit


def raised(text: str = "家里房子漏水，想请两天假🙏") -> ConcernRaised:
    return ConcernRaised(concern_id="c-1", channel_id="officers-1", channel_kind="officers", origin="api",
                         text=text, sent_at=datetime(2026, 3, 1, tzinfo=UTC))


def test_envelope_round_trip_keeps_chinese_and_emoji_byte_for_byte():
    event = make_event(raised("“全角”标点，emoji 👮‍♀️ and English"), subject="c-1", correlationid="k")
    back = parse_envelope(event.to_json_bytes())
    assert back == event
    assert decode_data(back).text == "“全角”标点，emoji 👮‍♀️ and English"
    assert back.type == "concern.raised.v1" and back.source == "tongpin/intake" and back.specversion == "1.0"


@pytest.mark.parametrize(("body", "reason"), [
    (b"\xff\xfe not utf-8", "not_json"),
    (b"{not json", "not_json"),
    (b"[1, 2]", "not_json"),
    (json.dumps({"id": "x", "type": "t"}).encode(), "bad_envelope"),
])
def test_bad_bodies_are_refused_with_a_reason(body, reason):
    with pytest.raises(EnvelopeError) as err:
        parse_envelope(body)
    assert err.value.reason == reason


def test_decode_rejects_unknown_type_and_bad_data():
    event = make_event(raised())
    with pytest.raises(KeyError):
        decode_data(event.model_copy(update={"type": "concern.whispered.v1"}))
    with pytest.raises(ValidationError):
        decode_data(event.model_copy(update={"data": {**event.data, "channel_kind": "wechat"}}))


def test_non_text_events_refuse_free_text_in_id_fields():
    with pytest.raises(ValidationError):
        ConcernTriaged(concern_id="他说他不想活了", channel_id="x", channel_kind="officers", category="other",
                       severity="low", route="dismiss", ruleset_version=1, triaged_at=datetime.now(UTC))


def test_staging_adds_events_and_counter_to_an_update():
    events = [make_event(raised()), make_event(raised())]
    update = stage({"$set": {"state": "open"}, "$inc": {"version": 1}}, events)
    assert update["$set"]["state"] == "open"
    assert update["$inc"] == {"version": 1, "outbox_pending": 2}
    assert {k.split(".", 1)[1] for k in update["$set"] if k.startswith("outbox.")} == {e.id for e in events}
    doc = with_outbox({"_id": "a"}, events)
    assert doc["outbox_pending"] == 2 and list(doc["outbox"]) == [e.id for e in events]
    assert doc["outbox_dirty"] is True and update["$set"]["outbox_dirty"] is True
    assert stage({"$set": {"a": 1}}, []) == {"$set": {"a": 1}}


def test_trace_context_is_carried_into_child_spans():
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    child = child_traceparent(parent)
    assert child.split("-")[1] == "0af7651916cd43dd8448eb211c80319c" and child != parent
    assert len(child_traceparent(None).split("-")[1]) == 32


def test_queue_names_follow_service_and_prefix():
    names = Names(exchange="tongpin.events", service="triage", prefix="t1.")
    assert (names.queue, names.dead_letter_queue, names.retry_queue(1.5)) == (
        "t1.triage.events", "t1.triage.dlq", "t1.triage.retry.1500ms")


class Body(BaseModel):
    name: str


def app_with_roles(key: SigningKey) -> TestClient:
    settings = ServiceSettings(jwks_json=key.jwks_json, api_keys=["bridge:s3cret-key"])
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(settings)
    install_problem_handlers(app)

    @app.get("/staff")
    async def staff(who: Principal = Depends(Roles("political_worker"))) -> dict:
        return {"sub": who.subject, "roles": sorted(who.roles)}

    @app.post("/things")
    async def things(body: Body, _: None = Depends(Public())) -> dict:
        if body.name == "bad":
            raise Invalid("name", "不能是 bad")
        return {"name": body.name}

    return TestClient(app)


def test_tokens_roles_and_api_keys():
    key = SigningKey()
    client = app_with_roles(key)
    ok = client.get("/staff", headers=key.headers("political_worker", sub="pw-1"))
    assert ok.status_code == 200 and ok.json() == {"sub": "pw-1", "roles": ["political_worker"]}
    wrong_role = client.get("/staff", headers=key.headers("auditor"))
    assert wrong_role.status_code == 403 and wrong_role.headers["content-type"] == "application/problem+json"
    assert client.get("/staff").status_code == 401
    assert client.get("/staff", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    expired = client.get("/staff", headers={"Authorization": f"Bearer {key.token('political_worker', ttl=-60)}"})
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    other = SigningKey(kid=key.kid)  # same kid, different key: a forged token
    assert client.get("/staff", headers=other.headers("political_worker")).status_code == 401
    assert client.get("/staff", headers={"X-API-Key": "s3cret-key"}).status_code == 403  # system role only
    assert client.get("/staff", headers={"X-API-Key": "guess"}).status_code == 401


def test_validation_errors_are_problems_naming_the_field():
    client = app_with_roles(SigningKey())
    response = client.post("/things", json={"nom": 1})
    assert response.status_code == 422
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["errors"][0]["field"] == "name" and "name" in body["detail"]
    bad = client.post("/things", json={"name": "bad"})
    assert bad.status_code == 422 and bad.json()["errors"] == [{"field": "name", "reason": "不能是 bad"}]
    not_utf8 = client.post("/things", content=b'{"name": "\xff"}', headers={"content-type": "application/json"})
    assert not_utf8.status_code == 400 and not_utf8.headers["content-type"] == "application/problem+json"
