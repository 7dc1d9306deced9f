"""The console's settings: ORDERFLOW_CONSOLE_* (and the shared ORDERFLOW_* of runtime/config.py).

The session secret signs the session cookie. It comes from ORDERFLOW_CONSOLE_SESSION_SECRET or the
file ORDERFLOW_CONSOLE_SESSION_SECRET_FILE; locally the file defaults to
`<state>/console/session.secret`, generated on first start (mode 0600, git-ignored, never logged),
like the dev issuer's key. Production mounts it from a secret store.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from services.runtime.config import DEFAULT_HTTP_PORTS, Settings, read_secret

DEFAULT_PORT = 8080
DEPARTMENTS = tuple(DEFAULT_HTTP_PORTS)


class ConsoleSettings(Settings):
    service: str = "console"

    # ORDERFLOW_CONSOLE_PORT (see port()); ORDERFLOW_HTTP_HOST is shared: 127.0.0.1 unless set.
    console_session_secret: SecretStr | None = None
    console_session_secret_file: Path | None = None
    console_session_hours: float = 8.0           # the cookie's lifetime; a session also ends with its token
    console_cookie_secure: bool = False          # true behind HTTPS (production): the cookie is sent over TLS only
    console_public_url: str = ""                 # e.g. https://console.orders.example.com (OIDC redirect URI)
    # dev: the sign-in page offers the dev issuer's users (local stack only; refused when the services
    # trust an identity provider). oidc: authorization-code flow against ORDERFLOW_AUTH_ISSUER.
    # auto: oidc when ORDERFLOW_AUTH_JWKS_URL is set, else dev.
    console_signin: Literal["auto", "dev", "oidc"] = "auto"
    console_page_size: int = 25                  # orders per page
    console_api_timeout_seconds: float = 10.0
    console_live_settle_seconds: float = 1.0     # a second "changed" after an order's events go quiet
    console_lag_sample_seconds: float = 10.0     # consumer lag history for the chart
    console_lag_history: int = 60                # samples kept per group

    def port(self) -> int:
        explicit = os.environ.get("ORDERFLOW_CONSOLE_PORT")
        return int(explicit) if explicit else (self.http_port or DEFAULT_PORT)

    def service_url(self, department: str) -> str:
        """ORDERFLOW_<SERVICE>_URL, else the local process on ORDERFLOW_<SERVICE>_PORT (as the CLI)."""
        explicit = os.environ.get(f"ORDERFLOW_{department.upper()}_URL")
        if explicit:
            return explicit.rstrip("/")
        port = os.environ.get(f"ORDERFLOW_{department.upper()}_PORT") or DEFAULT_HTTP_PORTS[department]
        return f"http://127.0.0.1:{port}"

    def session_secret(self) -> str:
        if self.console_session_secret is not None:
            return self.console_session_secret.get_secret_value()
        path = self.console_session_secret_file or self.state() / "console" / "session.secret"
        if self.console_session_secret_file is None and not path.exists():
            ensure_secret_file(path)
        return read_secret(path, "console session secret")


def ensure_secret_file(path: Path) -> None:
    """A random secret in a 0600 file (safe to race: the first one linked into place wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
