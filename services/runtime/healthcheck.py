"""Container health check: `python -m services.runtime.healthcheck [URL]` exits 0 when the process
answers `/health/live`, 1 otherwise (the images' HEALTHCHECK; no curl in a slim image).

The default URL is the container's own port: `http://127.0.0.1:${ORDERFLOW_HTTP_PORT:-8080}/health/live`.
Only the standard library, so that a check every few seconds stays cheap.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request


def default_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('ORDERFLOW_HTTP_PORT', '8080')}/health/live"


def check(url: str, timeout: float = 3.0) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:   # noqa: S310 - our own URL
            body = json.loads(response.read() or b"{}")
            return response.status == 200 and body.get("status") == "alive", json.dumps(body)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, f"{url}: {exc}"


def main(argv: list[str]) -> int:
    ok, detail = check(argv[0] if argv else default_url())
    print(detail, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
