"""The local test venue: a loopback exchange that speaks Binance's or OKX's wire formats.

It replays a real recorded feed, keeps the venue's own order book from it, accepts signed
orders (refusing bad keys and signatures with the exchange's own error codes), matches them
with the simulated venue against the replayed prices, and pushes order updates in the
exchange's message shapes. It misbehaves on command, so adapters can be tested against the
failures that hurt in production: dropped connections, a stalled feed (connection open, nothing
flowing, pings unanswered), a sequence gap, a venue restart, and order requests whose answers
are late, lost, or never processed.

Commands come through the Python API (``await venue.stall(2.0)``) or over HTTP
(``POST /_control/stall?seconds=2``) for a venue running in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from ttquant.core.errors import ConfigError
from ttquant.testvenue.exchange import Exchange
from ttquant.testvenue.feeds import FeedRecord, Recording

log = logging.getLogger(__name__)

ORDER_FAULTS = ("delay", "drop", "lose")


class Connection:
    """One client WebSocket: what it subscribed to and a queue its writer drains."""

    __slots__ = ("authed", "combined", "kind", "queue", "request", "subscriptions", "ws")

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, kind: str) -> None:
        self.ws = ws
        self.request = request
        self.kind = kind  # "market" or "user"
        self.subscriptions: dict[str, str] = {}  # channel -> the name the client used
        self.combined = True  # Binance: frames wrapped as {"stream", "data"}
        self.authed = False  # OKX private: logged in
        self.queue: asyncio.Queue[bytes | str | None] = asyncio.Queue()

    def push(self, message: bytes | str) -> None:
        self.queue.put_nowait(message)

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        self.queue.put_nowait(None)


class Dialect(Protocol):
    """What an exchange's wire format contributes to the venue."""

    exchange: Exchange

    def routes(self, venue: TestVenue) -> list[web.RouteDef]: ...
    def middlewares(self) -> list[Any]: ...
    def on_record(self, record: FeedRecord) -> None: ...
    def frame(self, conn: Connection, record: FeedRecord) -> bytes | str | None: ...
    def is_book_record(self, record: FeedRecord) -> bool: ...
    def on_loop(self) -> None: ...


