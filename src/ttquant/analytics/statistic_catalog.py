"""Display order, labels and kinds of the performance statistics, and their table formatting.

The catalogue is the single list of statistic keys: :func:`compute_statistics` returns its keys
in this order, and reports render rows from it, so a new statistic is added here once.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

StatisticKind = Literal["percent", "ratio", "money", "count", "duration", "timestamp"]
StatisticValue = float | int | str | None


class StatisticSpec(NamedTuple):
    key: str
    label: str
    kind: StatisticKind


STATISTICS: list[StatisticSpec] = [
    StatisticSpec("start", "Start", "timestamp"),
    StatisticSpec("end", "End", "timestamp"),
    StatisticSpec("duration", "Duration", "duration"),
    StatisticSpec("exposure_time_pct", "Exposure time", "percent"),
    StatisticSpec("equity_start", "Equity start", "money"),
    StatisticSpec("equity_final", "Equity final", "money"),
    StatisticSpec("equity_peak", "Equity peak", "money"),
    StatisticSpec("total_return_pct", "Total return", "percent"),
    StatisticSpec("buy_hold_return_pct", "Buy & hold return", "percent"),
    StatisticSpec("cagr_pct", "CAGR", "percent"),
    StatisticSpec("annual_return_pct", "Annual return (geometric)", "percent"),
    StatisticSpec("annual_volatility_pct", "Annual volatility", "percent"),
    StatisticSpec("sharpe", "Sharpe ratio", "ratio"),
    StatisticSpec("sortino", "Sortino ratio", "ratio"),
    StatisticSpec("calmar", "Calmar ratio", "ratio"),
    StatisticSpec("omega", "Omega ratio", "ratio"),
    StatisticSpec("alpha", "Alpha (annual)", "ratio"),
    StatisticSpec("beta", "Beta", "ratio"),
    StatisticSpec("max_drawdown_pct", "Max drawdown", "percent"),
    StatisticSpec("avg_drawdown_pct", "Avg drawdown", "percent"),
    StatisticSpec("max_drawdown_duration", "Max drawdown duration", "duration"),
    StatisticSpec("avg_drawdown_duration", "Avg drawdown duration", "duration"),
    StatisticSpec("n_trades", "Trades", "count"),
    StatisticSpec("win_rate_pct", "Win rate", "percent"),
    StatisticSpec("best_trade_pct", "Best trade", "percent"),
    StatisticSpec("worst_trade_pct", "Worst trade", "percent"),
    StatisticSpec("avg_trade_pct", "Avg trade", "percent"),
    StatisticSpec("avg_win", "Avg win", "money"),
    StatisticSpec("avg_loss", "Avg loss", "money"),
    StatisticSpec("largest_win", "Largest win", "money"),
    StatisticSpec("largest_loss", "Largest loss", "money"),
    StatisticSpec("payoff_ratio", "Payoff ratio", "ratio"),
    StatisticSpec("profit_factor", "Profit factor", "ratio"),
    StatisticSpec("expectancy", "Expectancy per trade", "money"),
    StatisticSpec("sqn", "SQN", "ratio"),
    StatisticSpec("kelly_criterion", "Kelly criterion", "ratio"),
    StatisticSpec("max_trade_duration", "Max trade duration", "duration"),
    StatisticSpec("avg_trade_duration", "Avg trade duration", "duration"),
    StatisticSpec("max_consecutive_wins", "Max consecutive wins", "count"),
    StatisticSpec("max_consecutive_losses", "Max consecutive losses", "count"),
    StatisticSpec("total_fees", "Total fees", "money"),
    StatisticSpec("winning_days", "Winning days", "count"),
    StatisticSpec("losing_days", "Losing days", "count"),
    StatisticSpec("daily_win_rate_pct", "Daily win rate", "percent"),
    StatisticSpec("best_day_pct", "Best day", "percent"),
    StatisticSpec("worst_day_pct", "Worst day", "percent"),
    StatisticSpec("skew", "Skew (daily)", "ratio"),
    StatisticSpec("kurtosis", "Excess kurtosis (daily)", "ratio"),
    StatisticSpec("tail_ratio", "Tail ratio", "ratio"),
]

_KIND_BY_KEY: dict[str, StatisticKind] = {spec.key: spec.kind for spec in STATISTICS}
_MISSING = "n/a"
_US_PER_SECOND = 1_000_000
_SECONDS_PER_DAY = 86_400


def format_statistic(key: str, value: StatisticValue) -> str:
    """Render one value of :func:`compute_statistics` for a table; None shows as ``n/a``.

    Raises KeyError for a key that is not in :data:`STATISTICS`.
    """
    kind = _KIND_BY_KEY[key]
    if value is None:
        return _MISSING
    if isinstance(value, str):  # timestamps are already ISO-8601 strings
        return value
    match kind:
        case "percent":
            return f"{value:.2f}%"
        case "ratio":
            return f"{value:.2f}"
        case "money":
            return f"{value:,.2f}"
        case "count":
            return str(int(value))
        case "duration":
            return format_duration(value)
        case "timestamp":
            raise TypeError(f"statistic {key!r} must be an ISO-8601 string, got {value!r}")


def format_duration(seconds: float) -> str:
    """pandas-style ``"3 days 04:05:00"`` of a non-negative duration.

    Sub-second digits are shown only for durations under a minute, where they carry meaning;
    longer durations are rounded to the second.
    """
    if seconds >= 60:
        seconds = round(seconds)
    total_us = round(seconds * _US_PER_SECOND)
    total_s, micros = divmod(total_us, _US_PER_SECOND)
    days, rest = divmod(total_s, _SECONDS_PER_DAY)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    fraction = f".{micros:06d}" if micros else ""
    return f"{days} days {hours:02d}:{minutes:02d}:{secs:02d}{fraction}"
