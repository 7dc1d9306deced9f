"""After the suite (this module runs last among the end-to-end tests): no password, key or token
appears in any log file the stack, the broker or the database wrote."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import E2E


def _secrets(state: Path) -> dict[str, str]:
    files = [*state.glob("kafka/users/*.password"), *state.glob("postgres/roles/*.password"),
             state / "kafka" / "tls" / "keystore.password", *state.glob("auth/*.key"), *state.glob("auth/*.pem"),
             *state.glob("console/*.secret")]
    found = {}
    for path in files:
        if path.is_file():
            text = path.read_text()
            # A private key is checked by its body lines, a password by its value.
            for piece in ([line for line in text.splitlines() if len(line) >= 40 and "-----" not in line]
                          or [text.strip()]):
                found[piece] = str(path.relative_to(state))
    return found


def _log_files(e2e: E2E) -> list[Path]:
    state = e2e.settings.state()
    runs = e2e.stack.run_dir.parent          # every test run's logs (this run's included)
    logs = [*state.glob("run/*.log"), *runs.glob("*/*.log"), *state.glob("kafka/*.log")]
    pg_base = Path((state / "pg-location").read_text().strip()) if (state / "pg-location").exists() else state
    logs += [p for p in (pg_base / "pgdata.log",) if p.exists()]
    return logs


def test_no_secret_in_any_log(e2e: E2E) -> None:
    secrets = _secrets(e2e.settings.state())
    assert len(secrets) >= 10, f"expected the generated credentials under {e2e.settings.state()}, found {secrets}"
    secrets.update({token: "a bearer token issued in this run" for token in e2e.issued_tokens()})
    logs = _log_files(e2e)
    assert any(e2e.run_id in str(p) for p in logs), "this run's service logs were not found"
    leaks = []
    for log in logs:
        text = log.read_text(errors="replace")
        leaks += [f"{log}: contains {what}" for secret, what in secrets.items() if secret in text]
    assert not leaks, "\n".join(leaks)


def test_service_logs_are_json_lines_without_colour_codes(e2e: E2E) -> None:
    """Every line a service, simulator or the lag exporter of this run wrote is one JSON object with
    service, level and message (tracebacks are inside the object, not loose lines)."""
    logs = list(e2e.stack.run_dir.glob("*.log"))
    assert len(logs) >= 9, logs
    problems = []
    for path in logs:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if "\x1b[" in line:
                problems.append(f"{path.name}:{number}: colour code")
            try:
                record = json.loads(line)
            except ValueError:
                problems.append(f"{path.name}:{number}: not JSON: {line[:120]}")
                continue
            if not {"service", "level", "message", "time"} <= set(record):
                problems.append(f"{path.name}:{number}: missing fields: {sorted(record)}")
    assert not problems, "\n".join(problems[:20])
