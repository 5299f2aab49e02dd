"""Tracing: off by default, and when on, events continue the span in progress and spans follow events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from tongpin.shared import tracing
from tongpin.shared.events import ConcernRaised, make_event
from tongpin.shared.settings import ServiceSettings

pytestmark = pytest.mark.unit

UPSTREAM = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def raised() -> ConcernRaised:
    return ConcernRaised(concern_id="c-1", channel_id="officers-1", channel_kind="officers", origin="api",
                         text="宿舍热水器坏了", sent_at=datetime(2026, 3, 1, tzinfo=UTC))


def test_tracing_is_off_unless_configured() -> None:
    settings = ServiceSettings(service_name="intake")
    assert settings.otlp_traces_endpoint is None and settings.span_exporter is None
    assert tracing.tracer_provider(settings) is None
    assert tracing.tracer_of(None) is None
    assert tracing.current_traceparent() is None


def test_an_event_made_outside_any_span_keeps_the_traceparent_it_was_given() -> None:
    assert make_event(raised(), traceparent=UPSTREAM).traceparent == UPSTREAM


def test_the_exporter_setting_comes_from_code_only_and_never_shows_in_a_dump(monkeypatch) -> None:
    monkeypatch.setenv("TONGPIN_SPAN_EXPORTER", "opentelemetry.sdk.trace.export.ConsoleSpanExporter")
    with pytest.raises(ValidationError):
        ServiceSettings(service_name="intake")
    monkeypatch.delenv("TONGPIN_SPAN_EXPORTER")
    settings = ServiceSettings(service_name="intake", span_exporter=InMemorySpanExporter())
    assert "span_exporter" not in settings.model_dump()


def test_a_handled_event_continues_its_trace_and_what_it_causes_continues_the_handler_span() -> None:
    exporter = InMemorySpanExporter()
    provider = tracing.tracer_provider(ServiceSettings(service_name="triage", span_exporter=exporter))
    tracer = tracing.tracer_of(provider)
    assert tracer is not None
    incoming = make_event(raised(), traceparent=UPSTREAM)
    with tracing.handling(tracer, incoming):
        caused = make_event(raised(), traceparent="00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01")
        tracing.note("ledger.appended", {"ledger.seq": 7, "cloudevents.event_id": incoming.id})
    with tracing.publishing(tracer, caused):
        pass
    handled, published = exporter.get_finished_spans()
    assert (handled.name, handled.kind) == ("process concern.raised.v1", SpanKind.CONSUMER)
    assert (published.name, published.kind) == ("publish concern.raised.v1", SpanKind.PRODUCER)
    assert handled.resource.attributes["service.name"] == "tongpin-triage"
    # The consumer span is a child of the span the incoming event names.
    assert handled.context.trace_id == int(UPSTREAM.split("-")[1], 16)
    assert handled.parent is not None and handled.parent.span_id == int(UPSTREAM.split("-")[2], 16)
    # What the handler made carries the handler's span, not the traceparent it was handed.
    assert caused.traceparent == f"00-{handled.context.trace_id:032x}-{handled.context.span_id:016x}-01"
    # Publishing it, later and elsewhere, continues from the event's own context.
    assert published.parent is not None and published.parent.span_id == handled.context.span_id
    assert handled.attributes is not None and handled.attributes["cloudevents.event_id"] == incoming.id
    assert [(e.name, dict(e.attributes or {})) for e in handled.events] == [
        ("ledger.appended", {"ledger.seq": 7, "cloudevents.event_id": incoming.id})]


def test_a_failing_handler_leaves_an_error_span() -> None:
    exporter = InMemorySpanExporter()
    tracer = tracing.tracer_of(tracing.tracer_provider(ServiceSettings(service_name="oversight",
                                                                      span_exporter=exporter)))
    assert tracer is not None
    with pytest.raises(RuntimeError), tracing.handling(tracer, make_event(raised())):
        raise RuntimeError("not yet")
    [span] = exporter.get_finished_spans()
    assert not span.status.is_ok
    assert [e.name for e in span.events] == ["exception"]
