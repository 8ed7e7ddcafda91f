"""ASGI middleware that refuses request bodies over a size limit before they are read."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BODY_METHODS = {"POST", "PUT", "PATCH"}


class BodyLimitMiddleware:
    """413 for an HTTP request whose Content-Length exceeds ``max_bytes``; 411 for a POST/PUT/PATCH
    without Content-Length (chunked uploads would otherwise be read before they can be measured);
    and the body is cut off (413) should a client send more than it declared."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.lower(): value for key, value in scope.get("headers", [])}
        length = headers.get(b"content-length")
        if length is None:
            if scope.get("method") in _BODY_METHODS and b"transfer-encoding" in headers:
                await _reply(send, 411, "a Content-Length header is required for uploads")
                return
            await self.app(scope, receive, send)
            return
        try:
            declared = int(length)
        except ValueError:
            await _reply(send, 400, "invalid Content-Length header")
            return
        if declared > self.max_bytes:
            await _reply(send, 413, f"request body of {declared} bytes is larger than the limit of "
                                    f"{self.max_bytes} bytes")
            return
        await self.app(scope, _counting(receive, declared), send)


def _counting(receive: Receive, declared: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > declared:  # more than declared: treat as a broken client
                return {"type": "http.disconnect"}
        return message

    return wrapped


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class SameOriginMiddleware:
    """Refuse cross-site use from browsers: an HTTP request that changes something (POST, PUT,
    PATCH, DELETE) or a WebSocket whose ``Origin`` header names another host than ``Host`` gets
    403 (HTTP) or is closed with 1008 before it is accepted. Requests without ``Origin`` (curl,
    scripts, the TestClient) pass: the check protects a browser's user from other web pages
    driving this local server."""

    _UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        checked = scope["type"] == "websocket" or (scope["type"] == "http" and scope.get("method") in self._UNSAFE)
        if checked and not _same_origin(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "cross-origin request refused"})
            else:
                await _reply(send, 403, "cross-origin request refused")
            return
        await self.app(scope, receive, send)


def _same_origin(scope: Scope) -> bool:
    headers = {key.lower(): value for key, value in scope.get("headers", [])}
    origin = headers.get(b"origin")
    if origin is None:
        return True
    host = headers.get(b"host", b"").decode("latin-1").lower()
    text = origin.decode("latin-1").lower()
    return text != "null" and text.split("://", 1)[-1].rstrip("/") == host