class TestVenue:
    """Serve ``dialect`` on ``host:port`` while replaying ``recording`` at ``speed``x real time."""

    __test__ = False  # not a pytest test class despite its name

    def __init__(
        self,
        dialect: Dialect,
        recording: Recording,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        loop_feed: bool = False,
    ) -> None:
        if not recording.records:
            raise ConfigError("the test venue needs a recording with at least one message")
        if speed <= 0:
            raise ConfigError(f"replay speed must be positive, got {speed}")
        self.dialect = dialect
        self.exchange = dialect.exchange
        self.recording = recording
        self.host = host
        self.port = port
        self.speed = speed
        self.loop_feed = loop_feed
        self.connections: set[Connection] = set()
        self.replayed = 0  # records processed so far
        self.finished = asyncio.Event()  # the recording ran out (without loop_feed)
        self._runner: web.AppRunner | None = None
        self._replay_task: asyncio.Task[None] | None = None
        self._running = asyncio.Event()
        self._running.set()
        self._stalled_until = 0.0
        self._gap_budget = 0
        self._time_offset = 0
        self.order_fault: str | None = None
        self.order_fault_delay = 2.0
        self.gaps_sent = 0  # book messages withheld by gap(), for tests

    # -- life cycle -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def start(self) -> None:
        await self._serve()
        self._replay_task = asyncio.create_task(
            self._replay(self._preroll()), name="testvenue-replay"
        )

    async def stop(self) -> None:
        if self._replay_task is not None:
            self._replay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replay_task
            self._replay_task = None
        await self._close_server()

    async def __aenter__(self) -> TestVenue:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self) -> None:
        app = web.Application(middlewares=self.dialect.middlewares())
        app.add_routes(self.dialect.routes(self))
        app.add_routes([web.post("/_control/{command}", self._control)])
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def _close_server(self) -> None:
        for conn in list(self.connections):
            conn.abort()
        self.connections.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- faults ---------------------------------------------------------------------------------
    async def drop_connections(self, kind: str | None = None) -> int:
        """Cut WebSockets abruptly (no close frame), like a network failure."""
        dropped = [c for c in self.connections if kind is None or c.kind == kind]
        for conn in dropped:
            conn.abort()
        return len(dropped)

    async def stall(self, seconds: float) -> None:
        """Keep connections open but send nothing (market data, order pushes, pongs, book
        snapshots) for ``seconds``: the silent death of a WebSocket."""
        self._stalled_until = time.monotonic() + seconds

    @property
    def stalled(self) -> bool:
        return time.monotonic() < self._stalled_until

    async def gap(self, count: int = 1) -> None:
        """Withhold the next ``count`` book messages from every subscriber (a sequence gap)."""
        self._gap_budget += count

    async def restart(self, down_for: float = 0.5) -> None:
        """Go down (every connection lost, requests refused) and come back on the same port.

        Orders, balances and the replay carry on meanwhile, as at an exchange whose gateways
        restart: fills keep happening while clients cannot hear about them.
        """
        await self._close_server()
        await asyncio.sleep(down_for)
        await self._serve()

    def set_order_fault(self, mode: str | None, delay: float = 2.0) -> None:
        """Misbehave on the next new order: ``delay`` answers late (after executing it),
        ``drop`` executes it and cuts the connection, ``lose`` cuts it without executing."""
        if mode is not None and mode not in ORDER_FAULTS:
            raise ConfigError(f"order fault must be one of {', '.join(ORDER_FAULTS)}, got {mode!r}")
        self.order_fault = mode
        self.order_fault_delay = delay

    async def run_order(
        self, request: web.Request, execute: Callable[[], web.StreamResponse]
    ) -> web.StreamResponse:
        """Execute a new-order request, applying a pending order fault (dialects call this)."""
        fault, self.order_fault = self.order_fault, None
        if fault == "lose":
            _abort(request)
            return web.Response(status=500)
        response = execute()
        if fault == "delay":
            await asyncio.sleep(self.order_fault_delay)
        elif fault == "drop":
            _abort(request)
        return response

    def pause(self) -> None:
        """Hold the replay (the venue's book and prices stop moving)."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    async def _control(self, request: web.Request) -> web.Response:
        command = request.match_info["command"]
        q = request.query
        if command == "drop":
            count = await self.drop_connections(q.get("kind"))
            return web.json_response({"dropped": count})
        if command == "stall":
            await self.stall(float(q.get("seconds", "5")))
        elif command == "gap":
            await self.gap(int(q.get("count", "1")))
        elif command == "restart":
            asyncio.get_running_loop().create_task(self.restart(float(q.get("down_for", "0.5"))))
        elif command == "order_fault":
            self.set_order_fault(q.get("mode"), float(q.get("delay", "2")))
        elif command == "pause":
            self.pause()
        elif command == "resume":
            self.resume()
        else:
            return web.json_response({"error": f"unknown command {command}"}, status=404)
        return web.json_response({"ok": True})

    # -- WebSockets -----------------------------------------------------------------------------
    async def serve_ws(
        self,
        request: web.Request,
        kind: str,
        on_text: Callable[[Connection, str], Awaitable[None]],
        setup: Callable[[Connection], None] | None = None,
    ) -> web.WebSocketResponse:
        """Run one client WebSocket: ``on_text`` handles what it sends; pushes go via its queue."""
        ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=2**22)
        await ws.prepare(request)
        conn = Connection(ws, request, kind)
        if setup is not None:
            setup(conn)
        self.connections.add(conn)
        writer = asyncio.create_task(self._write(conn))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    if msg.data == "ping":  # OKX's application heartbeat
                        if not self.stalled:
                            conn.push("pong")
                        continue
                    await on_text(conn, msg.data)
                elif msg.type is WSMsgType.PING:
                    if not self.stalled:
                        await ws.pong(msg.data)
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.connections.discard(conn)
            conn.queue.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
                await writer
        return ws

    async def _write(self, conn: Connection) -> None:
        ws = conn.ws
        while True:
            message = await conn.queue.get()
            if message is None or ws.closed:
                return
            try:
                # exchanges send JSON as text frames
                await ws.send_str(message if isinstance(message, str) else message.decode())
            except (ConnectionResetError, RuntimeError):
                return

    def push_user(self, message: bytes | str) -> None:
        """Send to every logged-in user (private) stream; a stall loses the message."""
        if self.stalled:
            return
        for conn in self.connections:
            if conn.kind == "user" and conn.authed:
                conn.push(message)

    # -- replay ---------------------------------------------------------------------------------
    def _preroll(self) -> int:
        """Apply records until every instrument has a quote (no order meets an unpriced venue);
        the index to replay from."""
        records = self.recording.records
        quotes = self.exchange.cache.quotes
        wanted = {inst.id for inst in self.exchange.instruments.values()}
        index = 0
        while index < len(records) and not wanted <= quotes.keys():
            self.exchange.now_ns = records[index].ts_ns
            self.dialect.on_record(records[index])
            index += 1
        return min(index, len(records) - 1)

    async def _replay(self, start: int) -> None:
        records = self.recording.records
        dialect = self.dialect
        exchange = self.exchange
        index = start
        while True:
            t0_rec = records[index].ts_ns if index < len(records) else 0
            t0_wall = time.monotonic()
            paused_total = 0.0
            for i in range(index, len(records)):
                record = records[i]
                if not self._running.is_set():
                    began = time.monotonic()
                    await self._running.wait()
                    paused_total += time.monotonic() - began
                due = t0_wall + paused_total + (record.ts_ns - t0_rec) / 1e9 / self.speed
                delay = due - time.monotonic()
                if delay > 0.001:
                    await asyncio.sleep(delay)
                elif i % 64 == 0:
                    await asyncio.sleep(0)
                exchange.now_ns = record.ts_ns + self._time_offset
                dialect.on_record(record)
                self.replayed += 1
                self._fan_out(record)
            if not self.loop_feed:
                self.finished.set()
                return
            self._time_offset += self.recording.span_ns + 1_000_000
            dialect.on_loop()
            index = 0

    def _fan_out(self, record: FeedRecord) -> None:
        if self.stalled:
            return
        subscribers = [
            c for c in self.connections if c.kind == "market" and record.channel in c.subscriptions
        ]
        if not subscribers:
            return
        if self._gap_budget and self.dialect.is_book_record(record):
            self._gap_budget -= 1
            self.gaps_sent += 1
            return
        frame = self.dialect.frame
        for conn in subscribers:
            message = frame(conn, record)
            if message is not None:
                conn.push(message)


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
