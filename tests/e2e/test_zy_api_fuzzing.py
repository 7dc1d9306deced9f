"""Every service's HTTP API fuzzed from its own OpenAPI document with schemathesis (`--checks all`:
no 5xx, every status, content type, header and body as documented, schema-invalid input refused,
schema-valid input accepted), authenticated with a dev token holding every role.

It places real orders (the documented examples), so it runs after the scenario tests (hence the
module name) and before the log check, which also looks for its token. ORDERFLOW_FUZZ_EXAMPLES
(default 10) bounds the examples per operation; settings for schemathesis are in
tests/e2e/schemathesis.toml."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from services.cli.stack import SERVICES
from services.runtime import roles
from tests.e2e.conftest import E2E

HERE = Path(__file__).parent
EXAMPLES = int(os.environ.get("ORDERFLOW_FUZZ_EXAMPLES", "10"))


@pytest.fixture(scope="module")
def fuzz_env(e2e: E2E) -> dict[str, str]:
    order = e2e.place(lines=[("SKU-BOLT-M8", 1)], external_ref="fuzzing-target")
    return {**os.environ, "ORDERFLOW_FUZZ_ORDER_ID": order["order_id"]}


@pytest.mark.parametrize("service", SERVICES)
def test_api_conforms_to_its_openapi_under_fuzzing(e2e: E2E, fuzz_env: dict[str, str], service: str,
                                                    tmp_path: Path) -> None:
    token = e2e.as_user("fuzzer", *roles.ALL)["Authorization"]
    command = [str(Path(sys.executable).with_name("st")), "--config-file", str(HERE / "schemathesis.toml"), "run",
               f"{e2e.stack.url(service)}/openapi.json", "--checks", "all", "--max-examples", str(EXAMPLES),
               "--workers", "1",                    # hypothesis' lambda inspection is not thread-safe on 3.11
               "--generation-database", "none", "--request-timeout", "30", "--no-color", "--seed", "20261122",
               "--header", f"Authorization: {token}"]
    # In a scratch directory: schemathesis keeps a cache of what it found in its working directory.
    run = subprocess.run(command, env=fuzz_env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"schemathesis found problems in {service}'s API:\n{output[-20000:]}"
    generated = re.search(r"Tested: (\d+)", output), re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated[0] and int(generated[0][1]) > 0, f"no operation of {service} was tested:\n{output[-3000:]}"
    assert generated[1] and int(generated[1][1]) == int(generated[1][2]) > 0, output[-3000:]
