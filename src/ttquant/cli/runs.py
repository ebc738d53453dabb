"""``ttq runs``: the strategy runs saved in the trading-records store."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from ttquant.store.runs import Run, RunRepository

runs_app = typer.Typer(no_args_is_help=True, help="List, show and compare saved strategy runs.")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="store URL (default: $TTQ_STORE_URL, else records.sqlite in $TTQ_HOME or the "
        "user data folder)",
    ),
]


def _repository(db: str | None) -> RunRepository:
    from ttquant.store import open_store
    from ttquant.store.runs import RunRepository

    return RunRepository(open_store(db))


@runs_app.command("list")
def runs_list(
    db: DbOption = None,
    limit: Annotated[int, typer.Option(help="show at most this many runs", min=1)] = 20,
    strategy: Annotated[
        str | None, typer.Option(help="only runs whose strategy name contains this")
    ] = None,
) -> None:
    """The newest saved runs first."""
    from ttquant.cli.main import _stdout_console, _user_errors

    with _user_errors():
        repo = _repository(db)
        runs = repo.recent(limit, strategy)
        console = _stdout_console()
        if not runs:
            console.print(f"no runs in {escape(repo.store.url)}", highlight=False)
            return
        table = Table(title=f"Runs in {escape(repo.store.url)}", title_style="bold")
        for col in ("ID", "Created (UTC)", "Kind", "Strategy", "Instruments", "Period"):
            table.add_column(col)
        for col in ("Trades", "Return", "Sharpe", "Max DD", "Final equity"):
            table.add_column(col, justify="right")
        for run in runs:
            table.add_row(
                run.run_id,
                _iso(run.created_ns, seconds=True),
                run.kind,
                escape(run.strategy),
                escape(run.instruments),
                _period(run),
                str(run.n_trades),
                _stat(run, "total_return_pct"),
                _stat(run, "sharpe"),
                _stat(run, "max_drawdown_pct"),
                "n/a" if run.final_equity is None else f"{run.final_equity:,.2f}",
            )
        console.print(table)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="run id, or a unique prefix of at least 4")],
    db: DbOption = None,
) -> None:
    """One run: what ran, what it produced, every statistic and its config."""
    from ttquant.analytics.statistic_catalog import STATISTICS
    from ttquant.cli.main import _stdout_console, _user_errors

    with _user_errors():
        repo = _repository(db)
        run = repo.get(run_id)
        console = _stdout_console()
        about = Table(title=f"Run {run.run_id}", title_style="bold", show_header=False)
        about.add_column("Field")
        about.add_column("Value")
        for field, value in (
            ("Kind", run.kind),
            ("Created (UTC)", _iso(run.created_ns, seconds=True)),
            ("Strategy", run.strategy),
            ("Instruments", run.instruments),
            ("Period", _period(run)),
            ("Orders / fills / trades", f"{run.n_orders} / {run.n_fills} / {run.n_trades}"),
            ("Final equity", "n/a" if run.final_equity is None else f"{run.final_equity:,.2f}"),
            ("Results hash", run.results_hash),
            ("ttquant", run.ttquant_version),
            ("Store", repo.store.url),
        ):
            about.add_row(field, escape(value))
        console.print(about)
        stats = Table(title="Statistics", title_style="bold")
        stats.add_column("Metric")
        stats.add_column("Value", justify="right")
        labels = {key: label for key, label, _ in STATISTICS}
        for key, value in run.statistics.items():
            stats.add_row(labels.get(key, key), _format(key, value))
        console.print(stats)
        console.print("[bold]Config[/]")
        console.print_json(json.dumps(run.config))


@runs_app.command("compare")
def runs_compare(
    run_a: Annotated[str, typer.Argument(help="first run id (or unique prefix)")],
    run_b: Annotated[str, typer.Argument(help="second run id (or unique prefix)")],
    db: DbOption = None,
) -> None:
    """Two runs' statistics side by side with the change from the first to the second."""
    from ttquant.analytics.statistic_catalog import STATISTICS
    from ttquant.cli.main import _stdout_console, _user_errors
    from ttquant.store.runs import compare, config_differences

    with _user_errors():
        repo = _repository(db)
        a, b = repo.get(run_a), repo.get(run_b)
        console = _stdout_console()
        table = Table(title=f"Run {a.run_id} vs {b.run_id}", title_style="bold")
        table.add_column("Metric")
        table.add_column(f"A {a.run_id}", justify="right")
        table.add_column(f"B {b.run_id}", justify="right")
        table.add_column("Δ (B − A)", justify="right")
        labels = {key: label for key, label, _ in STATISTICS}
        for change in compare(a, b):
            table.add_row(
                labels.get(change.key, change.key),
                _format(change.key, change.a),
                _format(change.key, change.b),
                _format_delta(change.key, change.delta),
            )
        console.print(table)
        differences = config_differences(a.config, b.config)
        if differences:
            config = Table(title="Config differences", title_style="bold")
            for col in ("Setting", "A", "B"):
                config.add_column(col)
            for path, va, vb in differences:
                config.add_row(escape(path), escape(json.dumps(va)), escape(json.dumps(vb)))
            console.print(config)
        else:
            console.print("same config", highlight=False)


def _iso(ns: int, seconds: bool = False) -> str:
    from ttquant.core.time import ns_to_iso

    text = ns_to_iso(ns)
    return text[:19].replace("T", " ") if seconds else text[:10]


def _period(run: Run) -> str:
    if run.start_ns is None or run.end_ns is None:
        return "n/a"
    return f"{_iso(run.start_ns)} → {_iso(run.end_ns)}"


def _stat(run: Run, key: str) -> str:
    return _format(key, run.statistics.get(key))


def _format(key: str, value: Any) -> str:
    """A statistic as reports show it; keys this version doesn't know are shown as stored."""
    from ttquant.analytics.statistic_catalog import format_statistic

    try:
        return format_statistic(key, value)
    except (KeyError, TypeError, ValueError):
        return "n/a" if value is None else escape(str(value))


def _format_delta(key: str, delta: float | None) -> str:
    from ttquant.analytics.statistic_catalog import STATISTICS, format_duration

    if delta is None:
        return ""
    kind = next((spec.kind for spec in STATISTICS if spec.key == key), "ratio")
    sign = "+" if delta >= 0 else "-"
    match kind:
        case "percent":
            return f"{delta:+.2f} pp"
        case "money":
            return f"{delta:+,.2f}"
        case "count":
            return f"{round(delta):+d}"
        case "duration":
            return sign + format_duration(abs(delta))
        case _:
            return f"{delta:+.2f}"
