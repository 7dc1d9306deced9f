"""JSON log lines: one object per line with service, level, logger, message and, inside a record's
context, the order, message and trace ids; no colour codes in either format."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from services.runtime import logging_setup
from services.runtime.logging_setup import log_context


@pytest.fixture(autouse=True)
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _capture(kind: str) -> tuple[io.StringIO, logging.Handler]:
    stream = io.StringIO()
    logging_setup.setup("warehouse", level="INFO", kind=kind)
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)
    return stream, handler


def test_a_record_is_one_json_line_with_the_context_of_the_message_being_handled():
    stream, _ = _capture("json")
    log = logging.getLogger("services.warehouse.handlers")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with log_context(order_id="o-1", message_id="m-1", message_type="warehouse.reserve_stock",
                     trace_id=logging_setup.trace_id_of(f"00-{trace_id}-00f067aa0ba902b7-01")):
        log.warning("reserved %d of %d\nsecond line", 2, 3)
    log.info("outside any message")
    first, second = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert first["service"] == "warehouse" and first["level"] == "WARNING"
    assert first["logger"] == "services.warehouse.handlers" and first["message"] == "reserved 2 of 3\nsecond line"
    assert (first["order_id"], first["message_id"], first["trace_id"]) == ("o-1", "m-1", trace_id)
    assert "order_id" not in second and second["message"] == "outside any message"
    assert "\x1b" not in stream.getvalue()


def test_the_trace_id_of_the_current_span_wins():
    stream, _ = _capture("json")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        logging.getLogger("x").info("inside a span")
    (line,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert not trace.get_current_span().get_span_context().is_valid


def test_text_format_has_no_colour_either():
    stream, _ = _capture("text")
    logging.getLogger("uvicorn.error").error("boom")
    assert "warehouse ERROR uvicorn.error: boom" in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_faststream_per_message_lines_are_debug_in_services():
    import services.warehouse.app as app

    assert app.service.broker.config.logger.log_level == logging.DEBUG  # noqa: SLF001 - FastStream's own setting
