"""ASGI middleware that refuses request bodies over a size limit before they are read, and bodies
that arrive too slowly (slow-trickle clients)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BODY_METHODS = {"POST", "PUT", "PATCH"}
MIN_BODY_RATE = 64 * 1024
"""Bytes per second a request body must average: it has ``timeout_s`` plus 1 s per 64 KiB declared."""


class BodyLimitMiddleware:
    """413 for an HTTP request whose Content-Length exceeds ``max_bytes``; 411 for a POST/PUT/PATCH
    without Content-Length (chunked uploads would otherwise be read before they can be measured);
    the body is cut off should a client send more than it declared; and 408 (connection closed)
    when the body stalls for ``timeout_s`` or is not complete within ``timeout_s`` plus 1 s per
    MIN_BODY_RATE bytes declared."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.lower(): value for key, value in scope.get("headers", [])}
        length = headers.get(b"content-length")
        if length is None:
            if scope.get("method") in _BODY_METHODS and b"transfer-encoding" in headers:
                await reply(send, 411, "a Content-Length header is required for uploads")
                return
            await self.app(scope, receive, send)
            return
        try:
            declared = int(length) if len(length) <= 20 else -1
        except ValueError:
            declared = -1
        if declared < 0:
            await reply(send, 400, "invalid Content-Length header")
            return
        if declared > self.max_bytes:
            await reply(send, 413, f"request body of {declared} bytes is larger than the limit of "
                                   f"{self.max_bytes} bytes")
            return
        body = _GuardedBody(receive, send, declared, self.timeout_s)
        try:
            await self.app(scope, body.receive, body.send)
        except Exception:
            if not body.timed_out:
                raise
            # the application failed because its body was cut off: the client already has its 408


@dataclass
class _GuardedBody:
    """The request's receive/send, with the body counted and timed (see BodyLimitMiddleware)."""

    _receive: Receive
    _send: Send
    declared: int
    timeout_s: float
    seen: int = 0
    complete: bool = False
    timed_out: bool = False
    responded: bool = False
    deadline: float = 0.0

    def __post_init__(self) -> None:
        self.deadline = asyncio.get_running_loop().time() + self.timeout_s + self.declared / MIN_BODY_RATE

    async def receive(self) -> Message:
        if self.timed_out:
            return {"type": "http.disconnect"}
        if self.complete:  # only a disconnect can come now; the application may wait for it
            return await self._receive()
        wait = min(self.timeout_s, self.deadline - asyncio.get_running_loop().time())
        try:
            message = await asyncio.wait_for(self._receive(), timeout=max(wait, 0.0))
        except TimeoutError:
            self.timed_out = True
            if not self.responded:
                self.responded = True
                await reply(self._send, 408, "the request body arrived too slowly",
                            [(b"connection", b"close")])
            return {"type": "http.disconnect"}
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
            if self.seen > self.declared:  # more than declared: treat as a broken client
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.timed_out:
            return  # the 408 went out instead
        if message["type"] == "http.response.start":
            self.responded = True
        await self._send(message)


async def reply(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Send a complete JSON response ``{"detail": detail}``."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
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
                await reply(send, 403, "cross-origin request refused")
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
