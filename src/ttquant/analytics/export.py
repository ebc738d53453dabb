"""Write a backtest's results to a folder: JSON, CSV tables and the HTML report.

Every file is written whole to a temporary name and then renamed, so an interrupted run never
leaves a truncated file that looks complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ttquant.analytics.daily import (
    DAY_NS,
    infer_periods_per_year,
    last_sample_of_each_day,
    simple_returns,
)
from ttquant.analytics.report import (
    PriceSeries,
    ReportData,
    ReportStrategy,
    ReportTrade,
    write_report,
)
from ttquant.analytics.statistics import STATISTICS, format_statistic
from ttquant.core.errors import ConfigError
from ttquant.core.time import ns_to_iso
from ttquant.engine.runner import BacktestResult
from ttquant.risk.metrics import RiskReport, positions_from_fills, risk_report

ISO = "%Y-%m-%dT%H:%M:%S%.fZ"


def _iso_series(name: str, values: list[int] | np.ndarray) -> pl.Series:
    return pl.Series(name, values, dtype=pl.Int64).cast(pl.Datetime("ns")).dt.strftime(ISO)


def trades_frame(result: BacktestResult) -> pl.DataFrame:
    t = result.round_trips
    return pl.DataFrame(
        {
            "strategy_id": [x.strategy_id for x in t],
            "instrument_id": [x.instrument_id for x in t],
            "entry_ts": _iso_series("entry_ts", [x.entry_ns for x in t]),
            "exit_ts": _iso_series("exit_ts", [x.exit_ns for x in t]),
            "side": [x.side.value.lower() for x in t],
            "qty": pl.Series([x.quantity for x in t], dtype=pl.Float64),
            "entry_price": pl.Series([x.entry_price for x in t], dtype=pl.Float64),
            "exit_price": pl.Series([x.exit_price for x in t], dtype=pl.Float64),
            "pnl": pl.Series([x.pnl for x in t], dtype=pl.Float64),
            "return_pct": pl.Series([x.return_pct * 100.0 for x in t], dtype=pl.Float64),
            "fees": pl.Series([x.fees for x in t], dtype=pl.Float64),
            "exit_reason": [x.exit_reason for x in t],
        },
        schema_overrides={
            "strategy_id": pl.String,
            "instrument_id": pl.String,
            "side": pl.String,
            "exit_reason": pl.String,
        },
    )


def orders_frame(result: BacktestResult) -> pl.DataFrame:
    o = result.orders
    return pl.DataFrame(
        {
            "client_order_id": [x.client_order_id for x in o],
            "venue_order_id": [x.venue_order_id for x in o],
            "strategy_id": [x.strategy_id for x in o],
            "instrument_id": [x.instrument_id for x in o],
            "side": [x.side.value for x in o],
            "type": [x.order_type.value for x in o],
            "quantity": pl.Series([x.quantity for x in o], dtype=pl.Float64),
            "price": pl.Series([x.price for x in o], dtype=pl.Float64),
            "trigger_price": pl.Series([x.trigger_price for x in o], dtype=pl.Float64),
            "time_in_force": [x.time_in_force.value for x in o],
            "reduce_only": pl.Series([x.reduce_only for x in o], dtype=pl.Boolean),
            "status": [x.status.value for x in o],
            "filled_qty": pl.Series([x.filled_qty for x in o], dtype=pl.Float64),
            "avg_px": pl.Series([x.avg_px for x in o], dtype=pl.Float64),
            "created_ts": _iso_series("created_ts", [x.ts_init for x in o]),
            "last_ts": _iso_series("last_ts", [x.ts_last for x in o]),
            "exit_reason": [x.exit_reason for x in o],
            "reject_reason": [_reject_reason(x) for x in o],
        },
        schema_overrides={
            c: pl.String
            for c in (
                "client_order_id",
                "venue_order_id",
                "strategy_id",
                "instrument_id",
                "side",
                "type",
                "time_in_force",
                "status",
                "exit_reason",
                "reject_reason",
            )
        },
    )


def _reject_reason(order: Any) -> str:
    for event in reversed(order.events):
        reason = getattr(event, "reason", None)
        if reason:
            return str(reason)
    return ""


def fills_frame(result: BacktestResult) -> pl.DataFrame:
    f = result.fills
    return pl.DataFrame(
        {
            "ts": _iso_series("ts", [x.ts_event for x in f]),
            "trade_id": [x.trade_id for x in f],
            "client_order_id": [x.client_order_id for x in f],
            "venue_order_id": [x.venue_order_id for x in f],
            "strategy_id": [x.strategy_id for x in f],
            "instrument_id": [x.instrument_id for x in f],
            "side": [x.side.value for x in f],
            "qty": pl.Series([x.last_qty for x in f], dtype=pl.Float64),
            "price": pl.Series([x.last_px for x in f], dtype=pl.Float64),
            "commission": pl.Series([x.commission for x in f], dtype=pl.Float64),
            "commission_currency": [x.commission_currency for x in f],
            "liquidity": [x.liquidity_side.value for x in f],
        },
        schema_overrides={
            c: pl.String
            for c in (
                "trade_id",
                "client_order_id",
                "venue_order_id",
                "strategy_id",
                "instrument_id",
                "side",
                "commission_currency",
                "liquidity",
            )
        },
    )


def equity_frame(result: BacktestResult) -> pl.DataFrame:
    c = result.curve
    peak = np.maximum.accumulate(c.equity)
    return pl.DataFrame(
        {
            "ts": _iso_series("ts", c.ts),
            "equity": c.equity,
            "drawdown_pct": (c.equity / peak - 1.0) * 100.0,
            "in_market": c.in_market,
        }
    )


def run_risk(result: BacktestResult) -> RiskReport:
    """VaR/CVaR of the run's daily returns, rolling ratios, exposure and leverage."""
    c = result.curve
    days, last = last_sample_of_each_day(c.ts)
    return risk_report(
        c.equity,
        positions_from_fills(c.ts, result.fills, list(c.marks)),
        c.marks,
        result.instruments,
        simple_returns(c.equity, last),
        infer_periods_per_year(days),
        risk_free_rate=result.config.risk_free_rate,
    )


