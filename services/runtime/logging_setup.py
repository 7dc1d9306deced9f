"""Logs: one JSON object per line (python-json-logger) with the service, level, logger, message and,
when known, the order (correlation id), the message id and the trace id of what is being handled.

    setup("sales")                                   # once, at process start
    with log_context(order_id=..., message_id=...):  # the consumer, per record
        log.info("...")                              # carries both ids

The trace id is the current OpenTelemetry span's when tracing is on (tracing.py), else the one in
the message's traceparent. `ORDERFLOW_LOG_FORMAT=text` gives plain lines for a terminal; neither
format has colour codes. FastStream's per-message access lines are logged at DEBUG (make_broker),
so they are off the hot path at the default level INFO. Secrets never reach a log: settings hold
them as SecretStr, DSNs are redacted (db.redact) and tokens are never logged (http_auth.py).
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pythonjsonlogger.json import JsonFormatter

_CONTEXT: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("orderflow_log_context", default={})
CONTEXT_FIELDS = ("order_id", "message_id", "message_type", "trace_id")


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add fields to every log record written inside the block (None values are left out)."""
    merged = {**_CONTEXT.get(), **{k: str(v) for k, v in fields.items() if v is not None}}
    token = _CONTEXT.set(merged)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C traceparent (`00-<trace id>-<span id>-<flags>`)."""
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def _current_trace_id() -> str | None:
    try:
        from opentelemetry import trace
    except ImportError:      # pragma: no cover - a dependency, but logging must never fail
        return None
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


class ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        context = _CONTEXT.get()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name) and name in context:
                setattr(record, name, context[name])
        span_trace = _current_trace_id()
        if span_trace:
            record.trace_id = span_trace
        return True


def formatter(kind: str) -> logging.Formatter:
    if kind == "text":
        return logging.Formatter("%(asctime)s %(service)s %(levelname)s %(name)s: %(message)s")
    return JsonFormatter("{asctime}{service}{levelname}{name}{message}", style="{",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                         json_ensure_ascii=False)


def setup(service: str, level: str | None = None, kind: str | None = None) -> None:
    """Configure the root logger of this process (replacing any handler set before)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter(service))
    handler.setFormatter(formatter((kind or os.environ.get("ORDERFLOW_LOG_FORMAT", "json")).lower()))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("ORDERFLOW_LOG_LEVEL", "INFO")).upper())
    # Libraries that install their own (coloured) handlers log through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "faststream.access", "aiokafka"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.captureWarnings(True)            # Python warnings as JSON lines too, not loose stderr text
