"""``ttq node``: run a trading node, in one process or split into market data, strategy and
gateway processes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

node_app = typer.Typer(no_args_is_help=True, help="Paper and live trading nodes.")

ConfigArg = Annotated[Path, typer.Argument(help="node config (TOML), see examples/paper.toml")]
ModeOpt = Annotated[
    str | None, typer.Option("--mode", "-m", help="paper or live (default: [node] mode)")
]
LogOpt = Annotated[str, typer.Option("--log-level", help="debug, info, warning or error")]


def _setup_logging(level: str) -> None:
    from ttquant.core.errors import ConfigError

    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ConfigError(f"--log-level must be debug, info, warning or error, got {level!r}")
    logging.basicConfig(
        level=value, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    for chatty in ("alembic", "httpx", "aiohttp.access"):  # a line per request or migration step
        logging.getLogger(chatty).setLevel(max(value, logging.WARNING))


@node_app.command("run")
def run(config: ConfigArg, mode: ModeOpt = None, log_level: LogOpt = "info") -> None:
    """Run strategies on live data: paper (simulated fills) or live (the exchange's)."""
    from ttquant.cli.main import _user_errors

    with _user_errors():
        _setup_logging(log_level)
        from ttquant.engine.node import run_node

        run_node(config, mode)


@node_app.command("md")
def md(config: ConfigArg, log_level: LogOpt = "info") -> None:
    """Market data process: the exchange's feeds to ZeroMQ PUB (and the shared price snapshot,
    and the recorder when configured)."""
    from ttquant.cli.main import _user_errors

    with _user_errors():
        _setup_logging(log_level)
        from ttquant.engine.topology import run_market_data

        run_market_data(config)


@node_app.command("strategy")
def strategy(config: ConfigArg, mode: ModeOpt = None, log_level: LogOpt = "info") -> None:
    """Strategy process: market data from ZeroMQ SUB, order requests to the gateway (PUSH)."""
    from ttquant.cli.main import _user_errors

    with _user_errors():
        _setup_logging(log_level)
        from ttquant.engine.topology import run_strategy_process

        run_strategy_process(config, mode)


@node_app.command("gateway")
def gateway(config: ConfigArg, mode: ModeOpt = None, log_level: LogOpt = "info") -> None:
    """Gateway process: order requests (PULL) through risk and execution to the venue; order
    and fill returns on PUB."""
    from ttquant.cli.main import _user_errors

    with _user_errors():
        _setup_logging(log_level)
        from ttquant.engine.topology import run_gateway

        run_gateway(config, mode)
