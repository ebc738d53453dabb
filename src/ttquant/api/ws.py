"""The WebSocket hub behind ``/api/v1/ws``: topics, a snapshot then numbered deltas, heartbeats.

Protocol (JSON text frames):

- Authenticate with ``Authorization: Bearer ...`` on the upgrade request, or with a first message
  ``{"op": "auth", "token": "..."}`` within :data:`AUTH_TIMEOUT_S` (browsers can't set headers on
  a WebSocket, and a token in the URL would end up in access logs). A bad credential closes the
  connection with code 4401.
- ``{"op": "subscribe", "topics": [...]}``: for each topic the server answers
  ``{"type": "snapshot", "topic": t, "seq": n, "data": ...}`` and from then on sends
  ``{"type": "delta", "topic": t, "seq": n + 1, "data": ...}``, ``n + 2``... Each topic has one
  sequence shared by every client, so a client that sees a gap knows it missed something and can
  subscribe again for a fresh snapshot. ``{"op": "unsubscribe", "topics": [...]}`` stops them.
- The server sends ``{"type": "heartbeat", "ts_ns": ...}`` every ``heartbeat_s``; a client that
  hears none for a few periods should reconnect. ``{"op": "ping"}`` is answered with ``pong``.
- A frame carries one message, or several separated by newlines when messages for a client pile
  up (one frame costs the server about as much as one message: batching is what lets it keep up
  with fast topics); clients split each frame on ``\n``.

Every delta carries the account it belongs to: a client whose token is scoped to an account
receives only that account's deltas (and market data and alerts, published for everyone), and
its snapshots are built for that account.

Deltas are published from any thread with :meth:`WsHub.publish`; they are numbered and fanned
out on the event loop, so a snapshot (taken on the loop) and the sequence it reports are always
consistent. Each client has a bounded queue: one that can't keep up is disconnected (code 1013)
rather than slowing the others down.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from fastapi import WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from ttquant.api.auth import Authenticator, Principal, Role
from ttquant.api.node import EVERYONE
from ttquant.monitor.metrics import Metrics

AUTH_TIMEOUT_S: Final = 10.0
CLOSE_UNAUTHORIZED: Final = 4401
CLOSE_TOO_SLOW: Final = 1013
MAX_BATCH: Final = 1000  # messages sent in one frame when a client has a backlog

Snapshot = Callable[[Principal], Any]


@dataclass(slots=True)
class _Topic:
    name: str
    snapshot: Snapshot
    role: Role  # the least role that may subscribe
    unscoped_only: bool  # process-wide data (logs): not for account-scoped tokens
    seq: int = 0


@dataclass(slots=True, eq=False)
class _Client:
    principal: Principal
    queue: asyncio.Queue[bytes | None]
    topics: set[str] = field(default_factory=set)


class WsHub:
    def __init__(
        self,
        auth: Authenticator,
        *,
        heartbeat_s: float = 5.0,
        queue_size: int = 10_000,
        metrics: Metrics | None = None,
    ) -> None:
        self.auth = auth
        self.heartbeat_s = heartbeat_s
        self.queue_size = queue_size
        self._metrics = metrics
        self._topics: dict[str, _Topic] = {}
        self._clients: set[_Client] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Fan out on ``loop`` (the server's); call from that loop's thread."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def add_topic(
        self,
        name: str,
        snapshot: Snapshot,
        role: Role = Role.READ_ONLY,
        *,
        unscoped_only: bool = False,
    ) -> None:
        self._topics[name] = _Topic(name, snapshot, role, unscoped_only)

    @property
    def topics(self) -> list[str]:
        return sorted(self._topics)

    # -- publishing -------------------------------------------------------------------------------
    def publish(self, topic: str, data: Any, account: str | None = None) -> None:
        """Send a delta of ``topic`` to its subscribers; safe from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            self._fan_out(topic, data, account)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._fan_out, topic, data, account)

    def _fan_out(self, name: str, data: Any, account: str | None) -> None:
        topic = self._topics.get(name)
        if topic is None:
            return
        topic.seq += 1
        frame: bytes | None = None
        sent = 0
        for client in list(self._clients):
            if name not in client.topics or not (
                account == EVERYONE or client.principal.sees(account)
            ):
                continue
            if frame is None:
                frame = _encode({"type": "delta", "topic": name, "seq": topic.seq, "data": data})
            if not self._offer(client, frame):
                continue
            sent += 1
        if sent and self._metrics is not None:
            self._metrics.ws_messages.labels(name).inc(sent)

    def _offer(self, client: _Client, frame: bytes) -> bool:
        try:
            client.queue.put_nowait(frame)
            return True
        except asyncio.QueueFull:
            self._drop(client)
            return False

    def _drop(self, client: _Client) -> None:
        """Disconnect a client that fell behind: its sender sees ``None`` and closes."""
        self._clients.discard(client)
        client.topics.clear()
        while not client.queue.empty():
            client.queue.get_nowait()
        client.queue.put_nowait(None)

    # -- one connection -------------------------------------------------------------------------
    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        principal = await self._authenticate(websocket)
        if principal is None:
            return
        client = _Client(principal, asyncio.Queue(self.queue_size))
        self._clients.add(client)
        self._gauge()
        sender = asyncio.create_task(self._send_loop(websocket, client))
        beat = asyncio.create_task(self._heartbeat(client))
        try:
            await self._receive_loop(websocket, client)
        except WebSocketDisconnect:
            pass
        finally:
            self._clients.discard(client)
            self._gauge()
            beat.cancel()
            sender.cancel()
            for task in (beat, sender):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _authenticate(self, websocket: WebSocket) -> Principal | None:
        credential = _bearer(websocket.headers.get("authorization", ""))
        if credential is None:
            try:
                async with asyncio.timeout(AUTH_TIMEOUT_S):
                    message = await _receive(websocket)
            except (TimeoutError, WebSocketDisconnect):
                await _close(websocket, CLOSE_UNAUTHORIZED, "authentication timed out")
                return None
            token = message.get("token") if message.get("op") == "auth" else None
            credential = token if isinstance(token, str) and token else None
        principal = await asyncio.to_thread(self.auth.principal, credential) if credential else None
        if principal is None:
            await _close(websocket, CLOSE_UNAUTHORIZED, "invalid or missing token")
            return None
        welcome = {"type": "welcome", "role": principal.role, "topics": self.topics}
        await websocket.send_text(_encode(welcome).decode())
        return principal

    async def _receive_loop(self, websocket: WebSocket, client: _Client) -> None:
        while True:
            message = await _receive(websocket)
            op = message.get("op")
            topics = message.get("topics")
            names = [t for t in topics if isinstance(t, str)] if isinstance(topics, list) else []
            if op == "subscribe" and names:
                self._subscribe(client, names)
            elif op == "unsubscribe" and names:
                client.topics.difference_update(names)
            elif op == "ping":
                self._offer(client, _encode({"type": "pong", "ts_ns": time.time_ns()}))
            else:
                self._error(client, "expected {op: subscribe|unsubscribe, topics: [...]} or ping")

    def _subscribe(self, client: _Client, names: list[str]) -> None:
        for name in names:
            topic = self._topics.get(name)
            if topic is None:
                self._error(client, f"unknown topic {name!r}; topics: {', '.join(self.topics)}")
                continue
            if not client.principal.role.allows(topic.role):
                self._error(client, f"topic {name!r} needs the {topic.role.value} role")
                continue
            if topic.unscoped_only and client.principal.account is not None:
                self._error(client, f"topic {name!r} is not available to account-scoped tokens")
                continue
            data = topic.snapshot(client.principal)
            client.topics.add(name)
            frame = {"type": "snapshot", "topic": name, "seq": topic.seq, "data": data}
            self._offer(client, _encode(frame))

    def _error(self, client: _Client, message: str) -> None:
        self._offer(client, _encode({"type": "error", "message": message}))

    async def _send_loop(self, websocket: WebSocket, client: _Client) -> None:
        queue = client.queue
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < MAX_BATCH:
                batch.append(queue.get_nowait())
            messages = [m for m in batch if m is not None]
            if messages:
                await websocket.send_text(b"\n".join(messages).decode())
            if len(messages) < len(batch):
                await _close(websocket, CLOSE_TOO_SLOW, "client too slow: messages dropped")
                return

    async def _heartbeat(self, client: _Client) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            self._offer(client, _encode({"type": "heartbeat", "ts_ns": time.time_ns()}))

    def _gauge(self) -> None:
        if self._metrics is not None:
            self._metrics.ws_clients.set(len(self._clients))


_encoder = msgspec.json.Encoder()


def _encode(message: dict[str, Any]) -> bytes:
    return _encoder.encode(message)


async def _receive(websocket: WebSocket) -> dict[str, Any]:
    """The next message as a JSON object; ``{}`` for anything else (text or binary frame)."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    raw = message.get("text") or message.get("bytes") or b""
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _bearer(header: str) -> str | None:
    scheme, _, credential = header.partition(" ")
    return credential.strip() or None if scheme.lower() == "bearer" else None


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.client_state is WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(code=code, reason=reason)
