"""The flags ``ttq sweep``, ``optimize`` and ``walkforward`` share, declared once.

Typer reads a command's options from its signature, so options common to several commands would
otherwise be spelled out, and turned into a config, in each of them. ``ResearchFlags`` declares
them (its fields are the options) and ``research_command`` adds them to a command's signature
and hands the command one ``ResearchFlags``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer

from ttquant.cli.flags import choice

if TYPE_CHECKING:
    from ttquant.engine.config import BacktestConfig
    from ttquant.research.execution import ExecutionSettings
    from ttquant.research.objectives import Constraints, Direction

ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="search NAME over LOW:HIGH, LOW:HIGH:STEP, LOW:HIGH:log or choices A,B,C; "
        "repeat; without it, every declared range is searched",
    ),
]
BatchOpt = Annotated[
    int, typer.Option(help="trials proposed and evaluated together (the trials depend on it)")
]


@dataclass(frozen=True)
class ResearchFlags:
    """Options every research command takes; field name, type and default are the option's."""

    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="TOML backtest config (venue, data, strategy, params)"),
    ] = None
    strategy: Annotated[
        str | None,
        typer.Option("--strategy", "-s", help="strategy name or path/file.py:ClassName"),
    ] = None
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", "-d", help="OHLCV file (CSV, CSV.gz or Parquet); repeat for more"),
    ] = None
    symbol: Annotated[
        list[str] | None,
        typer.Option("--symbol", help="symbol of each --data file, in order (default BTC/USDT)"),
    ] = None
    timerange: Annotated[
        str | None, typer.Option(help="YYYYMMDD-YYYYMMDD, either end may be omitted")
    ] = None
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="fix strategy parameter NAME=VALUE; repeat")
    ] = None
    objective: Annotated[
        str,
        typer.Option(
            help="sharpe, sortino, calmar, total_return, max_drawdown, or module:function / "
            "file.py:function taking the statistics dict"
        ),
    ] = "sharpe"
    direction: Annotated[
        str | None, typer.Option(help="maximize or minimize (user objectives only)")
    ] = None
    min_trades: Annotated[
        int | None, typer.Option(help="a run with fewer trades is infeasible")
    ] = None
    max_drawdown: Annotated[
        float | None, typer.Option(help="a run with a deeper drawdown (percent) is infeasible")
    ] = None
    seed: Annotated[int, typer.Option(help="random seed: the same seed gives the same results")] = 0
    cash: Annotated[float | None, typer.Option(help="starting cash")] = None
    fee_bps: Annotated[float | None, typer.Option(help="fee per fill, basis points")] = None
    slippage_bps: Annotated[float | None, typer.Option(help="slippage on taker fills, bps")] = None
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="run on this Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: here, or "
            "a local Ray instance for large jobs)"
        ),
    ] = None
    workers: Annotated[
        int | None,
        typer.Option(
            help="1: run in this process; N > 1: a local Ray instance with N CPUs (default: here "
            "for small jobs, else a local Ray instance with every CPU)"
        ),
    ] = None
    worker_memory: Annotated[
        int | None,
        typer.Option(help="memory each Ray task reserves, MB (bounds tasks per node)"),
    ] = None
    max_retries: Annotated[
        int, typer.Option(help="retries of a failed task before it is reported")
    ] = 2
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar or summary")] = False

    def backtest_config(self) -> BacktestConfig:
        """The backtest config the command starts from: the file, changed by the flags."""
        from ttquant.cli.flags import config_from_flags
        from ttquant.core.errors import ConfigError

        cfg = config_from_flags(
            self.config,
            strategy=self.strategy,
            data=self.data,
            symbol=self.symbol,
            timerange=self.timerange,
            venue={"cash": self.cash, "fee_bps": self.fee_bps, "slippage_bps": self.slippage_bps},
        )
        if not cfg.strategies:
            raise ConfigError("no strategy: give --strategy NAME or a [[strategies]] table")
        return cfg

    def fixed(self) -> dict[str, str]:
        return assignments(self.set_, "--set")

    def objective_direction(self) -> Direction | None:
        if self.direction is None:
            return None
        return choice(self.direction, ("maximize", "minimize"), "--direction")  # type: ignore[no-any-return]

    def constraints(self) -> Constraints:
        from ttquant.research.objectives import Constraints

        return Constraints(self.min_trades, self.max_drawdown)

    def execution(self) -> ExecutionSettings:
        from ttquant.research.execution import ExecutionSettings

        return ExecutionSettings(
            self.ray_address, self.workers, self.worker_memory, self.max_retries, not self.quiet
        )


def research_command(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` (taking ``flags: ResearchFlags`` and its own options) with every
    ``ResearchFlags`` field as an option of its own, after the command's options."""
    own = inspect.signature(command, eval_str=True)
    hints = get_type_hints(ResearchFlags, include_extras=True)
    names = [field.name for field in dataclasses.fields(ResearchFlags)]
    shared = [
        inspect.Parameter(
            field.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=hints[field.name],
            default=field.default,
        )
        for field in dataclasses.fields(ResearchFlags)
    ]
    params = [p for p in own.parameters.values() if p.name != "flags"] + shared

    @functools.wraps(command)
    def run(**options: Any) -> None:
        flags = ResearchFlags(**{name: options.pop(name) for name in names})
        command(flags=flags, **options)

    run.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}
    return run


def assignments(pairs: list[str] | None, flag: str) -> dict[str, str]:
    from ttquant.research.space import parse_assignments

    return parse_assignments(pairs or [], flag)
