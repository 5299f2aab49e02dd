"""Traces across the services (OpenTelemetry): one trace from an HTTP request through every event it causes.

Each service traces its HTTP requests (FastAPI instrumentation), each event it publishes and each event it
handles. The trace context travels inside the CloudEvent itself, as its `traceparent` attribute (the
CloudEvents distributed-tracing extension), so it rides through the outbox, which stores whole events,
and reaches the consumer in another service however late the relay publishes.

Off unless configured: with neither `otlp_traces_endpoint` nor a `span_exporter` in the settings no tracer
provider is built, the app is not instrumented and no span is started; events still carry a traceparent,
made up without OpenTelemetry, which the logs show.

Spans name event types, ids and routes, never what people wrote.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    from tongpin.shared.envelope import CloudEvent
    from tongpin.shared.settings import ServiceSettings

TRACER_NAME = "tongpin"
# Probes and scrapes are not part of any concern's story.
UNTRACED_URLS = "/healthz,/readyz,/metrics"
_PROPAGATOR = TraceContextTextMapPropagator()


def tracer_provider(settings: ServiceSettings) -> TracerProvider | None:
    """The service's own tracer provider, or None when tracing is not configured."""
    if not settings.otlp_traces_endpoint and settings.span_exporter is None:
        return None
    # Imported only when used: the SDK and the OTLP exporter (protobuf, an HTTP session) stay unloaded otherwise.
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    exporters: list[SpanProcessor] = []
    if settings.otlp_traces_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporters.append(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_traces_endpoint)))
    if settings.span_exporter is not None:
        # In-process exporters (tests) see each span as it ends.
        exporters.append(SimpleSpanProcessor(settings.span_exporter))
    provider = TracerProvider(resource=Resource.create({
        "service.name": f"tongpin-{settings.service_name}", "service.namespace": "tongpin",
    }))
    for processor in exporters:
        provider.add_span_processor(processor)
    return provider


def tracer_of(provider: TracerProvider | None) -> Tracer | None:
    return provider.get_tracer(TRACER_NAME) if provider is not None else None


def current_traceparent() -> str | None:
    """The W3C traceparent of the span in progress, or None outside any recorded span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def _parent(traceparent: str | None) -> Any:
    return _PROPAGATOR.extract({"traceparent": traceparent}) if traceparent else None


def _event_attributes(event: CloudEvent, *, operation: str) -> dict[str, str]:
    return {
        "messaging.system": "rabbitmq",
        "messaging.operation.type": operation,
        "messaging.destination.name": event.type,
        "messaging.message.id": event.id,
        "cloudevents.event_id": event.id,
        "cloudevents.event_type": event.type,
        "cloudevents.event_source": event.source,
    }


@contextmanager
def handling(tracer: Tracer, event: CloudEvent) -> Iterator[None]:
    """A consumer span for handling one event, a child of the context the event carries.

    Events the handler makes inside it carry this span's context on (see `current_traceparent`).
    """
    with tracer.start_as_current_span(f"process {event.type}", context=_parent(event.traceparent),
                                      kind=SpanKind.CONSUMER, attributes=_event_attributes(event, operation="process")):
        yield


@contextmanager
def publishing(tracer: Tracer, event: CloudEvent) -> Iterator[None]:
    """A producer span for publishing one event (from the outbox relay, long after the request ended)."""
    with tracer.start_as_current_span(f"publish {event.type}", context=_parent(event.traceparent),
                                      kind=SpanKind.PRODUCER, attributes=_event_attributes(event, operation="send")):
        yield


def note(name: str, attributes: Mapping[str, str | int]) -> None:
    """Mark a step on the span in progress (say, the ledger entry an event became); nothing when untraced."""
    span = trace.get_current_span()
    if span.is_recording():
        span.add_event(name, dict(attributes))
