"""The backtest summary printed to the terminal, in the shape freqtrade users know."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

from ttquant.analytics.statistics import STATISTICS, format_statistic
from ttquant.core.time import ns_to_iso
from ttquant.engine.attribution import StrategyResult
from ttquant.engine.runner import BacktestResult
from ttquant.model.position import RoundTrip


def _group_row(label: str, trips: Iterable[RoundTrip], start_equity: float) -> list[str]:
    trips = list(trips)
    n = len(trips)
    wins = sum(1 for t in trips if t.pnl > 0)
    losses = sum(1 for t in trips if t.pnl < 0)
    total = sum(t.pnl for t in trips)
    avg_pct = sum(t.return_pct for t in trips) / n * 100.0 if n else 0.0
    avg_secs = sum((t.exit_ns - t.entry_ns) for t in trips) / n / 1e9 if n else 0.0
    return [
        label,
        str(n),
        f"{avg_pct:+.3f}",
        f"{total:+,.2f}",
        f"{total / start_equity * 100.0:+.2f}" if start_equity else "-",
        format_statistic("avg_trade_duration", avg_secs) if n else "-",
        f"{wins} / {n - wins - losses} / {losses}",
        f"{wins / n * 100.0:.1f}" if n else "-",
    ]


def _trade_table(
    title: str,
    first: str,
    groups: dict[str, list[RoundTrip]],
    all_trips: list[RoundTrip],
    start_equity: float,
) -> Table:
    table = Table(title=title, title_style="bold", show_footer=False)
    for col in (
        first,
        "Trades",
        "Avg profit %",
        "Tot profit",
        "Tot profit %",
        "Avg duration",
        "Win / Draw / Loss",
        "Win %",
    ):
        table.add_column(col, justify="left" if col == first else "right")
    for key in sorted(groups):
        table.add_row(*_group_row(key, groups[key], start_equity))
    table.add_section()
    table.add_row(*_group_row("TOTAL", all_trips, start_equity), style="bold")
    return table


def _optional(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _strategy_table(strategies: list[StrategyResult]) -> Table:
    """Each strategy's part of the shared account; the PnL column adds up to the account's."""
    table = Table(title="STRATEGIES", title_style="bold")
    for col in (
        "Strategy",
        "Capital",
        "Trades",
        "Win %",
        "Realized",
        "Unrealized",
        "Fees",
        "PnL",
        "Return %",
        "Max DD %",
        "Orders",
        "Denied",
    ):
        table.add_column(col, justify="left" if col == "Strategy" else "right")

    def row(s: StrategyResult) -> list[str]:
        return [
            s.strategy_id,
            _optional(s.capital, ",.2f"),
            str(s.trades),
            _optional(s.wins / s.trades * 100.0 if s.trades else None, ".1f"),
            f"{s.realized:+,.2f}",
            f"{s.unrealized:+,.2f}",
            f"{s.commissions:,.2f}",
            f"{s.pnl:+,.2f}",
            _optional(s.return_pct, "+.2f"),
            _optional(s.max_drawdown_pct, ".2f"),
            str(s.orders),
            str(s.denied),
        ]

    for s in strategies:
        table.add_row(*row(s))
    table.add_section()
    total = ["TOTAL", "", str(sum(s.trades for s in strategies)), ""]
    total += [
        f"{sum(s.realized for s in strategies):+,.2f}",
        f"{sum(s.unrealized for s in strategies):+,.2f}",
        f"{sum(s.commissions for s in strategies):,.2f}",
        f"{sum(s.pnl for s in strategies):+,.2f}",
        "",
        "",
        str(sum(s.orders for s in strategies)),
        str(sum(s.denied for s in strategies)),
    ]
    table.add_row(*total, style="bold")
    return table


def _risk_table(risk: dict[str, Any]) -> Table:
    """Denials per rule and every change of trading state."""
    table = Table(title="RISK ENGINE", title_style="bold")
    table.add_column("When (UTC)")
    table.add_column("Rule / scope")
    table.add_column("What", overflow="fold")
    for code, count in risk.get("denials", {}).items():
        table.add_row("", code, f"{count} order(s) denied")
    for code, count in risk.get("modify_denials", {}).items():
        table.add_row("", code, f"{count} modify request(s) refused")
    for change in risk.get("state_changes", []):
        table.add_row(
            ns_to_iso(change["ts"]),
            f"{change['scope']}: {change['previous']} -> {change['state']}",
            f"{change['rule']}: {change['message']}",
        )
    return table


def print_summary(result: BacktestResult, console: Console) -> None:
    trips = result.round_trips
    start = float(result.curve.equity[0])
    by_instrument: dict[str, list[RoundTrip]] = defaultdict(list)
    by_reason: dict[str, list[RoundTrip]] = defaultdict(list)
    for t in trips:
        by_instrument[t.instrument_id].append(t)
        by_reason[t.exit_reason or "signal"].append(t)
    for iid in result.bars:
        by_instrument.setdefault(iid, [])
    console.print(_trade_table("BACKTESTING REPORT", "Instrument", by_instrument, trips, start))
    console.print(_trade_table("EXIT REASON STATS", "Exit reason", by_reason, trips, start))
    if result.strategies:
        console.print(_strategy_table(result.strategies))
    risk = result.risk_engine
    if risk.get("denials") or risk.get("modify_denials") or risk.get("state_changes"):
        console.print(_risk_table(risk))
    summary = Table(title="SUMMARY METRICS", title_style="bold")
    summary.add_column("Metric")
    summary.add_column("Value", justify="right")
    for key, label, _ in STATISTICS:
        if key in result.statistics:
            summary.add_row(label, format_statistic(key, result.statistics[key]))
    summary.add_section()
    summary.add_row("Final equity", f"{result.final_equity:,.2f}")
    summary.add_row("Results hash", result.results_hash[:16])
    console.print(summary)
