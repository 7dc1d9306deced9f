"""Bearer-token validation (pure: no FastAPI): who the caller is, from a signed JWT.

Keys come from an OIDC provider's JWKS URL in production (`ORDERFLOW_AUTH_JWKS_URL`, fetched with
PyJWKClient and cached) or, on the local stack, from the JWKS file the dev issuer writes
(`$ORDERFLOW_HOME/.local/auth/jwks.json`, see dev_issuer.py). Signature, expiry, audience and
issuer are always checked; only asymmetric algorithms are accepted (never `none` or HS*).
A verified token is remembered (by its hash) until it expires, for at most CACHE_SECONDS, or
until the key file changes. Tokens are never logged and never part of an error message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.envelope import Initiator
from services.runtime.config import Settings

CACHE_SECONDS = 60.0     # a verified token is trusted again without re-checking for at most this long
CACHE_SIZE = 4096
ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


def state_dir() -> Path:
    """The git-ignored local state directory (ORDERFLOW_STATE_DIR, else `$ORDERFLOW_HOME/.local`)."""
    return Settings().state()


class AuthSettings(BaseSettings):
    """`ORDERFLOW_AUTH_*`. Production: set `issuer`, `audience` and `jwks_url` to your OIDC provider's
    (e.g. Keycloak: issuer https://idp/realms/acme, jwks_url <issuer>/protocol/openid-connect/certs,
    roles_claim realm_access.roles). Local: the defaults match the dev issuer."""

    model_config = SettingsConfigDict(env_prefix="ORDERFLOW_AUTH_", extra="ignore")

    issuer: str = "urn:orderflow:dev-issuer"
    audience: str = "orderflow"
    jwks_url: str | None = None             # OIDC provider's key set; wins over jwks_file
    jwks_file: Path | None = None           # default: <state dir>/auth/jwks.json (the dev issuer's)
    jwks_cache_seconds: float = 300.0       # how long a fetched key set is reused
    roles_claim: str = "roles"              # dotted path to a list claim, e.g. realm_access.roles
    algorithms: list[str] = ["ES256", "RS256"]
    leeway_seconds: float = 30.0            # clock skew tolerated on exp/nbf/iat

    def key_file(self) -> Path:
        return self.jwks_file or state_dir() / "auth" / "jwks.json"


class TokenError(Exception):
    """A request that cannot be authenticated. `error` is the RFC 6750 code (None when no token was
    sent at all); `status` 401, or 503 when the key set cannot be fetched (not the caller's fault)."""

    def __init__(self, description: str, error: str | None = "invalid_token", status: int = 401) -> None:
        super().__init__(description)
        self.description = description
        self.error = error
        self.status = status


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    subject: str
    name: str
    roles: frozenset[str]

    def initiator(self, role: str | None = None) -> Initiator:
        """Who asked, as the message envelope carries it on (`initiated_by`)."""
        return Initiator(subject=self.subject, name=self.name, role=role or ",".join(sorted(self.roles)))


def roles_from(claims: dict[str, Any], path: str) -> frozenset[str]:
    """The roles at a dotted claim path: a list of strings, or one space/comma separated string."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list):
        return frozenset()
    return frozenset(v for v in value if isinstance(v, str) and v)


def principal_from(claims: dict[str, Any], roles_claim: str) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise TokenError("token has no subject ('sub' claim)")
    name = claims.get("name") or claims.get("preferred_username") or subject
    return Principal(subject=subject, name=str(name)[:200], roles=roles_from(claims, roles_claim))


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header value."""
    if not authorization:
        raise TokenError("missing bearer token: send 'Authorization: Bearer <token>'", error=None)
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("the Authorization header must be 'Bearer <token>'", error="invalid_request")
    return token.strip()


class _KeyFile:
    """The JWKS file, re-read when it changes (a new dev key is picked up without a restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str | None, jwt.PyJWK] = {}

    def changed(self) -> bool:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return True
        return (stat.st_mtime_ns, stat.st_size) != self._stamp

    def key(self, kid: str | None) -> jwt.PyJWK:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise TokenError(f"no verification keys: {self.path} is missing (run `orderflow up`, or set "
                             "ORDERFLOW_AUTH_JWKS_URL)", status=503) from None
        if (stat.st_mtime_ns, stat.st_size) != self._stamp:
            keys = jwt.PyJWKSet.from_dict(json.loads(self.path.read_text())).keys
            self._keys = {k.key_id: k for k in keys}
            if len(keys) == 1:
                self._keys.setdefault(None, keys[0])
            self._stamp = (stat.st_mtime_ns, stat.st_size)
        try:
            return self._keys[kid]
        except KeyError:
            raise TokenError("token signed by an unknown key") from None


class TokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.algorithms = [a for a in settings.algorithms if a in ASYMMETRIC]
        if not self.algorithms:
            raise ValueError(f"ORDERFLOW_AUTH_ALGORITHMS must name asymmetric algorithms, got {settings.algorithms}")
        self._client = (jwt.PyJWKClient(settings.jwks_url, cache_jwk_set=True, lifespan=settings.jwks_cache_seconds,
                                        cache_keys=True, timeout=5) if settings.jwks_url else None)
        self._file = None if settings.jwks_url else _KeyFile(settings.key_file())
        # sha256(token) -> (principal, trusted until): a client sends the same token many times, and
        # checking a signature costs far more than the request. Hashes only: no token is kept.
        self._verified: dict[bytes, tuple[Principal, float]] = {}

    def describe(self) -> str:
        source = self.settings.jwks_url or str(self.settings.key_file())
        return f"issuer {self.settings.issuer!r}, audience {self.settings.audience!r}, keys from {source}"

    def check_keys(self) -> None:
        """At start-up: the local key file must exist (a JWKS URL is fetched on first use)."""
        if self._file is not None and not self._file.path.exists():
            raise RuntimeError(f"HTTP authentication has no keys: {self._file.path} is missing. Run `orderflow up` "
                               "(creates the dev issuer's key) or set ORDERFLOW_AUTH_JWKS_URL to your OIDC provider.")

    async def verify(self, token: str) -> Principal:
        """The caller of a bearer token, or TokenError with a message fit for the response."""
        if self._file is not None and self._file.changed():
            self._verified.clear()             # new keys: what the old ones signed is checked again
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._verified.get(digest)
        if cached and time.time() < cached[1]:
            return cached[0]
        principal, expires = await self._verify(token)
        if len(self._verified) >= CACHE_SIZE:
            self._verified.clear()
        self._verified[digest] = (principal, min(expires, time.time() + CACHE_SECONDS))
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("malformed token: not a signed JWT") from None
        if header.get("alg") not in self.algorithms:
            raise TokenError(f"token algorithm {str(header.get('alg'))[:20]!r} is not accepted "
                             f"(accepted: {', '.join(self.algorithms)})")
        key = await self._signing_key(token, header.get("kid"))
        try:
            claims = jwt.decode(token, key, algorithms=self.algorithms, audience=self.settings.audience,
                                issuer=self.settings.issuer, leeway=self.settings.leeway_seconds,
                                options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise TokenError("token expired") from None
        except jwt.InvalidAudienceError:
            raise TokenError(f"token is not meant for this API (audience must be {self.settings.audience!r})") from None
        except jwt.InvalidIssuerError:
            raise TokenError(f"token issued by an untrusted issuer (expected {self.settings.issuer!r})") from None
        except jwt.InvalidSignatureError:
            raise TokenError("token signature is invalid") from None
        except jwt.ImmatureSignatureError:
            raise TokenError("token is not valid yet") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenError(f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise TokenError(f"invalid token ({type(exc).__name__})") from None
        return principal_from(claims, self.settings.roles_claim), float(claims["exp"])

    async def _signing_key(self, token: str, kid: str | None) -> Any:
        if self._file is not None:
            return self._file.key(kid)
        assert self._client is not None
        try:   # PyJWKClient fetches over blocking HTTP on a cache miss: keep it off the event loop
            return (await asyncio.to_thread(self._client.get_signing_key_from_jwt, token)).key
        except jwt.PyJWKClientConnectionError:
            raise TokenError("cannot verify tokens now: the identity provider's key set is unreachable",
                             status=503) from None
        except (jwt.PyJWKClientError, jwt.PyJWKSetError):
            raise TokenError("token signed by an unknown key") from None
        except jwt.PyJWTError:
            raise TokenError("malformed token: not a signed JWT") from None
