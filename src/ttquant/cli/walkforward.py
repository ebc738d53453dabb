"""``ttq walkforward``: optimize in sample, test out of sample, window after window."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ttquant.cli.flags import choice
from ttquant.cli.research_flags import (
    BatchOpt,
    ParamOpt,
    ResearchFlags,
    assignments,
    research_command,
)

if TYPE_CHECKING:
    from rich.console import Console

    from ttquant.research.walkforward_job import WalkForwardSummary


@research_command
def walkforward(
    flags: ResearchFlags,
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder (tables, report)")],
    in_sample: Annotated[
        str, typer.Option("--in-sample", help="in-sample length, e.g. 90d, 12h, 4w")
    ],
    out_of_sample: Annotated[
        str, typer.Option("--out-of-sample", help="out-of-sample length, e.g. 30d")
    ],
    step: Annotated[
        str | None,
        typer.Option(help="shift between windows (default and minimum: --out-of-sample)"),
    ] = None,
    anchored: Annotated[
        bool, typer.Option("--anchored", help="in-sample ranges all start at the data's start")
    ] = False,
    each_instrument: Annotated[
        bool,
        typer.Option(
            "--each-instrument",
            help="walk each --data file forward on its own (default: one backtest of all)",
        ),
    ] = False,
    param: ParamOpt = None,
    optimizer: Annotated[
        str, typer.Option(help="grid (every --param combination), tpe, cmaes or random")
    ] = "grid",
    trials: Annotated[int, typer.Option(help="trials per window (tpe, cmaes, random)")] = 50,
    batch: BatchOpt = 4,
    chunk_size: Annotated[
        int, typer.Option(help="parameter sets per task (grid): smaller tasks, finer sharding")
    ] = 16,
    max_combinations: Annotated[int, typer.Option(help="refuse grids larger than this")] = 10_000,
) -> None:
    """Walk-forward analysis: rolling or anchored windows, stitched out-of-sample equity.

    Writes OUT/windows.csv, OUT/trials.csv, OUT/oos_equity.csv (each also as Parquet),
    OUT/summary.json (walk-forward efficiency, parameter stability, deflated Sharpe ratio)
    and OUT/report.html (with --each-instrument, in OUT/SYMBOL/ for each data file, and
    OUT/instruments.csv). Finished tasks are kept in OUT/tasks.sqlite: run the same command
    again to resume.
    """
    from ttquant.cli.main import _stdout_console, _user_errors

    with _user_errors():
        from ttquant.core.errors import ConfigError
        from ttquant.model.data import parse_step
        from ttquant.research.optimize import StudySettings
        from ttquant.research.walkforward_job import WalkForwardJob, run_walkforward

        def duration(text: str, flag: str) -> int:
            try:
                return parse_step(text)
            except ConfigError:
                raise ConfigError(
                    f"{flag} {text!r} is not a duration such as 90d, 12h, 4w or 30m"
                ) from None

        job = WalkForwardJob(
            config=flags.backtest_config(),
            out=out,
            in_sample=duration(in_sample, "--in-sample"),
            out_of_sample=duration(out_of_sample, "--out-of-sample"),
            step=None if step is None else duration(step, "--step"),
            anchored=anchored,
            params=assignments(param, "--param"),
            fixed=flags.fixed(),
            objective=flags.objective,
            direction=flags.objective_direction(),
            constraints=flags.constraints(),
            optimizer=choice(optimizer, ("grid", "tpe", "cmaes", "random"), "--optimizer"),
            settings=StudySettings(n_trials=trials, seed=flags.seed, batch=batch),
            chunk_size=chunk_size,
            max_combinations=max_combinations,
            each_instrument=each_instrument,
            execution=flags.execution(),
        )
        summaries = run_walkforward(job)
        if not flags.quiet:
            console = _stdout_console()
            for summary in summaries:
                _print_summary(console, summary)
            reports = ", ".join(escape(str(s.out / "report.html")) for s in summaries)
            folder = escape(str(job.out))
            console.print(f"results written to [bold]{folder}[/] (report: {reports})")


def _print_summary(console: Console, summary: WalkForwardSummary) -> None:
    from ttquant.analytics.statistics import format_statistic
    from ttquant.research.report_parts import fmt

    title = "WALK-FORWARD WINDOWS" + (f": {summary.instrument}" if summary.instrument else "")
    table = Table(title=escape(title), title_style="bold")
    params = [k for k in (summary.windows[0] if summary.windows else {}) if k.startswith("params_")]
    for col in ("#", "OOS from", *(p[7:] for p in params)):
        table.add_column(col, no_wrap=True)
    for col in ("IS ann. %", "OOS ann. %", "Trades", "WFE"):
        table.add_column(col, justify="right", no_wrap=True)
    for w in summary.windows:
        table.add_row(
            str(w["window"]),
            w["oos_start"][:16].replace("T", " "),
            *(escape(fmt(w[p])) for p in params),
            fmt(w["is_annual_return_pct"]),
            fmt(w["oos_annual_return_pct"]),
            fmt(w["oos_trades"]),
            fmt(w["efficiency"]),
        )
    console.print(table)
    stats: dict[str, Any] = summary.oos_statistics
    for key in ("total_return_pct", "annual_return_pct", "sharpe", "max_drawdown_pct"):
        console.print(f"OOS {key}: {format_statistic(key, stats.get(key))}", highlight=False)
    console.print(f"walk-forward efficiency: {fmt(summary.efficiency)}", highlight=False)
    dsr = summary.deflated_sharpe
    console.print(
        f"deflated Sharpe ratio: {fmt(None if dsr is None else dsr.probability)}", highlight=False
    )
