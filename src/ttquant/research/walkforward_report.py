"""The walk-forward report: windows, efficiency, parameter stability, the stitched OOS tearsheet."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttquant.analytics.report import (
    PriceSeries,
    ReportData,
    ReportTrade,
    chart_section,
    stats_section,
    tearsheet_sections,
    write_page,
)
from ttquant.analytics.statistics import STATISTICS, StatisticValue, format_statistic
from ttquant.model.instruments import instrument_id
from ttquant.research.deflated_sharpe import DeflatedSharpe
from ttquant.research.evaluation import Dataset
from ttquant.research.report_parts import (
    fmt,
    grouped_bars_figure,
    lines_figure,
    table_section,
    timeline_figure,
)
from ttquant.research.space import SearchSpace
from ttquant.research.walkforward import ParamStability, StitchedCurve

__all__ = ["WalkForwardReport", "write_walkforward_report"]


@dataclass(frozen=True, slots=True)
class WalkForwardReport:
    job_title: str
    dataset: Dataset
    space: SearchSpace
    windows: Sequence[Mapping[str, Any]]  # rows of windows.csv
    stability: Sequence[ParamStability]
    efficiency: float | None
    deflated_sharpe: DeflatedSharpe | None
    curve: StitchedCurve
    trades: Sequence[ReportTrade]
    statistics: Mapping[str, StatisticValue]  # of the stitched OOS curve


def write_walkforward_report(path: Path, r: WalkForwardReport) -> None:
    labels = [f"#{w['window']}" for w in r.windows]
    sections = [
        f"<header><h1>{html.escape(r.job_title)}</h1></header>",
        stats_section(_facts(r)),
        chart_section(
            "Windows",
            "wf-windows",
            timeline_figure(
                labels,
                [
                    (_ns(w["is_start"]), _ns(w["is_end"]), _ns(w["oos_start"]), _ns(w["oos_end"]))
                    for w in r.windows
                ],
            ),
            "Grey: in-sample range where the parameters were chosen; green: the out-of-sample "
            "range they were then tested on.",
        ),
        chart_section(
            "In-sample vs out-of-sample annualized return",
            "wf-returns",
            grouped_bars_figure(
                labels,
                {
                    "in sample": [w["is_annual_return_pct"] for w in r.windows],
                    "out of sample": [w["oos_annual_return_pct"] for w in r.windows],
                },
                "Annualized return %",
            ),
            "Walk-forward efficiency is the ratio of the two (OOS / IS) where IS is positive.",
        ),
    ]
    for k, s in enumerate(r.stability):
        sections.append(
            chart_section(
                f"Chosen {s.name} by window",
                f"wf-param-{k}",
                lines_figure(labels, {s.name: s.values}, s.name),
            )
        )
    sections.append(
        table_section(
            "Parameter stability",
            ["Parameter", "Mean", "Std", "Std / searched range", "Most chosen", "Share"],
            [
                [s.name, s.mean, s.std, s.relative_spread, fmt(s.mode), s.mode_share]
                for s in r.stability
            ],
            "A stable parameter is chosen alike in every window: small spread, large share.",
        )
    )
    sections.append(
        table_section(
            "Windows",
            [
                "Window",
                "OOS start",
                "OOS end",
                *r.space.names,
                "IS objective",
                "IS ann. %",
                "OOS objective",
                "OOS ann. %",
                "OOS trades",
                "Efficiency",
            ],
            [
                [
                    w["window"],
                    w["oos_start"][:16],
                    w["oos_end"][:16],
                    *(w.get(f"params_{n}") for n in r.space.names),
                    w["is_objective"],
                    w["is_annual_return_pct"],
                    w["oos_objective"],
                    w["oos_annual_return_pct"],
                    w["oos_trades"],
                    w["efficiency"],
                ]
                for w in r.windows
            ],
        )
    )
    sections += tearsheet_sections(_stitched_tearsheet(r))
    write_page(path, r.job_title, sections)


def _facts(r: WalkForwardReport) -> list[tuple[str, str]]:
    stats = r.statistics
    facts = [
        ("Windows", str(len(r.windows))),
        ("Windows with parameters", str(sum(bool(w["chosen"]) for w in r.windows))),
        ("Walk-forward efficiency", fmt(r.efficiency)),
        (
            "Deflated Sharpe (OOS)",
            "—" if r.deflated_sharpe is None else f"{r.deflated_sharpe.probability:.3f}",
        ),
    ]
    for key in ("total_return_pct", "annual_return_pct", "sharpe", "max_drawdown_pct", "n_trades"):
        label = next(label for k, label, _ in STATISTICS if k == key)
        facts.append((f"OOS {label.lower()}", format_statistic(key, stats.get(key))))
    return facts


def _stitched_tearsheet(r: WalkForwardReport) -> ReportData:
    first = r.curve.ts[0] - (r.curve.ts[1] - r.curve.ts[0] if r.curve.ts.size > 1 else 0)
    end = int(r.curve.ts[-1])
    prices = []
    venue = r.dataset.config.venue.name
    for spec in r.dataset.config.data:
        b = r.dataset.bars[spec.file].slice_time(int(first), end)
        iid = instrument_id(spec.symbol, venue)
        prices.append(PriceSeries(iid, b.ts, b.open, b.high, b.low, b.close))
    stats = [
        (label, format_statistic(key, r.statistics.get(key)))
        for key, label, _ in STATISTICS
        if key in r.statistics
    ]
    return ReportData(
        title="Stitched out-of-sample backtest",
        statistics=stats,
        equity_ns=r.curve.ts,
        equity=r.curve.equity,
        prices=prices,
        trades=list(r.trades),
        config={"strategy": r.dataset.strategy.name, **r.dataset.config.to_dict()},
    )


def _ns(iso: str) -> int:
    from datetime import datetime

    from ttquant.core.time import datetime_to_ns

    return datetime_to_ns(datetime.fromisoformat(iso.replace("Z", "+00:00")))
