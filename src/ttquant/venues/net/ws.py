"""A WebSocket that stays connected, notices when it has gone quiet, and says so.

Venues drop connections (maintenance, 24 h limits, network), and worse, some connections stay
open but stop delivering: the classic silent death. ``WsFeed`` therefore

* reconnects on any failure, after an exponential backoff with jitter;
* sends heartbeats: protocol pings (answered by any server) and, where the venue wants one, an
  application-level ping text;
* treats a connection that delivered no data for ``stale_after`` seconds as dead: it is marked
  stale (readable by the risk engine) and replaced. Application pongs prove the socket alive,
  not the data flowing, so they do not count; a quiet private stream sets ``stale_after=None``
  and relies on protocol pings, which fail a dead socket within ``ping_interval`` seconds;
* calls ``on_open`` after every (re)connect, where the adapter logs in, resubscribes and resyncs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ttquant.core.errors import VenueError
from ttquant.venues.net.backoff import Backoff

log = logging.getLogger(__name__)

MessageHandler = Callable[[bytes], None]
UrlSource = str | Callable[[], Awaitable[str]]
_CONNECT_ERRORS = (
    OSError,
    ConnectionClosed,
    InvalidHandshake,
    InvalidURI,
    TimeoutError,
    VenueError,
)


class FeedNotConnectedError(VenueError):
    """A message was to be sent on a feed that is not connected right now."""


class WsFeed:
    """One logical stream (market data or user data) over a self-healing WebSocket."""

    def __init__(
        self,
        name: str,
        url: UrlSource,
        on_message: MessageHandler,
        *,
        on_open: Callable[[], Awaitable[None]] | None = None,
        on_stale: Callable[[str, bool], None] | None = None,
        stale_after: float | None = 30.0,
        ping_interval: float = 20.0,
        app_ping: bytes | None = None,
        app_pong: bytes | None = None,
        backoff: Backoff | None = None,
        open_timeout: float = 10.0,
    ) -> None:
        self.name = name
        self._url = url
        self._on_message = on_message
        self._on_open = on_open
        self._on_stale = on_stale
        self.stale_after = stale_after
        self.ping_interval = ping_interval
        self._app_ping = app_ping
        self._app_pong = app_pong
        self.backoff = backoff or Backoff()
        self.open_timeout = open_timeout
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stale = True
        self._last_rx = 0.0
        self.connects = 0  # successful opens, for tests and monitoring
        self.opened = asyncio.Event()  # set while connected and past on_open

    # -- state ----------------------------------------------------------------------------------
    @property
    def stale(self) -> bool:
        """True while disconnected or when no data arrived for ``stale_after`` seconds."""
        limit = self.stale_after
        if not self._stale and limit is not None and time.monotonic() - self._last_rx > limit:
            self._set_stale(True)
        return self._stale

    def _set_stale(self, stale: bool) -> None:
        if stale != self._stale:
            self._stale = stale
            if self._on_stale is not None:
                self._on_stale(self.name, stale)

    # -- life cycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._stopping = False
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"ws:{self.name}")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.opened.clear()
        self._set_stale(True)

    async def wait_open(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.opened.wait(), timeout)
        except TimeoutError:
            raise VenueError(f"{self.name}: not connected after {timeout:g} s") from None

    async def send(self, data: str | bytes) -> None:
        ws = self._ws
        if ws is None:
            raise FeedNotConnectedError(f"{self.name}: not connected")
        try:
            await ws.send(data)
        except ConnectionClosed as exc:
            raise FeedNotConnectedError(f"{self.name}: connection closed while sending") from exc

    def reconnect(self) -> None:
        """Drop the current connection; the run loop opens a new one (resubscribe, resync)."""
        ws = self._ws
        if ws is not None:
            asyncio.get_running_loop().create_task(ws.close())

    # -- internals ------------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            healthy = False
            try:
                url = self._url if isinstance(self._url, str) else await self._url()
                async with connect(
                    url,
                    ping_interval=self.ping_interval,
                    ping_timeout=self.ping_interval,
                    open_timeout=self.open_timeout,
                    close_timeout=1.0,
                    max_size=2**24,
                ) as ws:
                    self._ws = ws
                    self._last_rx = time.monotonic()
                    self.connects += 1
                    if self._on_open is not None:
                        await self._on_open()
                    self.opened.set()
                    self._last_rx = time.monotonic()
                    self._set_stale(False)
                    watchdog = asyncio.create_task(self._watch(ws))
                    try:
                        healthy = await self._read(ws)
                    finally:
                        watchdog.cancel()
            except asyncio.CancelledError:
                raise
            except _CONNECT_ERRORS as exc:
                log.info("%s: connection lost: %s", self.name, exc)
            finally:
                self._ws = None
                self.opened.clear()
                self._set_stale(True)
            if self._stopping:
                break
            if healthy:
                self.backoff.reset()
            await asyncio.sleep(self.backoff.next_delay())

    async def _read(self, ws: ClientConnection) -> bool:
        """Deliver messages until the connection ends; True when at least one arrived."""
        got_any = False
        pong = self._app_pong
        while True:
            try:
                message = await ws.recv(decode=False)
            except ConnectionClosed:
                return got_any
            if pong is not None and message == pong:
                continue
            self._last_rx = time.monotonic()
            got_any = True
            self._set_stale(False)
            try:
                self._on_message(message)
            except Exception:  # a bad message must not take the feed down: log it loudly
                log.exception("%s: failed to handle message %.200r", self.name, message)

    async def _watch(self, ws: ClientConnection) -> None:
        """Send application pings when idle; replace a connection that stopped delivering."""
        limit = self.stale_after
        tick = max(min(limit or self.ping_interval, self.ping_interval) / 4.0, 0.01)
        while True:
            await asyncio.sleep(tick)
            idle = time.monotonic() - self._last_rx
            if limit is not None and idle > limit:
                log.warning("%s: no message for %.1f s: reconnecting", self.name, idle)
                self._set_stale(True)
                await ws.close()
                return
            if self._app_ping is not None and idle > self.ping_interval:
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(self._app_ping)
