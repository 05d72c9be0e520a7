"""A small OpenID provider for the tests, built on Authlib's server components, served on 127.0.0.1.

No packaged provider installs here, so this one runs the real protocol: Authlib's AuthorizationCodeGrant
with the OpenIDCode extension (id_tokens, nonce) and CodeChallenge (PKCE, S256 required), discovery at
/.well-known/openid-configuration, the public keys at /jwks, id_tokens signed RS256 with an RSA key made
for the session (cryptography). Clients authenticate at the token endpoint with client_secret_basic.

Who "logs in" is the test's choice:

    oidc.login_as("fleur@hengelo.example")        # /authorize consents at once as that address
    oidc.login_as(PL, verified=False)              # ... with email_verified false
    oidc.tamper = "signature" | "key" | "nonce" | "issuer" | "audience" | "expired"  # the next id_token is bad
    oidc.login_as(None)                            # /authorize shows a small form (the browser test fills it)

    from oidc_provider import oidc, oidc_provider  # noqa: F401 (fixtures by import)
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant as _CodeGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin as OidcCodeMixin
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey
from markupsafe import escape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from webkit import free_port, serve_plain, stop_served

CLIENT_ID = "wijkflow-test"
CLIENT_SECRET = "test-secret-" + "x" * 20


@dataclass
class Client(ClientMixin):
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"openid", "email", "profile"}
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Any local wijkflow's callback (the tests' apps run on random ports, or as https://testserver).
        return urlsplit(redirect_uri).path == "/aanmelden/oidc/terug"

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic" if endpoint == "token" else True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(OidcCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str:
        return ""

    def get_amr(self) -> list[str]:
        return []


class _Payload(OAuth2Payload):
    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    @property
    def data(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._values.items() if v}

    @property
    def datalist(self) -> dict[str, list[str]]:  # type: ignore[override]
        return self._values


class _Request(OAuth2Request):
    """An OAuth2Request from what a Starlette request carried (its query and form read already)."""

    def __init__(self, method: str, uri: str, headers: Any, query: dict[str, list[str]],
                 form: dict[str, list[str]]) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self._query = query
        self._form = form
        merged = {k: list(v) for k, v in query.items()}
        for k, v in form.items():
            merged.setdefault(k, []).extend(v)
        self.payload = _Payload(merged)

    @property
    def args(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._query.items()}

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._form.items()}


class Provider:
    """The provider's state: keys, users, codes, and what the test wants to happen next."""

    def __init__(self) -> None:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key = RSAKey.import_key(private, parameters={"kid": "test-1", "use": "sig", "alg": "RS256"})
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = RSAKey.import_key(other, parameters={"kid": "test-1", "use": "sig", "alg": "RS256"})
        self.issuer = ""
        self.client = Client()
        self.codes: dict[str, Code] = {}
        self.user: str | None = None
        self.verified = True
        self.tamper: str | None = None
        self.token_requests = 0
        self.server = self._server()

    def reset(self) -> None:
        self.user, self.verified, self.tamper, self.token_requests = None, True, None, 0

    def login_as(self, email: str | None, *, verified: bool = True) -> None:
        self.user, self.verified = email, verified

    def _server(self) -> AuthorizationServer:
        provider = self

        class Server(AuthorizationServer):
            def query_client(self, client_id: str) -> Client | None:
                return provider.client if client_id == provider.client.client_id else None

            def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
                pass

            def create_oauth2_request(self, request: Any) -> OAuth2Request:
                return request  # type: ignore[no-any-return]

            def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
                if isinstance(body, dict):
                    return JSONResponse(body, status_code=status, headers=dict(headers))
                return Response(body or "", status_code=status, headers=dict(headers))

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                pass

        class Grant(_CodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

            def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
                data = request.payload.data
                provider.codes[code] = Code(code=code, client_id=request.client.get_client_id(),
                                            redirect_uri=request.payload.redirect_uri, scope=request.scope,
                                            user=request.user, nonce=data.get("nonce"),
                                            code_challenge=data.get("code_challenge"),
                                            code_challenge_method=data.get("code_challenge_method"))

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                found = provider.codes.get(code)
                return found if found is not None and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: Code) -> str:
                return authorization_code.user

        class IdTokens(OpenIDCode):
            def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
                return any(c.nonce == nonce for c in provider.codes.values())

            def resolve_client_private_key(self, client: Client) -> RSAKey:
                return provider.other_key if provider.tamper == "key" else provider.key

            def get_client_algorithm(self, client: Client) -> str:
                return "RS256"

            def get_encode_header(self, client: Client) -> dict[str, str]:
                return {"alg": "RS256", "kid": "test-1"}

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                claims: dict[str, Any] = {"iss": provider.issuer, "aud": [client.get_client_id()]}
                if provider.tamper == "issuer":
                    claims["iss"] = "http://127.0.0.1:1/another-issuer"
                elif provider.tamper == "audience":
                    claims["aud"] = ["another-client"]
                elif provider.tamper == "expired":
                    now = int(time.time())
                    claims.update(iat=now - 7200, exp=now - 3600, auth_time=now - 7200)
                return claims

            def get_authorization_code_claims(self, authorization_code: Any) -> dict[str, Any]:
                claims = super().get_authorization_code_claims(authorization_code)
                if provider.tamper == "nonce":
                    claims["nonce"] = "not-the-nonce-you-sent"
                return claims

            def generate_user_info(self, user: str, scope: str) -> UserInfo:
                return UserInfo(sub=f"sub-{user}", email=user, email_verified=provider.verified,
                                name=user.split("@")[0])

        server = Server(scopes_supported=["openid", "email", "profile"])
        server.register_token_generator("default", BearerTokenGenerator(
            access_token_generator=lambda client, grant_type, user, scope: secrets.token_urlsafe(32)))
        server.register_grant(Grant, [IdTokens(require_nonce=True), CodeChallenge(required=True)])
        return server

    def _tampered(self, response: Response) -> Response:
        if self.tamper != "signature" or response.status_code != 200:
            return response
        import json

        body = json.loads(bytes(response.body))
        head, claims, signature = body["id_token"].split(".")
        raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
        raw[0] ^= 0x01  # one bit of the signature flipped: the claims are untouched
        body["id_token"] = ".".join([head, claims, base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()])
        return JSONResponse(body, status_code=200, headers={"cache-control": "no-store"})

    # --- the endpoints ---

    async def discovery(self, request: Request) -> Response:
        base = self.issuer
        return JSONResponse({
            "issuer": base, "authorization_endpoint": f"{base}/authorize", "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks", "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"], "claims_supported": ["sub", "email", "email_verified"]})

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def authorize(self, request: Request) -> Response:
        query = {k: request.query_params.getlist(k) for k in request.query_params}
        form: dict[str, list[str]] = {}
        if request.method == "POST":
            posted = await request.form()
            form = {k: [str(v) for v in posted.getlist(k)] for k in posted}
        oauth = _Request(request.method, str(request.url), request.headers, query, form)
        user = self.user or (form.get("email") or [None])[0]
        if user is None:  # nobody chosen by the test: ask, as a real provider's login page would
            try:
                self.server.get_consent_grant(request=oauth, end_user=None)
            except OAuth2Error as error:
                return JSONResponse(dict(error.get_body()), status_code=400)
            return HTMLResponse(
                "<!doctype html><title>Test-IdP</title><h1>Test-IdP</h1>"
                f'<form method="post" action="{escape(str(request.url))}">'
                '<label for="email">E-mail</label> <input id="email" name="email" type="email">'
                '<button id="login" type="submit">Log in</button></form>')
        try:
            grant = self.server.get_consent_grant(request=oauth, end_user=user)
        except OAuth2Error as error:
            return JSONResponse(dict(error.get_body()), status_code=400)
        response: Response = self.server.create_authorization_response(request=oauth, grant_user=user, grant=grant)
        return response

    async def token(self, request: Request) -> Response:
        self.token_requests += 1
        posted = await request.form()
        form = {k: [str(v) for v in posted.getlist(k)] for k in posted}
        oauth = _Request("POST", str(request.url), request.headers, {}, form)
        return self._tampered(self.server.create_token_response(oauth))

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/jwks", self.jwks),
            Route("/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/token", self.token, methods=["POST"]),
        ])


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Provider]:
    """The provider, served once for the whole session on 127.0.0.1:<free port>."""
    provider = Provider()
    port = free_port()
    provider.issuer = f"http://127.0.0.1:{port}"
    url = serve_plain(provider.app(), port=port)
    try:
        yield provider
    finally:
        stop_served(url)


@pytest.fixture
def oidc(oidc_provider: Provider, app: Any) -> Iterator[Provider]:
    """The provider, reset for this test, and the test's App configured to use it."""
    oidc_provider.reset()
    app.settings.oidc_issuer = oidc_provider.issuer
    app.settings.oidc_client_id = CLIENT_ID
    app.settings.oidc_client_secret = CLIENT_SECRET  # type: ignore[assignment]
    yield oidc_provider
    oidc_provider.reset()
