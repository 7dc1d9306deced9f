"""Generated credentials: created once into the git-ignored state directory, readable only by
their owner, never printed."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def ensure_secret(path: Path) -> str:
    """The secret in `path`, generated (48 hex characters) when the file is missing or empty."""
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    value = secrets.token_hex(24)
    write_private(path, value + "\n")
    return value


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (created with 0600, never world-readable in between)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
