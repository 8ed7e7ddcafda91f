"""ASGI middleware that lets the server face a network: a Host allowlist (DNS rebinding), a bearer
token on every API and live request, and the standard security headers on every response.

Token transport: ``Authorization: Bearer <token>`` on HTTP requests and on WebSocket handshakes
from clients that can set headers; browsers, whose WebSocket API cannot, offer the subprotocols
``talkingface`` and ``bearer.<token>`` (the server answers with ``talkingface``).
"""

from __future__ import annotations

import hmac

from talkingface.server.limits import ASGIApp, Receive, Scope, Send, reply

PROTECTED_PREFIX = "/api/"
SUBPROTOCOL = "talkingface"
TOKEN_SUBPROTOCOL_PREFIX = "bearer."
CLOSE_POLICY = 1008

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
            "media-src 'self' blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
"""Content-Security-Policy of the web page and everything else the server sends (no inline script,
nothing from other origins, never framed)."""
DOCS_CSP = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
"""The interactive API docs (/docs, /redoc) load their own scripts: only framing is forbidden there."""
DOCS_PATHS = ("/docs", "/redoc")


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {key.lower(): value for key, value in scope.get("headers", [])}


def host_name(value: str) -> str:
    """The host part of a Host header or an Origin's authority: no port, no brackets, lowercase."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8000
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


async def _refuse(scope: Scope, send: Send, status: int, detail: str,
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": CLOSE_POLICY, "reason": detail[:120]})
    else:
        await reply(send, status, detail, headers)


class HostAllowlistMiddleware:
    """Close 1008 (WebSocket), or 400 (HTTP) unless the ``Host`` header names an allowed host, or 403
    when an ``Origin`` header is present and its host is not allowed. A page from another site that
    re-points its own DNS name at this machine (DNS rebinding) sends its own name and is refused."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = frozenset(name.lower() for name in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            refusal = self._refusal(_headers(scope))
            if refusal is not None:
                await _refuse(scope, send, *refusal)
                return
        await self.app(scope, receive, send)

    def _refusal(self, headers: dict[bytes, bytes]) -> tuple[int, str] | None:
        """(status, reason) to refuse the request with, or None."""
        host = headers.get(b"host")
        if host is None:
            return 400, "a Host header is required"
        if host_name(host.decode("latin-1")) not in self.allowed:
            return 400, "this host name is not served here (see --allowed-host)"
        origin = headers.get(b"origin")
        if origin is not None and origin != b"null":
            authority = origin.decode("latin-1").split("://", 1)[-1].split("/", 1)[0]
            if host_name(authority) not in self.allowed:
                return 403, "requests from pages of this origin are refused (see --allowed-host)"
        return None


class TokenMiddleware:
    """401 (HTTP) or close 1008 before the handshake completes (WebSocket) for a request to /api/...
    without the bearer token. The page, its static files and the API docs stay public: they hold
    no data, and the page asks for the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("path", "").startswith(PROTECTED_PREFIX):
            if not any(hmac.compare_digest(given, self.token) for given in _offered_tokens(scope)):
                await _refuse(scope, send, 401, "missing or wrong bearer token",
                              [(b"www-authenticate", b'Bearer realm="talkingface"')])
                return
        await self.app(scope, receive, send)


def _offered_tokens(scope: Scope) -> list[bytes]:
    """Tokens a request offers: the Authorization header's bearer token, and for a WebSocket the
    ``bearer.<token>`` subprotocol."""
    offered = []
    authorization = _headers(scope).get(b"authorization", b"")
    scheme, _, value = authorization.partition(b" ")
    if scheme.lower() == b"bearer" and value.strip():
        offered.append(value.strip())
    if scope["type"] == "websocket":
        offered += [p[len(TOKEN_SUBPROTOCOL_PREFIX):].encode("latin-1", "replace")
                    for p in scope.get("subprotocols", []) if p.startswith(TOKEN_SUBPROTOCOL_PREFIX)]
    return offered


def chosen_subprotocol(scope: Scope) -> str | None:
    """``talkingface`` when the client offered it (browsers that send the token as a subprotocol
    must get one of their subprotocols back), else None."""
    return SUBPROTOCOL if SUBPROTOCOL in scope.get("subprotocols", []) else None


class SecurityHeadersMiddleware:
    """Adds nosniff, no-referrer, frame denial, a Content-Security-Policy and (for /api) no-store
    to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                 (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin"),
                 (b"content-security-policy", (DOCS_CSP if path.startswith(DOCS_PATHS) else PAGE_CSP).encode())]
        if path.startswith(PROTECTED_PREFIX):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                names = {key.lower() for key, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *(h for h in extra if h[0] not in names)]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