def risk_frames(risk: RiskReport, result: BacktestResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``risk.csv`` (every equity sample) and ``risk_daily.csv`` (every day with a return)."""
    c = result.curve
    days = last_sample_of_each_day(c.ts)[0] * DAY_NS
    samples = pl.DataFrame({"ts": _iso_series("ts", c.ts), **risk.samples})
    # no rolling columns when the daily returns are undefined (equity at or below zero)
    rolling = {k: v for k, v in risk.daily.items() if len(v) == len(days)}
    return samples, pl.DataFrame({"day": _iso_series("day", days), **rolling})


def results_document(result: BacktestResult, risk: RiskReport | None = None) -> dict[str, Any]:
    return {
        "statistics": result.statistics,
        "risk": (risk or run_risk(result)).summary,
        "final_equity": result.final_equity,
        "n_trades": len(result.round_trips),
        "n_orders": len(result.orders),
        "n_fills": len(result.fills),
        "open_positions": [
            {
                "strategy_id": p.strategy_id,
                "instrument_id": p.instrument.id,
                "quantity": p.quantity,
                "avg_px": p.avg_px,
            }
            for p in result.open_positions
        ],
        "strategies": [s.to_dict() for s in result.strategies],
        "risk_engine": result.risk_engine,
        "config": result.config.to_dict(),
        "results_hash": result.results_hash,
    }


def write_results(result: BacktestResult, out_dir: str | Path) -> Path:
    """Write every result file into ``out_dir`` (created if needed); return the folder."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output folder {out}: {exc.strerror}") from None
    try:
        _write_all(result, out)
    except OSError as exc:
        raise ConfigError(f"cannot write results to {out}: {exc.strerror or exc}") from None
    return out


def _write_all(result: BacktestResult, out: Path) -> None:
    risk = run_risk(result)
    _atomic_text(out / "results.json", json.dumps(results_document(result, risk), indent=2))
    for name, frame in (
        ("trades.csv", trades_frame(result)),
        ("orders.csv", orders_frame(result)),
        ("fills.csv", fills_frame(result)),
        ("equity.csv", equity_frame(result)),
        *zip(("risk.csv", "risk_daily.csv"), risk_frames(risk, result), strict=True),
    ):
        tmp = out / f".{name}.tmp"
        frame.write_csv(tmp)
        os.replace(tmp, out / name)
    write_report(out / "report.html", report_data(result))


def report_data(result: BacktestResult) -> ReportData:
    stats = [
        (label, format_statistic(key, result.statistics.get(key)))
        for key, label, _ in STATISTICS
        if key in result.statistics
    ]
    strategies = ", ".join(f"{s.name}" for s in result.config.strategies)
    prices = [
        PriceSeries(iid, b.ts, b.open, b.high, b.low, b.close) for iid, b in result.bars.items()
    ]
    trades = [
        ReportTrade(
            t.instrument_id,
            t.side.value.lower(),
            t.quantity,
            t.entry_ns,
            t.exit_ns,
            t.entry_price,
            t.exit_price,
            t.pnl,
            t.fees,
            t.exit_reason,
        )
        for t in result.round_trips
    ]
    c = result.curve
    config = result.config.to_dict()
    config["strategy"] = strategies
    return ReportData(
        title=f"Backtest: {strategies} on {', '.join(result.bars)} "
        f"({ns_to_iso(int(c.ts[0]))[:10]} to {ns_to_iso(int(c.ts[-1]))[:10]})",
        statistics=stats,
        equity_ns=c.ts,
        equity=c.equity,
        prices=prices,
        trades=trades,
        config=config,
        strategies=[
            ReportStrategy(
                s.strategy_id,
                s.capital,
                s.pnl,
                s.realized,
                s.unrealized,
                s.commissions,
                s.trades,
                s.wins,
                s.orders,
                s.denied,
                s.return_pct,
                s.max_drawdown_pct,
                c.pnl_by_owner.get(s.strategy_id, np.zeros(len(c.ts))),
            )
            for s in result.strategies
        ],
    )


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
