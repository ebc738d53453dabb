"""``ttq console`` in a pseudo-terminal: pexpect runs it, pyte (a VT100 emulator) keeps the
screen a user would see, answering the console's cursor position requests as a terminal does.
History, completion, the live status line and the trade commands are checked on that screen,
against a real API server over a paper kernel trading real bars."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pyte
import pytest
from tests._paper_api import BTC, PaperApi, paper_api
from tests.conftest import REPO

ROWS, COLUMNS = 40, 160
UP, CTRL_U = "\x1b[A", "\x15"


class Terminal:
    """A program in a pty, its output rendered on an emulated screen."""

    def __init__(self, paper: PaperApi, token: str, history: Path) -> None:
        env = {**os.environ, "TTQ_API_URL": paper.base, "TTQ_API_TOKEN": token}
        env["TERM"] = "xterm-256color"
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "ttquant.cli.main", "console", "--history", str(history)],
            env=env,
            cwd=str(REPO),
            dimensions=(ROWS, COLUMNS),
        )
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self.screen.write_process_input = self.child.send  # type: ignore[method-assign]
        self.stream = pyte.ByteStream(self.screen)
        self.ended = False

    @property
    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    @property
    def status_line(self) -> str:
        return self.screen.display[-1].strip()

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def wait(self, pattern: str, timeout: float = 60.0, where: str = "text") -> re.Match[str]:
        """Read output until ``pattern`` is on the screen (or in the status line)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.status_line if where == "status" else self.text
            found = re.search(pattern, screen, re.MULTILINE)
            if found:
                return found
            if self.ended or time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not on the screen:\n{self.text}")
            self._read(0.1)

    def wait_exit(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while not self.ended and time.monotonic() < deadline:
            self._read(0.1)
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)

    def _read(self, timeout: float) -> None:
        try:
            self.stream.feed(self.child.read_nonblocking(65536, timeout=timeout))
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            self.ended = True


@pytest.fixture(scope="module")
def paper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaperApi]:
    with paper_api(tmp_path_factory.mktemp("console")) as api:
        yield api


def test_console_trades_with_history_completion_and_a_live_status_line(
    paper: PaperApi, tmp_path: Path
) -> None:
    history = tmp_path / "history"
    term = Terminal(paper, paper.token("trader"), history)
    try:
        term.wait(r"^ttq>")
        # the status line follows the node: mode, state, equity, the WebSocket connection
        status = term.wait(r"PAPER +node running │ equity ([\d,.]+) .*│ live$", where="status")
        assert abs(float(status.group(1).replace(",", "")) - 1_000_000) < 10_000
        # Tab completes a command; the line then runs as `ttq trade positions`
        term.send("posi\t")
        term.wait(r"ttq> positions")
        term.send("\r")
        term.wait(r"Positions")
        price = round(paper.kernel.cache.price(BTC) * 0.5, 2)
        term.send(f"buy {BTC} 0.01 --price {price}\r")
        order_id = term.wait(r"order (\S+) ACCEPTED").group(1)
        assert order_id in paper.open_orders()
        # the open order reaches the status line and the completer over the WebSocket
        term.wait(r"open orders 1 ", where="status")
        term.send("cancel \t")
        term.wait(rf"ttq> cancel {re.escape(order_id)}")
        term.send("\r")
        term.wait(rf"order {re.escape(order_id)} CANCELED")
        term.wait(r"open orders 0 ", where="status")
        assert order_id not in paper.open_orders()
        # mistakes are one line each, and the console carries on
        term.send("sell\r")
        term.wait(r"error: Missing argument 'instrument'")
        term.send("frobnicate\r")
        term.wait(r"error: No such command 'frobnicate'")
        # up arrow recalls earlier lines
        term.send(UP + UP)
        term.wait(r"ttq> sell$")
        term.send(CTRL_U + "exit\r")
        assert term.wait_exit() == 0
    finally:
        term.child.close(force=True)
    lines = [line[1:] for line in history.read_text().splitlines() if line.startswith("+")]
    assert lines == [
        "positions",
        f"buy {BTC} 0.01 --price {price}",
        f"cancel {order_id}",
        "sell",
        "frobnicate",
        "exit",
    ]


def test_console_refuses_a_bad_token_in_one_line(paper: PaperApi, tmp_path: Path) -> None:
    term = Terminal(paper, "ttq_" + "x" * 43, tmp_path / "history")
    assert term.wait_exit() == 2
    shown = term.text.strip()
    assert shown.startswith("error: the API refused the token"), shown
    assert "Traceback" not in shown
