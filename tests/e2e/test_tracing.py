"""One trace from intake's HTTP request, through triage and counselling, to oversight's ledger entry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tongpin.counselling.app import create_app as create_counselling
from tongpin.counselling.settings import CounsellingSettings
from tongpin.intake.app import create_app as create_intake
from tongpin.intake.settings import IntakeSettings
from tongpin.oversight.app import create_app as create_oversight
from tongpin.oversight.settings import OversightSettings
from tongpin.shared.logging import trace_id_of
from tongpin.shared.testing.services import eventually, running
from tongpin.triage.app import create_app as create_triage
from tongpin.triage.settings import TriageSettings

pytestmark = pytest.mark.e2e

TEXT = "单位宿舍的热水器坏了一个多星期，报修没人管，冬天洗澡很难，希望能尽快解决。"


def _service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


def _hex(trace_or_span_id: int, width: int) -> str:
    return f"{trace_or_span_id:0{width}x}"


def _ledger_marks(spans: Sequence[ReadableSpan]) -> list[tuple[ReadableSpan, dict[str, object]]]:
    return [(s, dict(e.attributes or {})) for s in spans for e in s.events if e.name == "ledger.appended"]


async def test_one_trace_runs_from_the_intake_request_to_the_oversight_ledger(
    settings_env, clean_run, signing_key, mongo_client, event_capture
):
    exporter = InMemorySpanExporter()
    traced = {"span_exporter": exporter}
    intake = create_intake(IntakeSettings(**settings_env("intake", **traced)))
    triage = create_triage(TriageSettings(**settings_env("triage", **traced)))
    counselling = create_counselling(CounsellingSettings(**settings_env(
        "counselling", jwt_private_key_pem=signing_key.private_pem, jwt_key_id=signing_key.kid, **traced)))
    oversight = create_oversight(OversightSettings(**settings_env("oversight", **traced)))
    async with running(oversight), running(triage), running(counselling), running(intake) as intake_api:
        admin = signing_key.headers("admin")
        channel = await intake_api.post("/channels", headers=admin, json={
            "id": "officers-unit-07", "kind": "officers", "name": "民警思想\u201c吐槽\u201d群",
            "external_group_id": f"wecom-{uuid.uuid4().hex[:8]}"})
        assert channel.status_code == 201, channel.text
        exporter.clear()
        posted = await intake_api.post("/messages", headers=signing_key.headers("system"), json={
            "channel_id": "officers-unit-07", "channel_kind": "officers",
            "source_message_id": f"wecom:{uuid.uuid4().hex}", "anonymous": True, "text": TEXT,
            "sent_at": datetime.now(UTC).isoformat()})
        assert posted.status_code == 201, posted.text
        concern_id = posted.json()["id"]

        def request_span() -> ReadableSpan:
            [span] = [s for s in exporter.get_finished_spans()
                      if s.kind == SpanKind.SERVER and s.name == "POST /messages"]
            return span

        trace_id = request_span().context.trace_id
        assert _service(request_span()) == "tongpin-intake"

        def in_trace() -> list[ReadableSpan]:
            return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]

        def case_opened_in_ledger() -> list[tuple[ReadableSpan, dict[str, object]]] | None:
            marks = [(s, a) for s, a in _ledger_marks(in_trace()) if s.name == "process case.opened.v1"]
            return marks or None

        [(ledger_span, mark)] = await eventually(case_opened_in_ledger, timeout=30)

    spans = in_trace()
    # Every service took part in this one trace: intake answered the request and published the concern,
    # triage handled it and published its decision, counselling opened the case, oversight recorded it.
    by_service: dict[str, set[tuple[SpanKind, str]]] = {}
    for span in spans:
        by_service.setdefault(_service(span), set()).add((span.kind, span.name))
    assert {(SpanKind.SERVER, "POST /messages"), (SpanKind.PRODUCER, "publish concern.raised.v1")} \
        <= by_service["tongpin-intake"]
    assert {(SpanKind.CONSUMER, "process concern.raised.v1"), (SpanKind.PRODUCER, "publish concern.triaged.v1")} \
        <= by_service["tongpin-triage"]
    assert {(SpanKind.CONSUMER, "process concern.triaged.v1"), (SpanKind.PRODUCER, "publish case.opened.v1")} \
        <= by_service["tongpin-counselling"]
    assert {(SpanKind.CONSUMER, "process case.opened.v1")} <= by_service["tongpin-oversight"]

    # Each span hangs off one inside the trace: the chain is unbroken from the request to the ledger.
    ids = {s.context.span_id for s in spans}
    roots = [s for s in spans if s.parent is None or s.parent.span_id not in ids]
    assert [(_service(s), s.name) for s in roots] == [("tongpin-intake", "POST /messages")]
    chain, span = [], ledger_span
    while span.parent is not None and span.parent.span_id in ids:
        chain.append((_service(span), span.name))
        span = next(s for s in spans if s.context.span_id == span.parent.span_id)
    chain.append((_service(span), span.name))
    services_on_the_way = [name for name, _ in reversed(chain)]
    assert services_on_the_way[0] == "tongpin-intake" and services_on_the_way[-1] == "tongpin-oversight"
    assert {"tongpin-triage", "tongpin-counselling"} <= set(services_on_the_way)

    # The context travelled in the CloudEvents themselves (their traceparent attribute, through each outbox).
    caused = [e for e in event_capture.events if e.type in {"concern.raised.v1", "concern.triaged.v1",
                                                             "case.opened.v1"}]
    assert {e.type for e in caused} == {"concern.raised.v1", "concern.triaged.v1", "case.opened.v1"}
    for event in caused:
        assert trace_id_of(event.traceparent) == _hex(trace_id, 32), event.type
        assert int(str(event.traceparent).split("-")[2], 16) in ids, f"{event.type} names a span of the trace"

    # The span marks the very ledger entry oversight wrote for counselling's case.opened event.
    [opened] = [e for e in caused if e.type == "case.opened.v1"]
    assert mark["cloudevents.event_id"] == opened.id
    entry = await mongo_client[f"{clean_run}_oversight"]["ledger"].find_one({"_id": opened.id})
    assert entry is not None and entry["type"] == "case.opened.v1"
    assert opened.subject == f"case-{concern_id}" or concern_id in str(opened.data)
    # Nothing anyone wrote is in a span.
    for span in spans:
        assert TEXT not in repr(span.attributes) and all(TEXT not in repr(e.attributes) for e in span.events)


async def test_without_configuration_nothing_is_traced(settings_env, clean_run, signing_key, event_capture):
    intake = create_intake(IntakeSettings(**settings_env("intake")))
    runtime = intake.state.runtime
    assert runtime.tracer_provider is None and runtime.tracer is None
    assert not getattr(intake, "_is_instrumented_by_opentelemetry", False)
    async with running(intake) as intake_api:
        await intake_api.post("/channels", headers=signing_key.headers("admin"), json={
            "id": "officers-unit-08", "kind": "officers", "name": "民警群", "external_group_id": "wecom-untraced"})
        upstream = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        posted = await intake_api.post("/messages", headers={**signing_key.headers("system"), "traceparent": upstream},
                                       json={"channel_id": "officers-unit-08", "channel_kind": "officers",
                                             "source_message_id": f"wecom:{uuid.uuid4().hex}", "anonymous": True,
                                             "text": TEXT, "sent_at": datetime.now(UTC).isoformat()})
        assert posted.status_code == 201, posted.text
        events = await event_capture.wait_for(lambda evs: any(e.type == "concern.raised.v1" for e in evs))
    # The caller's trace still reaches the event (made up without OpenTelemetry, for the logs).
    [raised] = [e for e in events if e.type == "concern.raised.v1"]
    assert trace_id_of(raised.traceparent) == upstream.split("-")[1]
