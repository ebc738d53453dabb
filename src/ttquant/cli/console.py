"""``ttq console``: the ``ttq trade`` commands in a REPL, with history, completion and a live
status line.

Each line is parsed like a shell command line and run by the same click command as
``ttq trade`` (so ``buy BTC/USDT@BINANCE 0.01 --price 42000`` here is ``ttq trade buy ...``
there). The status line at the bottom follows the node over the API's WebSocket (PnL, orders,
positions) and polls its state and the kill switch; it says when the connection is lost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def console(
    url: Annotated[
        str | None, typer.Option(help="the API server (default $TTQ_API_URL or 127.0.0.1:8000)")
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="API token (default $TTQ_API_TOKEN; prefer the variable)")
    ] = None,
    history: Annotated[
        Path | None, typer.Option(help="history file (default: TTQ_HOME/console_history)")
    ] = None,
) -> None:
    """Interactive trading console: ttq trade's commands with history (up arrow, Ctrl-R),
    Tab completion of commands, instruments and order ids, and a live status line."""
    from ttquant.cli.main import _user_errors

    with _user_errors():
        from ttquant.cli.console_repl import run_console

        run_console(url, token, history)
