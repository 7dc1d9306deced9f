"""The CLI reaches services wherever they run: --<service>-url, ORDERFLOW_<SERVICE>_URL, else local."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from services.cli import client, exit_codes
from services.cli.main import app
from services.cli.stack import Stack


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in ("SALES", "PROCUREMENT", "WAREHOUSE", "LOGISTICS", "FINANCE"):
        monkeypatch.delenv(f"ORDERFLOW_{name}_URL", raising=False)
        monkeypatch.delenv(f"ORDERFLOW_{name}_PORT", raising=False)
    client._URL_FLAGS.clear()
    yield
    client._URL_FLAGS.clear()


def test_default_is_the_local_process():
    assert client.url("sales") == "http://127.0.0.1:8081"
    assert client.remote_urls() == {}


def test_port_setting_and_url_setting(monkeypatch):
    monkeypatch.setenv("ORDERFLOW_FINANCE_PORT", "9185")
    assert client.url("finance") == "http://127.0.0.1:9185"
    monkeypatch.setenv("ORDERFLOW_FINANCE_URL", "https://finance.orders.example.com/")
    assert client.url("finance") == "https://finance.orders.example.com"
    assert client.remote_urls() == {"finance": "https://finance.orders.example.com"}


def test_flag_beats_setting(monkeypatch):
    monkeypatch.setenv("ORDERFLOW_SALES_URL", "http://10.0.0.1:8081")
    client.address_options(sales_url="http://10.0.0.2:8081", procurement_url=None, warehouse_url=None,
                           logistics_url=None, finance_url=None)
    assert client.url("sales") == "http://10.0.0.2:8081"


def test_stack_uses_remote_urls_only_for_the_services_given(tmp_path):
    stack = Stack(run_dir=tmp_path, urls={"sales": "http://10.0.3.2:8081"})
    assert stack.url("sales") == "http://10.0.3.2:8081"
    assert stack.url("finance") == "http://127.0.0.1:8085"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_flag_reaches_the_http_call():
    """The command talks to the URL of the flag (nothing listens there: the error names it)."""
    url = f"http://127.0.0.1:{_closed_port()}"
    result = CliRunner().invoke(app, ["--sales-url", url, "order", "show", "SO-1"])
    assert result.exit_code == exit_codes.UNAVAILABLE
    assert url in result.output


def test_a_url_without_scheme_is_refused():
    result = CliRunner().invoke(app, ["--sales-url", "10.0.3.2:8081", "order", "show", "SO-1"])
    assert result.exit_code == 2
    assert "not an http(s) URL" in result.output
