"""The local stack's token issuer: a signing key generated at set-up into the git-ignored state dir,
the public key set the services read, named dev users per role, and tokens for them.

    .local/auth/dev-issuer.key   EC P-256 private key (PEM, mode 0600), never committed, never logged
    .local/auth/jwks.json        its public half, what the services verify with (ORDERFLOW_AUTH_JWKS_FILE)

Used by `orderflow token`, the CLI's own requests, the e2e harness, and the sign-in of a later
browser console (`DEV_USERS`). Production uses an OIDC provider instead (ORDERFLOW_AUTH_JWKS_URL):
then nothing here runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from services.runtime import roles
from services.runtime.tokens import AuthSettings, state_dir

ALGORITHM = "ES256"
KEY_FILE = "dev-issuer.key"
JWKS_FILE = "jwks.json"


@dataclass(frozen=True)
class DevUser:
    username: str
    name: str
    roles: tuple[str, ...]


DEV_USERS = (
    DevUser("clara", "Clara Clerk", (roles.CLERK,)),
    DevUser("colin", "Colin Clerk", (roles.CLERK,)),
    DevUser("maria", "Maria Manager", (roles.SALES_MANAGER,)),
    DevUser("fiona", "Fiona Finance", (roles.FINANCE,)),
    DevUser("wanda", "Wanda Warehouse", (roles.WAREHOUSE,)),
    DevUser("leo", "Leo Logistics", (roles.LOGISTICS,)),
    DevUser("petra", "Petra Procurement", (roles.PROCUREMENT,)),
    DevUser("oscar", "Oscar Operator", (roles.OPERATOR,)),
    DevUser("audrey", "Audrey Auditor", (roles.AUDITOR,)),
)


def dev_user(username: str) -> DevUser | None:
    return next((u for u in DEV_USERS if u.username == username), None)


def key_dir() -> Path:
    return state_dir() / "auth"


def _kid(public_jwk: dict) -> str:
    """RFC 7638 thumbprint: the key's id changes exactly when the key does."""
    members = {k: public_jwk[k] for k in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, sort_keys=True, separators=(",", ":")).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def public_jwks(private_key: ec.EllipticCurvePrivateKey) -> dict:
    jwk = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": _kid(jwk), "use": "sig", "alg": ALGORITHM}]}


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey), f"{path} is not an EC private key"
    return key


def ensure_keys(directory: Path | None = None) -> Path:
    """Create the dev signing key and its JWKS when missing (idempotent, safe to race: the first
    key linked into place wins). Returns the JWKS path."""
    directory = directory or key_dir()
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    key_path, jwks_path = directory / KEY_FILE, directory / JWKS_FILE
    if not key_path.exists():
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        tmp = directory / f".{KEY_FILE}.{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        try:
            os.link(tmp, key_path)
        except FileExistsError:
            pass                                   # another process made one first: use theirs
        finally:
            tmp.unlink()
    wanted = public_jwks(_load_key(key_path))
    if not jwks_path.exists() or json.loads(jwks_path.read_text() or "{}") != wanted:
        tmp = directory / f".{JWKS_FILE}.{uuid.uuid4().hex}"
        tmp.write_text(json.dumps(wanted, indent=2) + "\n")
        os.replace(tmp, jwks_path)
    return jwks_path


def issue_token(subject: str, role_names: tuple[str, ...] | list[str], *, name: str | None = None,
                ttl_seconds: float = 3600, issued_at: float | None = None, audience: str | None = None,
                issuer: str | None = None, directory: Path | None = None) -> str:
    """A signed token for `subject` with `role_names`, as the services expect it (issuer, audience
    and roles claim from AuthSettings). Creates the key when missing."""
    settings = AuthSettings()
    if settings.jwks_url:
        raise RuntimeError("ORDERFLOW_AUTH_JWKS_URL is set: the services trust your identity provider, not the "
                           "dev issuer; get a token there and pass it as ORDERFLOW_TOKEN or ORDERFLOW_TOKEN_FILE")
    now = int(issued_at if issued_at is not None else time.time())
    user = dev_user(subject)
    claims = {"iss": issuer or settings.issuer, "aud": audience or settings.audience, "sub": subject,
              "name": name or (user.name if user else subject), "preferred_username": subject,
              "iat": now, "nbf": now, "exp": now + int(ttl_seconds), "jti": uuid.uuid4().hex}
    _set_claim(claims, settings.roles_claim, sorted(set(role_names)))
    return sign(claims, directory)


def sign(claims: dict, directory: Path | None = None) -> str:
    """Sign exactly these claims with the dev key (tests use it for tokens issue_token would not make)."""
    directory = directory or key_dir()
    ensure_keys(directory)
    key = _load_key(directory / KEY_FILE)
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": public_jwks(key)["keys"][0]["kid"]})


def _set_claim(claims: dict, path: str, value: object) -> None:
    """Put the roles where the services look for them (e.g. `roles` or `realm_access.roles`)."""
    *parents, last = path.split(".")
    node = claims
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
