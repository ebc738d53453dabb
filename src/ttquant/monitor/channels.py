"""Alert channels: the log, a webhook (HTTP POST of JSON) and Telegram (the Bot API).

Channels are asynchronous: an alert must never wait on a slow network in the trading kernel.
:class:`AlertDispatcher` sends each alert to every channel whose ``min_level`` it reaches, all at
once, and swallows every failure after logging and counting it (``failures``, ``last_error``),
because an alert path that can crash trading is worse than a lost alert. Subscribe
:meth:`AlertDispatcher.submit` to an :class:`~ttquant.risk.alerts.AlertManager`: it queues the
alert for the dispatcher's event loop from any thread and returns at once.

Telegram: ``POST {base_url}/bot{token}/sendMessage`` with ``chat_id`` and ``text``; the answer
is ``{"ok": true, "result": {...}}`` or ``{"ok": false, "error_code": ..., "description": ...}``.
The base URL is configurable (a self-hosted Bot API server, or a test server). The token is part
of the URL, so no error message or log line here ever contains the URL.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

import httpx

from ttquant.core.errors import TTQuantError
from ttquant.risk.alerts import Alert, AlertLevel

log = logging.getLogger("ttquant.monitor.channels")

_TELEGRAM_TEXT_LIMIT = 4096  # characters per message (Bot API)
_LOG_LEVELS = {
    AlertLevel.INFO: logging.INFO,
    AlertLevel.WARNING: logging.WARNING,
    AlertLevel.CRITICAL: logging.ERROR,
    AlertLevel.EMERGENCY: logging.CRITICAL,
}


class ChannelError(TTQuantError):
    """A channel could not deliver an alert."""


class AlertChannel(Protocol):
    name: str
    min_level: AlertLevel

    async def send(self, alert: Alert) -> None:
        """Deliver ``alert`` or raise (any exception counts as a failed delivery)."""

    async def aclose(self) -> None: ...


class LogChannel:
    """Alerts as log records (critical → ERROR, emergency → CRITICAL)."""

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        min_level: AlertLevel | str = AlertLevel.INFO,
        name: str = "log",
    ) -> None:
        self.name = name
        self.min_level = AlertLevel.parse(min_level)
        self._logger = logger or logging.getLogger("ttquant.alerts.log")

    async def send(self, alert: Alert) -> None:
        self._logger.log(_LOG_LEVELS[alert.level], "%s", alert.text())

    async def aclose(self) -> None:
        return None


class _HttpChannel:
    """Shared by the HTTP channels: one client, a timeout, errors without URLs."""

    def __init__(self, name: str, min_level: AlertLevel | str, timeout: float) -> None:
        self.name = name
        self.min_level = AlertLevel.parse(min_level)
        self._client = httpx.AsyncClient(timeout=timeout)

    async def _post(self, url: str, payload: dict[str, Any]) -> httpx.Response:
        try:
            return await self._client.post(url, json=payload)
        except httpx.TimeoutException:
            raise ChannelError(f"{self.name}: no answer in time") from None
        except httpx.HTTPError as exc:
            raise ChannelError(f"{self.name}: {type(exc).__name__}") from None

    async def aclose(self) -> None:
        await self._client.aclose()


class WebhookChannel(_HttpChannel):
    """POSTs :meth:`Alert.to_dict` as JSON; any 2xx answer is a delivery."""

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
        min_level: AlertLevel | str = AlertLevel.INFO,
        name: str = "webhook",
    ) -> None:
        super().__init__(name, min_level, timeout)
        self._url = url
        self._client.headers.update(headers or {})

    async def send(self, alert: Alert) -> None:
        response = await self._post(self._url, alert.to_dict())
        if not response.is_success:
            raise ChannelError(f"{self.name}: HTTP {response.status_code}")


class TelegramChannel(_HttpChannel):
    """Sends :meth:`Alert.text` to one chat through a bot."""

    def __init__(
        self,
        token: str,
        chat_id: str | int,
        *,
        base_url: str = "https://api.telegram.org",
        timeout: float = 5.0,
        min_level: AlertLevel | str = AlertLevel.WARNING,
        name: str = "telegram",
    ) -> None:
        super().__init__(name, min_level, timeout)
        self._url = f"{base_url.rstrip('/')}/bot{token}/sendMessage"
        self._chat_id = chat_id

    async def send(self, alert: Alert) -> None:
        payload = {
            "chat_id": self._chat_id,
            "text": alert.text()[:_TELEGRAM_TEXT_LIMIT],
            "disable_web_page_preview": True,
        }
        response = await self._post(self._url, payload)
        try:
            answer = response.json()
        except ValueError:
            raise ChannelError(
                f"{self.name}: HTTP {response.status_code} without a Bot API answer"
            ) from None
        if not isinstance(answer, dict):
            raise ChannelError(f"{self.name}: HTTP {response.status_code}: unexpected answer")
        if answer.get("ok") is not True:
            code = answer.get("error_code", response.status_code)
            raise ChannelError(f"{self.name}: error {code}: {answer.get('description', '')}")


class AlertDispatcher:
    """Delivers alerts to channels; failures are logged and counted, never raised."""

    def __init__(self, channels: Sequence[AlertChannel], *, queue_size: int = 1000) -> None:
        self.channels = list(channels)
        self.delivered: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.last_error: dict[str, str] = {}
        self.dropped = 0  # alerts submitted while the queue was full
        self._queue_size = queue_size
        self._queue: asyncio.Queue[Alert] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: asyncio.Task[None] | None = None

    async def dispatch(self, alert: Alert) -> dict[str, bool]:
        """Send ``alert`` to every channel it is loud enough for; channel name → delivered."""
        targets = [c for c in self.channels if alert.level >= c.min_level]
        results = await asyncio.gather(*(c.send(alert) for c in targets), return_exceptions=True)
        outcome: dict[str, bool] = {}
        for channel, result in zip(targets, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                self.failures[channel.name] += 1
                self.last_error[channel.name] = str(result) or type(result).__name__
                log.warning(
                    "alert %s not delivered to %s: %s",
                    alert.key,
                    channel.name,
                    self.last_error[channel.name],
                )
                outcome[channel.name] = False
            else:
                self.delivered[channel.name] += 1
                outcome[channel.name] = True
        return outcome

    # -- background delivery -------------------------------------------------------------------
    async def start(self) -> None:
        """Deliver submitted alerts from the running event loop until :meth:`stop`."""
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue(self._queue_size)
        self._worker = asyncio.create_task(self._drain(), name="alert-dispatcher")

    def submit(self, alert: Alert) -> None:
        """Queue ``alert`` for delivery (any thread; returns at once; an AlertManager sink)."""
        loop, queue = self._loop, self._queue
        if loop is None or queue is None:
            raise RuntimeError("AlertDispatcher.submit before start()")
        loop.call_soon_threadsafe(self._enqueue, queue, alert)

    def _enqueue(self, queue: asyncio.Queue[Alert], alert: Alert) -> None:
        try:
            queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("alert queue full: %s dropped", alert.key)

    async def _drain(self) -> None:
        assert self._queue is not None
        while True:
            alert = await self._queue.get()
            try:
                await self.dispatch(alert)
            finally:
                self._queue.task_done()

    async def stop(self) -> None:
        """Deliver what is queued, then stop and close the channels."""
        if self._queue is not None:
            await asyncio.sleep(0)  # let submissions made just before run their enqueue
            await self._queue.join()
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._worker = self._queue = self._loop = None
        for channel in self.channels:
            await channel.aclose()
