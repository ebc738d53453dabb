"""The REPL behind ``ttq console``: prompt, completion, the status line and its thread.

Imported only when the console starts (prompt_toolkit and websockets cost import time that the
other ``ttq`` commands should not pay).
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import msgspec
import typer
import typer.main
from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import FileHistory
from prompt_toolkit.shortcuts import confirm
from prompt_toolkit.styles import Style
from rich.markup import escape
from typer.exceptions import TyperException
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from ttquant.cli.api_client import ApiClient, Endpoint
from ttquant.cli.trade import TradeContext, trade_app
from ttquant.core.errors import ApiClientError

LOCAL_COMMANDS: Final = ("help", "exit", "quit")
OPEN_STATUSES: Final = frozenset(
    {"INITIALIZED", "SUBMITTED", "ACCEPTED", "TRIGGERED", "PENDING_UPDATE", "PENDING_CANCEL"}
    | {"PARTIALLY_FILLED"}
)
_POLL_S: Final = 2.0
_LIVE_TOPICS: Final = ["pnl", "orders", "positions"]


def run_console(url: str | None, token: str | None, history: Path | None) -> None:
    from ttquant.cli.main import _stdout_console

    endpoint = Endpoint.resolve(url, token)
    client = ApiClient(endpoint)
    try:
        me = client.get("/auth/me")  # a bad token or URL fails here, once, clearly
        status = LiveStatus(endpoint)
        status.start()
        try:
            Repl(client, status, history or _default_history(), _stdout_console()).run(me)
        finally:
            status.stop()
    finally:
        client.close()


def _default_history() -> Path:
    from ttquant.store.location import data_home

    return data_home() / "console_history"


class LiveStatus:
    """What the status line shows, kept current from a thread of its own."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.connected = False
        self.node: dict[str, Any] | None = None
        self.kill_switch: bool | None = None
        self.equity: float | None = None
        self.day_pnl = 0.0
        self.orders: dict[str, dict[str, Any]] = {}
        self.positions: dict[tuple[str, str, str], float] = {}
        self.instruments: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="console-status", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    # -- what the prompt reads --------------------------------------------------------------------
    def open_order_ids(self) -> list[str]:
        with self._lock:
            return sorted(i for i, o in self.orders.items() if o["status"] in OPEN_STATUSES)

    def known_instruments(self) -> list[str]:
        with self._lock:
            return sorted(self.instruments)

    def toolbar(self) -> StyleAndTextTuples:
        with self._lock:
            node = self.node
            mode = node["mode"].upper() if node else "NO NODE"
            state = node["state"] if node else "—"
            open_orders = sum(1 for o in self.orders.values() if o["status"] in OPEN_STATUSES)
            held = sum(1 for q in self.positions.values() if q != 0)
            parts: StyleAndTextTuples = [
                ("class:mode.live" if mode == "LIVE" else "class:mode", f" {mode} "),
                ("", f" node {state} │ equity "),
                ("", "—" if self.equity is None else f"{self.equity:,.2f}"),
                ("", f" │ day {self.day_pnl:+,.2f} │ open orders {open_orders}"),
                ("", f" │ positions {held} │ kill switch "),
                (
                    "class:alarm" if self.kill_switch else "",
                    {None: "—", True: "ON", False: "off"}[self.kill_switch],
                ),
                ("", " │ "),
                ("", "live" if self.connected else "connection lost, retrying"),
            ]
        return parts

    # -- the thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.5
        with ApiClient(self.endpoint, timeout=5.0) as client:
            while not self._stop.is_set():
                try:
                    self._poll(client)
                    self._follow(client)
                    backoff = 0.5
                except (OSError, ApiClientError, WebSocketException, msgspec.DecodeError):
                    pass  # shown as "connection lost"; try again
                self.connected = False
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _poll(self, client: ApiClient) -> None:
        try:
            node = client.get("/node")
            risk = client.get("/risk")
            instruments = {i for s in client.get("/strategies") for i in s["instruments"]}
        except ApiClientError:
            node, risk, instruments = None, None, set()
        with self._lock:
            self.node = node
            self.kill_switch = None if risk is None else bool(risk["kill_switch"])
            self.instruments |= instruments

    def _follow(self, client: ApiClient) -> None:
        """Apply the WebSocket's snapshots and deltas; poll the node between messages."""
        with connect(self.endpoint.ws_url, open_timeout=5, close_timeout=1) as ws:
            ws.send(msgspec.json.encode({"op": "auth", "token": self.endpoint.token}).decode())
            welcome = msgspec.json.decode(ws.recv(timeout=5))
            topics = [t for t in _LIVE_TOPICS if t in welcome.get("topics", [])]
            if topics:
                ws.send(msgspec.json.encode({"op": "subscribe", "topics": topics}).decode())
            self.connected = True
            next_poll = time.monotonic() + _POLL_S
            while not self._stop.is_set():
                try:
                    frame = ws.recv(timeout=0.5)
                except TimeoutError:
                    frame = ""
                for line in str(frame).splitlines():
                    self._apply(msgspec.json.decode(line))
                if time.monotonic() >= next_poll:
                    self._poll(client)
                    next_poll = time.monotonic() + _POLL_S

    def _apply(self, message: dict[str, Any]) -> None:
        kind, topic, data = message.get("type"), message.get("topic"), message.get("data")
        if kind not in ("snapshot", "delta") or data is None:
            return
        rows: list[dict[str, Any]] = data if isinstance(data, list) else [data]
        with self._lock:
            if topic == "pnl" and isinstance(data, dict):
                self.equity = data["equity"]
                self.day_pnl = sum(
                    r["realized"] + r["unrealized"] - r["commissions"]
                    for r in data["rows"]
                    if r["period"] == "day"
                )
            elif topic == "orders":
                if kind == "snapshot":
                    self.orders.clear()
                for order in rows:
                    self.orders[order["client_order_id"]] = order
                    self.instruments.add(order["instrument_id"])
            elif topic == "positions":
                if kind == "snapshot":
                    self.positions.clear()
                for p in rows:
                    key = (p["account"], p["strategy_id"], p["instrument_id"])
                    self.positions[key] = p["quantity"]
                    self.instruments.add(p["instrument_id"])


