"""Alert channels against real HTTP servers on loopback: a webhook receiver and a server that
speaks the Telegram Bot API's ``sendMessage`` format. Failures (error answers, broken servers,
timeouts, nothing listening) are counted and logged, and never raised to the caller."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ttquant.monitor.channels import (
    AlertDispatcher,
    LogChannel,
    TelegramChannel,
    WebhookChannel,
)
from ttquant.risk.alerts import Alert, AlertLevel, AlertManager, AlertPolicy

TOKEN = "123456:ABC-secret-token"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"received": true}'
    content_type: str = "application/json"
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class LoopbackServer:
    """A real HTTP server on 127.0.0.1; ``reply`` says how it answers the next requests."""

    reply: Reply = field(default_factory=Reply)
    received: list[Received] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    state = LoopbackServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.received.append(
                Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw)
                )
            )
            reply = state.reply
            time.sleep(reply.delay)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def make_alert(level: AlertLevel = AlertLevel.CRITICAL, key: str = "risk.halted") -> Alert:
    alerts = AlertManager(clock=lambda: 1_704_067_200_000_000_000)
    alert = alerts.alert(key, level, "daily loss limit reached", source="risk")
    assert alert is not None
    return alert


def dispatch(dispatcher: AlertDispatcher, alert: Alert) -> dict[str, bool]:
    async def go() -> dict[str, bool]:
        try:
            return await dispatcher.dispatch(alert)
        finally:
            for channel in dispatcher.channels:
                await channel.aclose()

    return asyncio.run(go())


def telegram_ok(message_id: int = 7) -> bytes:
    result = {"message_id": message_id, "chat": {"id": -100, "type": "group"}, "date": 1}
    return json.dumps({"ok": True, "result": result}).encode()


# -- webhook ----------------------------------------------------------------------------------
def test_webhook_posts_the_alert_as_json(server: LoopbackServer) -> None:
    channel = WebhookChannel(f"{server.url}/hooks/ttq", headers={"X-Api-Key": "k1"})
    dispatcher = AlertDispatcher([channel])
    alert = make_alert()
    assert dispatch(dispatcher, alert) == {"webhook": True}
    [request] = server.received
    assert request.path == "/hooks/ttq"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-api-key"] == "k1"
    assert request.body == alert.to_dict()
    assert dispatcher.delivered["webhook"] == 1 and not dispatcher.failures


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(status=500, body=b"boom", content_type="text/plain"), "HTTP 500"),
        (Reply(status=404, body=b"{}"), "HTTP 404"),
        (Reply(delay=1.0), "no answer in time"),
    ],
)
def test_webhook_failures_are_counted_not_raised(
    server: LoopbackServer, reply: Reply, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    server.reply = reply
    failing = WebhookChannel(f"{server.url}/hook", timeout=0.3)
    log_channel = LogChannel(logging.getLogger("test.alerts"))
    dispatcher = AlertDispatcher([failing, log_channel])
    with caplog.at_level(logging.INFO):
        outcome = dispatch(dispatcher, make_alert())
    assert outcome == {"webhook": False, "log": True}  # the other channel still delivered
    assert dispatcher.failures["webhook"] == 1
    assert error in dispatcher.last_error["webhook"]
    assert "not delivered to webhook" in caplog.text
    assert "[CRITICAL] risk.halted: daily loss limit reached" in caplog.text


def test_webhook_with_nothing_listening_fails_quietly() -> None:
    with socket.socket() as s:  # a port that was free a moment ago and has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dispatcher = AlertDispatcher([WebhookChannel(f"http://127.0.0.1:{port}/x", timeout=1.0)])
    assert dispatch(dispatcher, make_alert()) == {"webhook": False}
    assert dispatcher.last_error["webhook"] == "webhook: ConnectError"


# -- Telegram ---------------------------------------------------------------------------------
def test_telegram_send_message(server: LoopbackServer) -> None:
    server.reply = Reply(body=telegram_ok())
    channel = TelegramChannel(TOKEN, -100123, base_url=server.url)
    dispatcher = AlertDispatcher([channel])
    assert dispatch(dispatcher, make_alert()) == {"telegram": True}
    [request] = server.received
    assert request.path == f"/bot{TOKEN}/sendMessage"
    assert request.body["chat_id"] == -100123
    assert request.body["text"] == "[CRITICAL] risk.halted: daily loss limit reached"


def test_telegram_error_answer_is_a_failure_without_the_token(server: LoopbackServer) -> None:
    server.reply = Reply(
        status=400,
        body=json.dumps(
            {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
        ).encode(),
    )
    dispatcher = AlertDispatcher([TelegramChannel(TOKEN, 1, base_url=server.url)])
    assert dispatch(dispatcher, make_alert()) == {"telegram": False}
    error = dispatcher.last_error["telegram"]
    assert error == "telegram: error 400: Bad Request: chat not found"
    assert TOKEN not in error


def test_telegram_ok_false_with_http_200_is_still_a_failure(server: LoopbackServer) -> None:
    server.reply = Reply(
        body=b'{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5",'
        b'"parameters":{"retry_after":5}}'
    )
    dispatcher = AlertDispatcher([TelegramChannel(TOKEN, 1, base_url=server.url)])
    assert dispatch(dispatcher, make_alert()) == {"telegram": False}
    assert "429" in dispatcher.last_error["telegram"]


def test_telegram_gateway_page_instead_of_json(server: LoopbackServer) -> None:
    server.reply = Reply(status=502, body=b"<html>Bad Gateway</html>", content_type="text/html")
    dispatcher = AlertDispatcher([TelegramChannel(TOKEN, 1, base_url=server.url)])
    assert dispatch(dispatcher, make_alert()) == {"telegram": False}
    assert dispatcher.last_error["telegram"] == "telegram: HTTP 502 without a Bot API answer"


def test_channels_only_take_alerts_at_their_level(server: LoopbackServer) -> None:
    server.reply = Reply(body=telegram_ok())
    telegram = TelegramChannel(TOKEN, 1, base_url=server.url, min_level="critical")
    dispatcher = AlertDispatcher([telegram])
    assert dispatch(dispatcher, make_alert(AlertLevel.WARNING)) == {}
    assert server.received == []


# -- from the kernel: the manager feeds the dispatcher ----------------------------------------
def test_manager_to_channels_in_the_background(server: LoopbackServer) -> None:
    """The kernel raises alerts synchronously from its own thread; the dispatcher's event loop
    delivers them. Suppressed repeats never reach the network; an escalation does."""
    server.reply = Reply(body=telegram_ok())
    now = [1_704_067_200_000_000_000]
    alerts = AlertManager(AlertPolicy(escalate_after=3), clock=lambda: now[0])
    telegram = TelegramChannel(TOKEN, 1, base_url=server.url, min_level="warning")
    webhook = WebhookChannel(f"{server.url}/hook")
    dispatcher = AlertDispatcher([telegram, webhook])

    def kernel() -> None:  # another thread, as a trading node's kernel would be
        for _ in range(4):
            alerts.alert("venue.disconnected", "warning", "websocket closed")
            now[0] += 1_000_000_000

    async def node() -> None:
        await dispatcher.start()
        alerts.subscribe(dispatcher.submit)
        await asyncio.to_thread(kernel)
        await dispatcher.stop()

    asyncio.run(node())
    # 1st delivered (warning); 2nd suppressed; 3rd escalates to critical; 4th suppressed
    assert alerts.suppressed == 2
    texts = [r.body["text"] for r in server.received if r.path.endswith("/sendMessage")]
    hooks = [r.body for r in server.received if r.path == "/hook"]
    assert texts == [
        "[WARNING] venue.disconnected: websocket closed",
        "[CRITICAL] venue.disconnected: websocket closed "
        "(escalated from warning: 3 times) (+1 repeats held back)",
    ]
    assert [h["level"] for h in hooks] == ["warning", "critical"]
    assert dispatcher.delivered == {"telegram": 2, "webhook": 2}
