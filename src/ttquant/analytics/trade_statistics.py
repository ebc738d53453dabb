"""Statistics of closed round-trip trades.

A trade with a pnl of exactly zero counts towards ``n_trades`` but is neither a win nor a loss,
and it ends both a winning and a losing streak. Streaks follow the order of exit times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from ttquant.analytics._numeric import percent, ratio, sample_std
from ttquant.analytics.daily import NS_PER_SECOND
from ttquant.core.errors import DataError


@dataclass(frozen=True, slots=True)
class TradeArrays:
    """Closed round-trip trades as parallel arrays, one element per trade.

    Arrays rather than trade objects let every engine (event-driven, vectorized, live) hand over
    thousands of trades without a Python loop.
    """

    entry_ns: NDArray[np.int64]
    exit_ns: NDArray[np.int64]
    pnl: NDArray[np.float64]  # net of fees, account currency
    return_pct: NDArray[np.float64]  # pnl / entry notional, a fraction (0.01 == 1 %)
    fees: NDArray[np.float64]

    def __post_init__(self) -> None:
        sizes = {f.name: np.shape(getattr(self, f.name)) for f in fields(self)}
        if len(set(sizes.values())) != 1 or len(sizes["pnl"]) != 1:
            raise DataError(
                f"TradeArrays: arrays must be 1-D and of equal length, got shapes {sizes}"
            )
        for name in ("pnl", "return_pct", "fees"):
            finite = np.isfinite(getattr(self, name))
            if not finite.all():
                bad = int(np.argmin(finite))
                raise DataError(f"TradeArrays: {name} of trade {bad} is not a finite number")
        if np.any(self.exit_ns < self.entry_ns):
            bad = int(np.argmax(self.exit_ns < self.entry_ns))
            raise DataError(f"TradeArrays: trade {bad} exits before it enters")

    @classmethod
    def empty(cls) -> TradeArrays:
        no_times = np.empty(0, dtype=np.int64)
        no_values = np.empty(0, dtype=np.float64)
        return cls(no_times, no_times, no_values, no_values, no_values)


def trade_statistics(trades: TradeArrays) -> dict[str, float | int | None]:
    pnl = np.asarray(trades.pnl, dtype=np.float64)
    n = pnl.size
    wins = pnl[pnl > 0.0]
    losses = pnl[pnl < 0.0]
    avg_win = float(wins.mean()) if wins.size else None
    avg_loss = float(losses.mean()) if losses.size else None
    payoff = None if avg_win is None or avg_loss is None else avg_win / -avg_loss
    win_rate = ratio(wins.size, n)
    order = np.argsort(trades.exit_ns, kind="stable")
    stats: dict[str, float | int | None] = {
        "n_trades": n,
        "win_rate_pct": percent(win_rate),
        "avg_win": avg_win,
        "avg_loss": avg_loss,
        "largest_win": float(wins.max()) if wins.size else None,
        "largest_loss": float(losses.min()) if losses.size else None,
        "payoff_ratio": payoff,
        "profit_factor": ratio(float(wins.sum()), -float(losses.sum())),
        "kelly_criterion": (
            None if payoff is None or win_rate is None else win_rate - (1.0 - win_rate) / payoff
        ),
        "sqn": _sqn(pnl),
        "max_consecutive_wins": _longest_run(pnl[order] > 0.0),
        "max_consecutive_losses": _longest_run(pnl[order] < 0.0),
        "total_fees": float(np.sum(trades.fees)),
    }
    stats.update(_per_trade_extremes(trades) if n else _NO_TRADE_EXTREMES)
    return stats


_NO_TRADE_EXTREMES: dict[str, float | int | None] = dict.fromkeys(
    (
        "best_trade_pct",
        "worst_trade_pct",
        "avg_trade_pct",
        "expectancy",
        "max_trade_duration",
        "avg_trade_duration",
    )
)


def _per_trade_extremes(trades: TradeArrays) -> dict[str, float | int | None]:
    returns = np.asarray(trades.return_pct, dtype=np.float64)
    durations_s = (trades.exit_ns - trades.entry_ns) / NS_PER_SECOND
    return {
        "best_trade_pct": float(returns.max()) * 100.0,
        "worst_trade_pct": float(returns.min()) * 100.0,
        "avg_trade_pct": float(returns.mean()) * 100.0,
        "expectancy": float(np.mean(trades.pnl)),
        "max_trade_duration": float(durations_s.max()),
        "avg_trade_duration": float(durations_s.mean()),
    }


def _sqn(pnl: NDArray[np.float64]) -> float | None:
    """Van Tharp's System Quality Number; None below two trades or when all pnls are equal."""
    std = sample_std(pnl)
    if not std:
        return None
    return math.sqrt(pnl.size) * float(pnl.mean()) / std


def _longest_run(flags: NDArray[np.bool_]) -> int:
    edges = np.diff(np.concatenate(([0], flags.view(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return int((ends - starts).max()) if starts.size else 0
