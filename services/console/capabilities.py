"""What the deployed department APIs offer, read from their OpenAPI documents (any role may read
them), so that the console shows a filter, a button or a page only when the API behind it exists:
search filters and paging on `GET /orders`, dead-letter replay/skip, KPIs. A department upgraded
before or after the console keeps working; nothing is faked for an endpoint that is not there.
Cached per service for a minute."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from services.console.api import ApiError, Departments
from services.console.session import User

CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Capabilities:
    operations: frozenset[tuple[str, str]] = frozenset()       # (METHOD, path template)
    parameters: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)   # query parameters

    def has(self, method: str, path: str) -> bool:
        return (method.upper(), path) in self.operations

    def query(self, method: str, path: str) -> frozenset[str]:
        return self.parameters.get((method.upper(), path), frozenset())


def from_openapi(document: dict[str, Any]) -> Capabilities:
    operations: set[tuple[str, str]] = set()
    parameters: dict[tuple[str, str], frozenset[str]] = {}
    for path, methods in document.get("paths", {}).items():
        for method, operation in methods.items():
            if not isinstance(operation, dict):
                continue
            key = (method.upper(), path)
            operations.add(key)
            parameters[key] = frozenset(p.get("name") for p in operation.get("parameters", [])
                                        if isinstance(p, dict) and p.get("in") == "query")
    return Capabilities(frozenset(operations), parameters)


class CapabilityCache:
    def __init__(self, departments: Departments) -> None:
        self.departments = departments
        self._cache: dict[str, tuple[Capabilities, float]] = {}

    async def of(self, user: User, service: str) -> Capabilities:
        cached = self._cache.get(service)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        try:
            document = await self.departments.get(user, service, "/openapi.json")
        except ApiError:
            return cached[0] if cached else Capabilities()    # unreachable: offer nothing new
        capabilities = from_openapi(document)
        self._cache[service] = (capabilities, time.monotonic() + CACHE_SECONDS)
        return capabilities
