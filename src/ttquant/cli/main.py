"""The ``ttq`` command."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape

from ttquant.cli.console import console
from ttquant.cli.data import data_app
from ttquant.cli.node import node_app
from ttquant.cli.optimize import optimize
from ttquant.cli.runs import runs_app
from ttquant.cli.serve import serve
from ttquant.cli.sweep import sweep
from ttquant.cli.trade import trade_app
from ttquant.cli.walkforward import walkforward
from ttquant.core.errors import StrategyError, TTQuantError

if TYPE_CHECKING:
    from ttquant.strategy.params import ParamSpec

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="ttquant: research, backtest and trade with one strategy API.",
)
strategies_app = typer.Typer(no_args_is_help=True, help="List and create strategies.")
app.add_typer(strategies_app, name="strategies")
app.add_typer(runs_app, name="runs")
app.add_typer(data_app, name="data")
app.add_typer(node_app, name="node")
app.add_typer(trade_app, name="trade")

err = Console(stderr=True)


def _parse_sets(pairs: list[str]) -> dict[str, Any]:
    from ttquant.core.errors import ConfigError

    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r} is not of the form key=value")
        params[key.strip()] = value.strip()
    return params


@app.command()
def backtest(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", "-s", help="strategy name or path/file.py:ClassName")
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", "-d", help="OHLCV file (CSV, CSV.gz or Parquet); repeat for more"),
    ] = None,
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", help="symbol of each --data file, e.g. BTC/USDT")
    ] = None,
    venue: Annotated[str | None, typer.Option(help="venue name")] = None,
    timerange: Annotated[
        str | None, typer.Option(help="YYYYMMDD-YYYYMMDD, either end may be omitted")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="strategy parameter key=value; repeat for more"),
    ] = None,
    cash: Annotated[float | None, typer.Option(help="starting cash")] = None,
    fee_bps: Annotated[float | None, typer.Option(help="fee per fill, basis points")] = None,
    slippage_bps: Annotated[float | None, typer.Option(help="slippage on taker fills, bps")] = None,
    size: Annotated[float | None, typer.Option(help="order size (the strategy's size)")] = None,
    account: Annotated[str | None, typer.Option(help="margin or cash")] = None,
    leverage: Annotated[float | None, typer.Option(help="margin account leverage")] = None,
    market_fill: Annotated[str | None, typer.Option(help="next_open (default) or close")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output folder")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no summary tables")] = False,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="don't save the run in the records store")
    ] = False,
    db: Annotated[
        str | None, typer.Option("--db", help="records store URL (default: see ttq runs --help)")
    ] = None,
) -> None:
    """Run an event-driven backtest and write results.json, CSVs and report.html."""
    with _user_errors():
        from ttquant.cli.flags import config_from_flags

        params = _parse_sets(set_ or [])
        if size is not None:
            params["size"] = size
        cfg = config_from_flags(
            config,
            strategy=strategy,
            data=data,
            symbol=symbol,
            timerange=timerange,
            params=params,
            venue={
                "name": venue,
                "cash": cash,
                "fee_bps": fee_bps,
                "slippage_bps": slippage_bps,
                "account": account,
                "leverage": leverage,
                "market_fill": market_fill,
            },
        )
        if out is not None:
            cfg.out = str(out)
        _run_backtest(cfg, quiet, store=not no_store, db=db)


def _run_backtest(cfg: Any, quiet: bool, store: bool = True, db: str | None = None) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ttquant.analytics.export import write_results
    from ttquant.cli.summary import print_summary
    from ttquant.engine.runner import run_backtest

    console = _stdout_console()
    with Progress(
        TextColumn("backtest"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=quiet or not err.is_terminal,
    ) as bar:
        task = bar.add_task("run", total=None)
        result = run_backtest(
            cfg, lambda done, total: bar.update(task, completed=done, total=total)
        )
    if not quiet:
        print_summary(result, console)
    if cfg.out:
        folder = write_results(result, cfg.out)
        console.print(f"results written to [bold]{folder}[/] (report: {folder / 'report.html'})")
    if store:
        from ttquant.core.errors import StoreError
        from ttquant.store.runs import save_backtest

        try:
            run_id = save_backtest(result, db)
        except StoreError as exc:
            raise StoreError(f"run not saved: {exc} (--no-store skips saving)") from None
        console.print(f"run saved as [bold]{run_id}[/] (ttq runs show {run_id})")


@strategies_app.command("list")
def strategies_list() -> None:
    """Show every available strategy with its parameters, defaults and ranges."""
    from rich.table import Table

    from ttquant.strategy.registry import available_strategies

    with _user_errors():
        table = Table(title="Strategies")
        for col in ("Name", "Source", "Parameters", "Description"):
            table.add_column(col)
        broken: dict[str, str] = {}
        for name, (cls, source) in sorted(available_strategies(broken).items()):
            params = "\n".join(_describe_param(p) for p in cls.params_spec.values())
            doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
            table.add_row(name, source, params, doc)
        _stdout_console().print(table)
        for message in broken.values():  # a broken plugin is reported, the others still listed
            err.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


@strategies_app.command("new")
def strategies_new(
    name: Annotated[str, typer.Argument(help="strategy name, a Python identifier: my_breakout")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="folder to write NAME.py in (created if missing)")
    ] = Path(),
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
) -> None:
    """Write NAME.py: a documented, runnable strategy template to edit."""
    from ttquant.strategy.template import write_template

    with _user_errors():
        path, cls = write_template(name, out, force=force)
        console = _stdout_console()
        console.print(f"wrote {escape(str(path))} (class {cls})", highlight=False)
        console.print(
            f"run it: ttq backtest --strategy {escape(str(path))}:{cls} --data FILE",
            highlight=False,
            soft_wrap=True,
        )


def _describe_param(spec: ParamSpec) -> str:
    """``fast: int = 10 in [1, 1000]``: what ``ttq strategies list`` shows for a parameter."""
    p = spec.param
    text = f"{spec.name}: {spec.type.__name__}{' | None' if spec.optional else ''} = {p.default!r}"
    if p.min is not None and p.max is not None:
        text += f" in [{p.min}, {p.max}]"
    elif p.min is not None:
        text += f" >= {p.min}"
    elif p.max is not None:
        text += f" <= {p.max}"
    if p.choices:
        text += f" one of {list(p.choices)}"
    return text


def _stdout_console() -> Console:
    """Rich console for results: terminal width on a terminal, wide enough for tables in files."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


class _user_errors:  # noqa: N801 - used as a lowercase context manager
    """Turn ttquant errors into one-line messages and exit codes; no traceback but the user's."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> Literal[False]:
        if exc is None or not isinstance(exc, TTQuantError):
            return False
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        if isinstance(exc, StrategyError) and exc.__cause__ is not None:
            err.print(_user_traceback(exc.__cause__), highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(3)
        raise typer.Exit(2)


def _user_traceback(exc: BaseException) -> str:
    """The traceback of a strategy's exception, without ttquant's own frames."""
    package = Path(__file__).resolve().parents[1]
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if not _is_ours(f.filename, package)
    ]
    lines = ["Traceback (strategy code):\n", *traceback.format_list(frames)]
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


def _is_ours(filename: str, package: Path) -> bool:
    """Whether a traceback frame is ttquant's: compiled modules name themselves relatively."""
    path = Path(filename)
    if not path.is_absolute():
        return path.parts[:1] == (package.name,)
    return path.resolve().is_relative_to(package)


app.command()(optimize)
app.command()(walkforward)
app.command()(sweep)
app.command()(serve)
app.command()(console)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
