"""The CLI for scripts: distinct exit codes (not found, invalid input, unavailable, over threshold)
and JSON output on the read commands."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from services.cli import exit_codes
from services.cli.main import app


@pytest.fixture
def answer(monkeypatch):
    """Every HTTP call of the CLI gets this status and body."""
    def set_answer(status: int, body: object) -> None:
        def request(method, url, **kwargs):
            return httpx.Response(status, json=body, request=httpx.Request(method, url))
        monkeypatch.setattr(httpx, "request", request)
    monkeypatch.setenv("ORDERFLOW_TOKEN", "not-a-real-token")
    return set_answer


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_not_found_is_3(answer):
    answer(404, {"detail": "no order"})
    assert run("order", "show", "6b1c1b4e-0000-4000-8000-000000000000").exit_code == exit_codes.NOT_FOUND
    answer(404, {"detail": "no dead letter 7"})
    result = run("dlq", "show", "sales", "7")
    assert result.exit_code == exit_codes.NOT_FOUND and "no dead letter 7" in result.output


def test_invalid_input_is_2(answer):
    answer(422, {"detail": [{"loc": ["query", "status"], "msg": "bad status"}]})
    assert run("order", "list", "--status", "nonsense").exit_code == exit_codes.INVALID_INPUT
    answer(409, {"detail": "dead letter 3 is already replayed"})
    result = run("dlq", "replay", "sales", "3")
    assert result.exit_code == exit_codes.INVALID_INPUT and "already replayed" in result.output
    assert run("dlq", "list", "--service", "marketing").exit_code == exit_codes.INVALID_INPUT


def test_unavailable_is_4(answer):
    answer(503, {"detail": "not ready"})
    assert run("audit", "--service", "finance").exit_code == exit_codes.UNAVAILABLE


def test_read_commands_print_json(answer):
    orders = [{"order_id": "o1", "order_number": "SO-000001", "status": "completed"}]
    answer(200, orders)
    result = run("order", "list", "--json")
    assert result.exit_code == 0 and json.loads(result.output) == orders
    letters = [{"id": 1, "status": "open", "reason": "bad", "created_at": "2026-01-01T00:00:00Z"}]
    answer(200, letters)
    result = run("dlq", "list", "--service", "sales", "--json")
    assert result.exit_code == 0 and json.loads(result.output) == [{**letters[0], "service": "sales"}]
    result = run("topics", "list", "--json")
    assert result.exit_code == 0 and {t["catalogue_name"] for t in json.loads(result.output)} >= {"sales.replay.v1"}
