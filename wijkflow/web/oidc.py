"""OpenID Connect, the relying party's side: authorization code flow with PKCE (S256), state and nonce.

    1. /aanmelden/oidc: a fresh state, nonce and PKCE verifier go into a signed, short-lived cookie (the
       browser that starts is the browser that must finish); the browser goes to the provider.
    2. /aanmelden/oidc/terug?code&state: the state must be the cookie's; the code is exchanged at the token
       endpoint (client id and secret, the verifier); the id_token's signature is checked against the
       provider's published keys (JWKS), then iss, aud (and azp), exp, iat and nonce; `email_verified`
       must be true. The person is the one with that email in the person table.

The provider's discovery document (/.well-known/openid-configuration) and its keys are fetched with httpx
and kept per process; keys are fetched again once when a token names a key id not seen yet (rotation).
Every refusal is an OidcRefused (NotAllowed) with a sentence; the page shows it in Dutch or English.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..errors import NotAllowed
from ..i18n import N_

TIMEOUT = 10.0
FLOW_SECONDS = 600  # how long a started sign-in may take at the provider
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]
LEEWAY = 60  # seconds of clock difference allowed with the provider


class OidcRefused(NotAllowed):
    """The provider's answer is not one to sign anyone in with. `message` is an English msgid (catalogue)."""


# The sentences, marked for the catalogue (the page shows them in the visitor's language).
NOT_CONFIGURED = N_("Signing in through the identity provider is not set up here (settings oidc_issuer, "
                    "oidc_client_id, oidc_client_secret).")
PROVIDER_DOWN = N_("The identity provider cannot be reached or gave an answer that is not OpenID Connect; "
                   "try again later or ask the administrator.")
FLOW_LOST = N_("This sign-in was not started in this browser or took too long; start again.")
PROVIDER_REFUSED = N_("The identity provider did not sign you in; start again.")
TOKEN_INVALID = N_("The identity provider's answer did not pass the checks (signature, issuer, audience, "
                   "expiry or nonce); you were not signed in.")
EMAIL_UNVERIFIED = N_("The identity provider does not confirm that this email address is yours (email_verified); "
                      "you were not signed in.")


@dataclass(frozen=True)
class Flow:
    """What the browser's signed cookie carries between the two steps."""

    state: str
    nonce: str
    verifier: str
    next: str
    started: float

    def to_cookie(self) -> str:
        return "~".join([self.state, self.nonce, self.verifier, base64.urlsafe_b64encode(self.next.encode()).decode(),
                         str(int(self.started))])

    @classmethod
    def from_cookie(cls, value: str | None) -> Flow | None:
        try:
            state, nonce, verifier, nxt, started = (value or "").split("~")
            return cls(state, nonce, verifier, base64.urlsafe_b64decode(nxt.encode()).decode(), float(started))
        except ValueError:
            return None


def new_flow(next_path: str) -> Flow:
    return Flow(state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24), verifier=secrets.token_urlsafe(48),
                next=next_path, started=time.time())


def challenge(verifier: str) -> str:
    """PKCE S256: base64url(sha256(verifier)) without padding (RFC 7636, 4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


class Provider:
    """One OpenID provider: its metadata and keys, fetched once per process."""

    def __init__(self, issuer: str, client_id: str, client_secret: str | None) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self._meta: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    async def _get(self, client: httpx.AsyncClient, url: str) -> dict[str, Any]:
        try:
            answer = await client.get(url)
            answer.raise_for_status()
            data = answer.json()
        except (httpx.HTTPError, ValueError):
            raise OidcRefused(PROVIDER_DOWN) from None
        if not isinstance(data, dict):
            raise OidcRefused(PROVIDER_DOWN)
        return data

    async def metadata(self) -> dict[str, Any]:
        if self._meta is None:
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                meta = await self._get(client, f"{self.issuer}/.well-known/openid-configuration")
            # The document must be this issuer's (OpenID Connect Discovery 1.0, 4.3).
            if str(meta.get("issuer", "")).rstrip("/") != self.issuer or not all(
                    isinstance(meta.get(k), str) for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")):
                raise OidcRefused(PROVIDER_DOWN)
            self._meta = meta
        return self._meta

    async def keys(self, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            meta = await self.metadata()
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                data = await self._get(client, meta["jwks_uri"])
            try:
                self._keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError):
                raise OidcRefused(PROVIDER_DOWN) from None
        return self._keys

    async def authorize_url(self, flow: Flow, redirect_uri: str) -> str:
        meta = await self.metadata()
        query = urlencode({"response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
                           "scope": "openid email profile", "state": flow.state, "nonce": flow.nonce,
                           "code_challenge": challenge(flow.verifier), "code_challenge_method": "S256"})
        endpoint = meta["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def exchange(self, code: str, flow: Flow, redirect_uri: str) -> str:
        """The id_token for an authorization code (client_secret_basic, with the PKCE verifier)."""
        meta = await self.metadata()
        auth = httpx.BasicAuth(self.client_id, self.client_secret or "") if self.client_secret else None
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": flow.verifier}
        if auth is None:
            form["client_id"] = self.client_id  # a public client
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                answer = await client.post(meta["token_endpoint"], data=form, auth=auth or httpx.USE_CLIENT_DEFAULT,
                                           headers={"Accept": "application/json"})
            data = answer.json()
        except (httpx.HTTPError, ValueError):
            raise OidcRefused(PROVIDER_DOWN) from None
        if answer.status_code != 200 or not isinstance(data, dict) or not isinstance(data.get("id_token"), str):
            raise OidcRefused(PROVIDER_REFUSED)
        return str(data["id_token"])

    async def verify(self, id_token: str, nonce: str, *, now: float | None = None) -> dict[str, Any]:
        """The id_token's claims once its signature and claims check out; OidcRefused otherwise."""
        moment = int(now if now is not None else time.time())
        issuer = str((await self.metadata())["issuer"])  # as the provider writes it (a trailing slash or not)
        keys = await self.keys()
        try:
            try:
                token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            except JoseError:
                # A key id we have not seen: the provider may have rotated its keys; fetch them once more.
                keys = await self.keys(refresh=True)
                token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            claims = token.claims
            jwt.JWTClaimsRegistry(
                now=moment, leeway=LEEWAY,
                iss={"essential": True, "value": issuer}, aud={"essential": True, "value": self.client_id},
                exp={"essential": True}, iat={"essential": True}, sub={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(claims)
        except (JoseError, ValueError, TypeError):
            raise OidcRefused(TOKEN_INVALID) from None
        aud = claims.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != self.client_id:
            raise OidcRefused(TOKEN_INVALID)  # OpenID Connect Core 3.1.3.7, points 4 and 5
        if claims.get("email_verified") is not True or not isinstance(claims.get("email"), str):
            raise OidcRefused(EMAIL_UNVERIFIED)
        return dict(claims)
