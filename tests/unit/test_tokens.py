"""Bearer-token validation (services/runtime/tokens.py) and the dev issuer, with keys made here."""

from __future__ import annotations

import json
import os
import stat
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.runtime import dev_issuer
from services.runtime.tokens import AuthSettings, TokenError, TokenVerifier, bearer_token, roles_from

ISSUER, AUDIENCE = "https://idp.example/realms/acme", "orderflow"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.upper().startswith("ORDERFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ORDERFLOW_HOME", str(tmp_path))


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def verifier(tmp_path, key) -> TokenVerifier:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**dev_issuer.public_jwks(key)["keys"][0], "kid": "k1"}]}))
    return TokenVerifier(AuthSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=jwks))


def token(key, kid: str | None = "k1", algorithm: str = "ES256", **overrides) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-17", "name": "Maria Manager", "roles": ["sales_manager"],
              "iat": now, "exp": now + 300, **overrides}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=algorithm,
                      headers={"kid": kid} if kid else None)


async def reason(verifier: TokenVerifier, raw: str) -> str:
    with pytest.raises(TokenError) as caught:
        await verifier.verify(raw)
    assert caught.value.status == 401 and caught.value.error == "invalid_token"
    return caught.value.description


async def test_a_valid_token_gives_the_caller(verifier, key):
    caller = await verifier.verify(token(key))
    assert (caller.subject, caller.name, caller.roles) == ("u-17", "Maria Manager", frozenset({"sales_manager"}))
    assert caller.initiator("sales_manager").model_dump() == {"subject": "u-17", "name": "Maria Manager",
                                                              "role": "sales_manager"}


