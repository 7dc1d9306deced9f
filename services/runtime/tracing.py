"""OpenTelemetry tracing: one trace per order, across every service and the simulators.

Off by default locally. On when the standard variables ask for an exporter (`OTEL_TRACES_EXPORTER=otlp`,
with `OTEL_EXPORTER_OTLP_ENDPOINT` etc.; `OTEL_SDK_DISABLED=true` wins) or when
`ORDERFLOW_TRACE_DIR` is set (one JSON-lines file of finished spans per process, used by the e2e test).

How the context travels (also when the SDK is off: the API then carries the incoming context on):
- HTTP: FastAPI is instrumented; an incoming `traceparent` is continued (`instrument_http`);
- a handler's emitted messages carry the current span's context in the envelope's `trace`, which is
  stored with the outbox row (`current_trace`, used by outbox.Tx.emit);
- the relay publishes each row with that stored context as the parent (`stored_context`), and
  FastStream's KafkaTelemetryMiddleware opens the producer span and writes `traceparent` headers;
- the consumer opens one span per record, child of the record's `traceparent` (`consuming`): a
  batch span (FastStream's) can only link the records, so per-record spans keep the parentage;
- asyncpg is instrumented: the SQL of a handler is part of the order's trace.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context, propagate, trace
from opentelemetry.trace import SpanKind

log = logging.getLogger(__name__)

TRACER = "orderflow"
_state: dict[str, Any] = {"enabled": None}


def enabled() -> bool:
    return bool(_state["enabled"])


def wanted(env: Mapping[str, str] = os.environ) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    return bool(env.get("ORDERFLOW_TRACE_DIR")) or exporter not in ("", "none")


class JsonLinesExporter:
    """Finished spans as one JSON object per line (trace id, span id, parent, name, kind, service)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        lines = []
        for span in spans:
            context, parent = span.get_span_context(), span.parent
            lines.append(json.dumps({
                "trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x"),
                "parent_id": format(parent.span_id, "016x") if parent else None, "name": span.name,
                "kind": span.kind.name, "service": span.resource.attributes.get("service.name"),
                "start": span.start_time, "end": span.end_time,
                "attributes": {k: v for k, v in (span.attributes or {}).items() if isinstance(v, (str, int, float))},
            }))
        with self._lock:
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._file.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def setup(service: str, env: Mapping[str, str] = os.environ) -> bool:
    """Configure the process's tracer provider once (True when tracing records spans)."""
    if _state["enabled"] is not None:
        return enabled()
    _state["enabled"] = wanted(env)
    if not enabled():
        return False
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = env.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({"service.name": name, "service.namespace": "orderflow"}))
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))   # endpoint etc.: OTEL_EXPORTER_OTLP_*
    elif exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    if env.get("ORDERFLOW_TRACE_DIR"):
        path = Path(env["ORDERFLOW_TRACE_DIR"]) / f"{service}-{os.getpid()}.jsonl"
        provider.add_span_processor(BatchSpanProcessor(JsonLinesExporter(path), schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)
    log.info("tracing on for %s (exporter %s%s)", name, exporter or "none",
             f", spans to {env['ORDERFLOW_TRACE_DIR']}" if env.get("ORDERFLOW_TRACE_DIR") else "")
    return True


def shutdown() -> None:
    provider = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()


def instrument_http(app: Any) -> None:
    """Server spans for every request but health and metrics; an incoming traceparent is continued."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="/health/live,/health/ready,/metrics")


def broker_middlewares() -> list[Any]:
    """FastStream's Kafka telemetry (producer spans + traceparent headers) when tracing is on."""
    if not enabled():
        return []
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

    return [KafkaTelemetryMiddleware(tracer_provider=trace.get_tracer_provider())]


def current_trace() -> dict[str, str]:
    """The current span's W3C context as envelope `trace` ({} when there is none)."""
    carrier: dict[str, str] = {}
    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(carrier)
    return {k: v for k, v in carrier.items() if k in ("traceparent", "tracestate")}


def publish_headers(service: str, topic: str, headers: Mapping[str, str]) -> Mapping[str, str]:
    """The headers an outbox row goes out with: when tracing is on, a PRODUCER span (child of the
    span that emitted the row, from its stored traceparent) and its context in place of that one.
    The relay sends stored bytes through the raw producer, past FastStream's telemetry middleware."""
    if not enabled():
        return headers
    span = trace.get_tracer(TRACER).start_span(
        f"{topic} publish", context=propagate.extract(dict(headers)), kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "kafka", "messaging.destination.name": topic,
                    "messaging.operation.type": "publish", "orderflow.service": service})
    try:
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        return {**headers, **{k: v for k, v in carrier.items() if k in ("traceparent", "tracestate")}}
    finally:
        span.end()


@contextmanager
def stored_context(stored: Mapping[str, str] | None) -> Iterator[None]:
    """Make a stored W3C `trace` (an order's, from intake) the current context (the deadline job)."""
    token = otel_context.attach(propagate.extract(dict(stored or {})))
    try:
        yield
    finally:
        otel_context.detach(token)


def _header_text(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in (headers or ()) if k in ("traceparent", "tracestate")}


@contextmanager
def consuming(service: str, topic: str, headers: Sequence[tuple[str, bytes]] | None,
              message_type: str | None = None) -> Iterator[None]:
    """A CONSUMER span for one record, child of the producer's context from the record's headers."""
    parent = propagate.extract(_header_text(headers))
    tracer = trace.get_tracer(TRACER)
    with tracer.start_as_current_span(f"{topic} process", context=parent, kind=SpanKind.CONSUMER, attributes={
            "messaging.system": "kafka", "messaging.destination.name": topic, "messaging.operation.type": "process",
            "messaging.consumer.group.name": service, "orderflow.message_type": message_type or ""}):
        yield