class Repl:
    """Read a line, run it as a ``ttq trade`` command, repeat."""

    def __init__(self, client: ApiClient, status: LiveStatus, history: Path, out: Any) -> None:
        self.status = status
        self.history = history
        self.command = typer.main.get_command(trade_app)
        self.context = TradeContext(None, None, False, out, confirm=confirm, _client=client)
        self.out = out

    def run(self, me: dict[str, Any]) -> None:
        self.history.parent.mkdir(parents=True, exist_ok=True)
        session: PromptSession[str] = PromptSession(
            history=FileHistory(str(self.history)),
            completer=ConsoleCompleter(self.command, self.status),
            bottom_toolbar=self.status.toolbar,
            complete_while_typing=False,  # Tab completes, as in a shell
            refresh_interval=0.5,
            style=Style.from_dict(
                {
                    "bottom-toolbar": "noreverse bg:#1e262f #d8dee6",
                    "mode": "bold bg:#6c5ce7 #ffffff",
                    "mode.live": "bold bg:#ef5350 #ffffff",
                    "alarm": "bold #ef5350",
                }
            ),
        )
        scope = f", account {me['account']}" if me.get("account") else ""
        self.out.print(
            f"ttq console: {self.status.endpoint.url} as {me['name']} ({me['role']}{scope}). "
            "Type help for commands, exit to leave.",
            highlight=False,
            markup=False,
        )
        while True:
            try:
                line = session.prompt("ttq> ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                return
            if not self.execute(line):
                return

    def execute(self, line: str) -> bool:
        """Run one line; False when it asks to leave."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            self.out.print(f"[bold red]error:[/] {exc}", highlight=False)
            return True
        if not words:
            return True
        if words[0] in ("exit", "quit"):
            return False
        if words[0] == "help":
            words = [*words[1:], "--help"]
        try:
            self.command.main(args=words, prog_name="", standalone_mode=False, obj=self.context)
        except typer.Exit:
            pass
        except typer.Abort:
            self.out.print("aborted")
        except TyperException as exc:  # a usage error: unknown command, missing argument
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            self.out.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
        return True


class ConsoleCompleter(Completer):
    """Commands first; then instruments, order ids or a command's options, as the word needs."""

    INSTRUMENT_COMMANDS: Final = ("ticker", "book", "buy", "sell")

    def __init__(self, group: Any, status: LiveStatus) -> None:
        self.group = group
        self.status = status

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        text = document.text_before_cursor
        words = text.split()
        current = "" if not words or text.endswith(" ") else words[-1]
        done = words if current == "" else words[:-1]
        for candidate in self._candidates(done, current):
            if candidate.startswith(current):
                yield Completion(candidate, start_position=-len(current))

    def _candidates(self, done: list[str], current: str) -> list[str]:
        commands = sorted(self.group.commands)
        if not done:
            return [*commands, *LOCAL_COMMANDS]
        command = self.group.commands.get(done[0])
        if command is None:
            return commands if done[0] == "help" and len(done) == 1 else []
        if current.startswith("-"):
            return sorted(o for p in command.params for o in p.opts if o.startswith("--"))
        if len(done) == 1 and done[0] in self.INSTRUMENT_COMMANDS:
            return self.status.known_instruments()
        if len(done) == 1 and done[0] == "cancel":
            return self.status.open_order_ids()
        return []
