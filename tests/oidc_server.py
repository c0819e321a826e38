"""A local OpenID Connect provider for tests: the real `st.login` signs in against it, nothing leaves the machine.

    with FakeOIDC() as idp:
        idp.next_identity = {"sub": "u-1", "email": "lee@example.com", "email_verified": True}
        secrets = idp.write_secrets(tmp_path / "secrets.toml")     # [auth] for Streamlit
        ... the browser presses "Sign in with single sign-on" ...
        assert idp.issued[-1]["sub"] == "u-1"

It serves what an OIDC client needs: discovery (`/.well-known/openid-configuration`), `/authorize` (approves at
once and redirects back with a code and the client's state; the identity is whatever the test put in
`next_identity`), `/token` (checks the client's secret, the code, the redirect URI and the PKCE verifier, and
answers with an RS256 id_token carrying the nonce, aud, iss, sub, email, email_verified and
preferred_username), `/jwks` (the public key), `/userinfo` (the claims, for a bearer access token).
Standard library HTTP, keys and tokens from joserfc (Authlib's own JOSE library, which Authlib uses to check
the id_token).
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "exq-test-client"
CLIENT_SECRET = "exq-test-client-secret"


class FakeOIDC:
    """An OIDC provider on 127.0.0.1 and a free port, in a background thread."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig", "alg": "RS256"})
        self.next_identity: dict = {}
        self.issued: list[dict] = []           # the id_token claims handed out, in order
        self.requests: list[str] = []          # "GET /authorize", "POST /token", …
        self._codes: dict[str, dict] = {}
        self._access: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def metadata(self) -> dict:
        return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "userinfo_endpoint": f"{self.issuer}/userinfo", "response_types_supported": ["code"],
                "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified",
                                     "preferred_username", "name"]}

    def write_secrets(self, path: Path, redirect_uri: str = "http://127.0.0.1:{port}/oauth2callback") -> Path:
        """A secrets.toml whose `[auth]` points Streamlit at this provider (`{port}` is the app's own port,
        which Streamlit fills in)."""
        path.write_text(
            "[auth]\n"
            f'redirect_uri = "{redirect_uri}"\n'
            f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
            f'client_id = "{CLIENT_ID}"\n'
            f'client_secret = "{CLIENT_SECRET}"\n'
            f'server_metadata_url = "{self.issuer}/.well-known/openid-configuration"\n')
        path.chmod(0o600)
        return path

    # -- the endpoints ---------------------------------------------------------------------------------

    def _authorize(self, query: dict) -> tuple[int, dict, bytes]:
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return 400, {}, b"unknown client or response type"
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = {"identity": dict(self.next_identity), "nonce": query.get("nonce"),
                                 "redirect_uri": query.get("redirect_uri"),
                                 "challenge": query.get("code_challenge"), "at": time.time()}
        back = {"code": code}
        if "state" in query:
            back["state"] = query["state"]
        return 302, {"Location": f"{query['redirect_uri']}?{urlencode(back)}"}, b""

    def _token(self, form: dict, authorization: str | None) -> tuple[int, dict, dict]:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {}, {"error": "invalid_client"}
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)     # a code works once
        if (grant is None or form.get("grant_type") != "authorization_code"
                or form.get("redirect_uri") != grant["redirect_uri"] or time.time() - grant["at"] > 60):
            return 400, {}, {"error": "invalid_grant"}
        if grant["challenge"]:
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
                return 400, {}, {"error": "invalid_grant", "error_description": "PKCE verifier"}
        now = int(time.time())
        identity = grant["identity"]
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300, "auth_time": now,
                  **({"nonce": grant["nonce"]} if grant["nonce"] else {}), **identity}
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self._access[access_token] = claims
            self.issued.append(claims)
        return 200, {"Cache-Control": "no-store"}, {"access_token": access_token, "token_type": "Bearer",
                                                    "expires_in": 300, "id_token": id_token,
                                                    "scope": "openid email profile"}

    # -- the server ------------------------------------------------------------------------------------

    def __enter__(self) -> "FakeOIDC":
        idp = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urlsplit(self.path)
                idp.requests.append(f"GET {url.path}")
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._json(200, idp.metadata())
                elif url.path == "/jwks":
                    self._json(200, {"keys": [idp.key.as_dict(private=False)]})
                elif url.path == "/authorize":
                    status, headers, body = idp._authorize(query)
                    self._send(status, headers, body, "text/plain")
                elif url.path == "/userinfo":
                    bearer = (self.headers.get("authorization") or "")[7:]
                    claims = idp._access.get(bearer)
                    if claims is None:
                        self._json(401, {"error": "invalid_token"})
                    else:
                        self._json(200, {k: v for k, v in claims.items()
                                         if k not in ("aud", "iat", "exp", "nonce", "auth_time")})
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self):
                url = urlsplit(self.path)
                idp.requests.append(f"POST {url.path}")
                raw = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                if url.path != "/token":
                    self._json(404, {"error": "not_found"})
                    return
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                status, headers, payload = idp._token(form, self.headers.get("authorization"))
                self._json(status, payload, headers)

            def _json(self, status: int, payload: dict, headers: dict | None = None):
                self._send(status, headers or {}, json.dumps(payload).encode(), "application/json")

            def _send(self, status: int, headers: dict, body: bytes, content_type: str):
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
