"""OTLP export when configured: spans reach a collector's HTTP endpoint as OTLP protobuf."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tongpin.shared import tracing
from tongpin.shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


class Collector(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.received: list[tuple[str, str, bytes]] = []
        super().__init__(("127.0.0.1", 0), _Receive)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.received.append((self.path, self.headers["content-type"], body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_spans_go_to_the_configured_otlp_endpoint(collector: Collector) -> None:
    provider = tracing.tracer_provider(ServiceSettings(service_name="oversight", otlp_traces_endpoint=collector.url))
    tracer = tracing.tracer_of(provider)
    assert provider is not None and tracer is not None
    with tracer.start_as_current_span("ledger check"):
        pass
    assert provider.force_flush(5000)
    [(path, content_type, body)] = collector.received
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    request = ExportTraceServiceRequest.FromString(body)
    [resource_spans] = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "tongpin-oversight"
    assert [s.name for scope in resource_spans.scope_spans for s in scope.spans] == ["ledger check"]
    provider.shutdown()
