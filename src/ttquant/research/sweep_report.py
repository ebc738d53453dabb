"""The sweep's HTML report: where the objective is good in the grid, and the best run in full.

Sections: an objective heatmap over the first two numeric searched parameters (each cell the
best feasible objective over the other parameters), parallel coordinates of every feasible
combination, the top combinations, then the best run's tearsheet (the backtest report).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from ttquant.analytics.report import (
    AXIS,
    PriceSeries,
    ReportData,
    ReportTrade,
    chart_section,
    figure_layout,
    tearsheet_sections,
    write_page,
)
from ttquant.analytics.statistics import STATISTICS, format_statistic
from ttquant.research.evaluation import Dataset, run
from ttquant.research.objectives import Objective
from ttquant.research.report_parts import parallel_figure, table_section
from ttquant.research.space import SearchSpace

if TYPE_CHECKING:
    from ttquant.research.sweep import SweepJob, SweepSummary
    from ttquant.research.vectorized.portfolio import Batch

__all__ = ["batch_report_data", "heatmap_figure", "write_sweep_report"]

TOP_ROWS = 20


def write_sweep_report(
    path: Path,
    job: SweepJob,
    dataset: Dataset,
    space: SearchSpace,
    rows: Sequence[Mapping[str, Any]],
    objective: Objective,
    summary: SweepSummary,
) -> None:
    strategy = job.config.strategies[0].name
    title = f"Sweep: {strategy}, {summary.n_combinations:,} combinations"
    sections = [
        f'<header><h1>{html.escape(title)}</h1><p class="meta">'
        f"<span>Engine <b>{html.escape(summary.engine)}</b></span>"
        f"<span>Objective <b>{html.escape(objective.name)} ({objective.direction})</b></span>"
        f"<span>Feasible <b>{summary.n_feasible:,}</b></span>"
        f"<span>Refused <b>{summary.n_refused:,}</b></span></p></header>"
    ]
    feasible = [r for r in rows if r["feasible"] and r["objective"] is not None]
    numeric = [d.name for d in space.dimensions if d.kind in ("int", "float")]
    if len(numeric) >= 2 and feasible:
        figure = heatmap_figure(feasible, numeric[0], numeric[1], objective)
        sections.append(chart_section("Objective by parameters", "chart-heatmap", figure))
    if feasible and space.names:
        prefixed = [
            {**{f"params_{n}": r[n] for n in space.names}, "objective": r["objective"]}
            for r in feasible
        ]
        figure = parallel_figure(prefixed, space.names, objective.name)
        sections.append(chart_section("Parallel coordinates", "chart-parallel", figure))
    sections.append(_top_table(feasible, space.names, objective))
    if summary.best_params is not None:
        sections += tearsheet_sections(_best_report_data(job, dataset, summary))
    write_page(path, title, sections)


def heatmap_figure(
    rows: Sequence[Mapping[str, Any]], x: str, y: str, objective: Objective
) -> dict[str, object]:
    """The best objective of each (x, y) cell over every other parameter."""
    xs = sorted({r[x] for r in rows})
    ys = sorted({r[y] for r in rows})
    cells: dict[tuple[Any, Any], float] = {}
    for r in rows:
        key, value = (r[x], r[y]), float(r["objective"])
        if key not in cells or objective.better(value, cells[key]):
            cells[key] = value
    z = [[cells.get((xv, yv)) for xv in xs] for yv in ys]
    data = [
        {
            "type": "heatmap",
            "x": [str(v) for v in xs],
            "y": [str(v) for v in ys],
            "z": z,
            "colorscale": "Viridis",
            "reversescale": objective.direction == "minimize",
            "colorbar": {"title": {"text": objective.name}},
            "hovertemplate": f"{x}=%{{x}}<br>{y}=%{{y}}<br>{objective.name}=%{{z:.4g}}"
            "<extra></extra>",
        }
    ]
    layout = figure_layout(
        460,
        xaxis={**AXIS, "title": {"text": x}, "type": "category"},
        yaxis={**AXIS, "title": {"text": y}, "type": "category"},
    )
    return {"data": data, "layout": layout}


def _top_table(
    feasible: Sequence[Mapping[str, Any]], names: Sequence[str], objective: Objective
) -> str:
    ordered = sorted(
        feasible,
        key=lambda r: float(r["objective"]),
        reverse=objective.direction == "maximize",
    )[:TOP_ROWS]
    stats = ("total_return_pct", "sharpe", "max_drawdown_pct", "n_trades")
    headers = [*names, objective.name, *stats]
    body = [[*(r[n] for n in names), r["objective"], *(r[s] for s in stats)] for r in ordered]
    note = "No feasible combination." if not ordered else "Best first."
    return table_section(f"Top {len(ordered)} combinations", headers, body, note)


def _best_report_data(job: SweepJob, dataset: Dataset, summary: SweepSummary) -> ReportData:
    assert summary.best_params is not None
    config = {
        "strategy": job.config.strategies[0].name,
        "params": summary.best_params,
        "venue": msgspec.to_builtins(job.config.venue),
        "timerange": job.config.timerange,
    }
    title = f"Best run: {job.config.strategies[0].name}"
    if summary.engine == "vectorized":
        from ttquant.research.vectorized.forms import market_of, vectorized_form, venue_settings

        form = vectorized_form(dataset.strategy_class)
        assert form is not None
        bars = dataset.bars[dataset.config.data[0].file]
        batch = form.run(
            market_of(dataset.config, bars),
            bars,
            venue_settings(dataset.config),
            [summary.best_params],
            full_curve=True,
        )
        return batch_report_data(batch, 0, title, config, job.config.risk_free_rate)
    from ttquant.analytics.export import report_data

    return report_data(run(dataset, summary.best_params))


def batch_report_data(
    batch: Batch, col: int, title: str, config: dict[str, object], risk_free_rate: float = 0.0
) -> ReportData:
    """A vectorized column as the backtest report's input (run it with ``full_curve=True``)."""
    from ttquant.research.vectorized.portfolio import EXIT_REASONS

    market = batch.market
    stats = batch.statistics(col, risk_free_rate)
    trades = batch.trades(col)
    ids = [inst.id for inst in market.instruments]
    ts, equity = batch.equity(col)
    return ReportData(
        title=title,
        statistics=[(label, format_statistic(key, stats.get(key))) for key, label, _ in STATISTICS],
        equity_ns=ts,
        equity=equity,
        prices=[_price_series(market, a) for a in range(market.n_assets)],
        trades=[
            ReportTrade(
                ids[int(trades.asset[t])],
                "long" if trades.long[t] else "short",
                float(trades.quantity[t]),
                int(trades.entry_ns[t]),
                int(trades.exit_ns[t]),
                float(trades.entry_price[t]),
                float(trades.exit_price[t]),
                float(trades.pnl[t]),
                float(trades.fees[t]),
                EXIT_REASONS[int(trades.exit_reason[t])],
            )
            for t in range(len(trades))
        ],
        config=config,
    )


def _price_series(market: Any, a: int) -> PriceSeries:
    return PriceSeries(
        market.instruments[a].id,
        market.ts,
        market.open[:, a],
        market.high[:, a],
        market.low[:, a],
        market.close[:, a],
    )
