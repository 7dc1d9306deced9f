"""Each deployable component's own version, so that one department can be released (image tag,
`/health/live`) without the others.

A department's version is `__version__` in `services/<dept>/__init__.py`; the three simulators
share `services/simulators/__init__.py`; the CLI/provisioning image uses `services/cli/__init__.py`.
Bump a department's version when its code or migrations change; a change under `services/runtime/`
or `contracts/` is shipped by bumping every component that is rebuilt with it.

`python -m services.runtime.version [COMPONENT...]` prints `component version` lines (used by
`deploy/images/build.sh` to tag images).
"""

from __future__ import annotations

import importlib
import sys

DEPARTMENTS = ("sales", "procurement", "warehouse", "logistics", "finance")
SIMULATORS = ("carrier", "payments", "supplier", "notifier")
COMPONENTS = (*DEPARTMENTS, *SIMULATORS, "cli")


def package_of(component: str) -> str:
    if component in DEPARTMENTS or component == "cli":
        return f"services.{component}"
    if component in SIMULATORS:
        return "services.simulators"
    raise ValueError(f"unknown component {component!r}; known: {', '.join(COMPONENTS)}")


def version_of(component: str) -> str:
    """The component's release version (its package's `__version__`)."""
    return importlib.import_module(package_of(component)).__version__


def main(argv: list[str]) -> int:
    try:
        for component in argv or COMPONENTS:
            print(component, version_of(component))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