async def test_every_bad_token_is_refused_with_its_reason(verifier, key):
    now = int(time.time())
    assert await reason(verifier, token(key, iat=now - 3600, exp=now - 600)) == "token expired"
    assert "audience must be 'orderflow'" in await reason(verifier, token(key, aud="billing"))
    assert "untrusted issuer" in await reason(verifier, token(key, iss="https://evil.example"))
    assert await reason(verifier, token(ec.generate_private_key(ec.SECP256R1()))) == "token signature is invalid"
    assert await reason(verifier, token(key, kid="k2")) == "token signed by an unknown key"
    assert await reason(verifier, token(key, exp=None)) == "token lacks the 'exp' claim"
    assert await reason(verifier, token(key, nbf=now + 3600)) == "token is not valid yet"
    assert await reason(verifier, "garbage") == "malformed token: not a signed JWT"
    assert "not accepted" in await reason(verifier, jwt.encode({"sub": "x"}, None, algorithm="none"))
    assert "not accepted" in await reason(verifier, jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256"))
    assert "no subject" in await reason(verifier, token(key, sub=""))


async def test_clock_skew_within_the_leeway_is_tolerated(verifier, key):
    now = int(time.time())
    assert (await verifier.verify(token(key, iat=now - 600, exp=now - 10))).subject == "u-17"


def test_roles_from_a_plain_list_or_keycloak_realm_access():
    claims = {"roles": ["clerk"], "realm_access": {"roles": ["operator", "auditor", 7]}, "scope_roles": "a b,c"}
    assert roles_from(claims, "roles") == {"clerk"}
    assert roles_from(claims, "realm_access.roles") == {"operator", "auditor"}
    assert roles_from(claims, "scope_roles") == {"a", "b", "c"}
    assert roles_from(claims, "resource_access.orderflow.roles") == frozenset()


async def test_keycloak_style_tokens_through_a_jwks_url(monkeypatch):
    """Production path: RS256 keys fetched from the provider's JWKS URL (fetch stubbed: no network here)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    fetched = []
    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", lambda self: fetched.append(1) or {
        "keys": [{**public, "kid": "rsa-1", "use": "sig", "alg": "RS256"}]})
    verifier = TokenVerifier(AuthSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url="https://idp.example/certs",
                                          roles_claim="realm_access.roles"))
    raw = token(key, kid="rsa-1", algorithm="RS256", roles=None, realm_access={"roles": ["operator"]})
    assert (await verifier.verify(raw)).roles == {"operator"}
    assert (await verifier.verify(raw)).subject == "u-17"
    assert len(fetched) == 1                                   # the key set is cached


async def test_an_unreachable_identity_provider_is_a_503_not_the_callers_fault(monkeypatch, key):
    def down(self):
        raise jwt.PyJWKClientConnectionError("connection refused")
    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", down)
    verifier = TokenVerifier(AuthSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url="https://idp.example/certs"))
    with pytest.raises(TokenError) as caught:
        await verifier.verify(token(key))
    assert caught.value.status == 503


def test_only_asymmetric_algorithms_may_be_configured():
    with pytest.raises(ValueError):
        TokenVerifier(AuthSettings(algorithms=["HS256", "none"]))


def test_the_authorization_header():
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer  abc ") == "abc"
    with pytest.raises(TokenError) as missing:
        bearer_token(None)
    assert missing.value.error is None                        # RFC 6750: no error code without credentials
    with pytest.raises(TokenError) as wrong:
        bearer_token("Basic dXNlcjpwYXNz")
    assert wrong.value.error == "invalid_request"


# --- the dev issuer -----------------------------------------------------------------------------

async def test_dev_issuer_keys_are_private_idempotent_and_verify(tmp_path):
    jwks_path = dev_issuer.ensure_keys()
    key_path = tmp_path / ".local" / "auth" / dev_issuer.KEY_FILE
    assert jwks_path == tmp_path / ".local" / "auth" / "jwks.json"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    first = (key_path.read_bytes(), jwks_path.read_text())
    dev_issuer.ensure_keys()
    assert (key_path.read_bytes(), jwks_path.read_text()) == first     # idempotent
    assert "PRIVATE" not in jwks_path.read_text() and '"d"' not in jwks_path.read_text()

    caller = await TokenVerifier(AuthSettings()).verify(dev_issuer.issue_token("maria", ["sales_manager"]))
    assert (caller.subject, caller.name, caller.roles) == ("maria", "Maria Manager", {"sales_manager"})


async def test_dev_issuer_writes_roles_where_the_services_read_them(monkeypatch):
    monkeypatch.setenv("ORDERFLOW_AUTH_ROLES_CLAIM", "realm_access.roles")
    raw = dev_issuer.issue_token("oscar", ["operator"])
    assert jwt.decode(raw, options={"verify_signature": False})["realm_access"] == {"roles": ["operator"]}
    assert (await TokenVerifier(AuthSettings()).verify(raw)).roles == {"operator"}


async def test_a_regenerated_dev_key_is_picked_up_and_old_tokens_fail(tmp_path):
    verifier = TokenVerifier(AuthSettings())
    old = dev_issuer.issue_token("clara", ["clerk"])
    assert (await verifier.verify(old)).subject == "clara"
    (tmp_path / ".local" / "auth" / dev_issuer.KEY_FILE).unlink()
    new = dev_issuer.issue_token("clara", ["clerk"])
    assert (await verifier.verify(new)).subject == "clara"
    assert await reason(verifier, old) == "token signed by an unknown key"


def test_no_dev_tokens_when_an_identity_provider_is_configured(monkeypatch):
    monkeypatch.setenv("ORDERFLOW_AUTH_JWKS_URL", "https://idp.example/certs")
    with pytest.raises(RuntimeError, match="identity provider"):
        dev_issuer.issue_token("maria", ["sales_manager"])


def test_missing_dev_keys_stop_a_service_at_start_with_a_clear_message():
    with pytest.raises(RuntimeError, match="orderflow up"):
        TokenVerifier(AuthSettings()).check_keys()


def test_dev_users_cover_every_role():
    from services.runtime import roles
    assert {r for u in dev_issuer.DEV_USERS for r in u.roles} == set(roles.ALL)
    assert sum(roles.CLERK in u.roles for u in dev_issuer.DEV_USERS) >= 2     # "another clerk's order"


async def test_a_verified_token_is_trusted_again_only_until_it_expires(verifier, key, monkeypatch):
    decoded = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decoded.append(1) or real_decode(*a, **k))
    raw = token(key, exp=int(time.time()) + 120)
    for _ in range(3):
        assert (await verifier.verify(raw)).subject == "u-17"
    assert len(decoded) == 1                                       # the signature is checked once
    later = time.time() + 121                                      # past exp: the cache no longer answers
    monkeypatch.setattr(time, "time", lambda: later)
    await verifier.verify(raw)                                     # (PyJWT's own clock still says valid)
    assert len(decoded) == 2
