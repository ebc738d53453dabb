"""Per-strategy results of a backtest: what each strategy sharing the account made of it.

The PnL path of each owner (a strategy, or the unattributed bucket for fills no strategy sent)
comes from its own fills, valued like the account's equity curve; the paths add up to the
account's equity minus its starting equity at every sample. Realized and unrealized PnL come
from the strategy's positions, an independent route to the same final figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ttquant.analytics.drawdown import summarize_drawdowns
from ttquant.engine.backtest import BacktestEngine, EquityCurve
from ttquant.model.enums import OrderStatus
from ttquant.portfolio.portfolio import UNATTRIBUTED, StrategyPnl


@dataclass(frozen=True, slots=True)
class StrategyResult:
    strategy_id: str
    capital: float | None  # allocated capital; None when the strategy has no allocation
    pnl: float  # final PnL: realized (net of commissions) + unrealized
    realized: float
    unrealized: float
    commissions: float
    trades: int
    wins: int
    orders: int
    denied: int  # orders the risk engine refused
    return_pct: float | None  # pnl / capital, in percent
    max_drawdown_pct: float | None  # of capital + PnL, from its peak

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def strategy_results(engine: BacktestEngine, curve: EquityCurve) -> list[StrategyResult]:
    """One result per strategy of the run, then the unattributed bucket if anything is in it."""
    pnl = engine.portfolio.pnl_by_strategy()
    owners = [s.id for s in engine.strategies]
    if UNATTRIBUTED in pnl or UNATTRIBUTED in curve.pnl_by_owner:
        owners.append(UNATTRIBUTED)
    orders: dict[str, int] = {}
    denied: dict[str, int] = {}
    for order in engine.cache.orders.values():
        orders[order.strategy_id] = orders.get(order.strategy_id, 0) + 1
        if order.status is OrderStatus.DENIED:
            denied[order.strategy_id] = denied.get(order.strategy_id, 0) + 1
    trades: dict[str, list[float]] = {}
    for trip in engine.cache.round_trips:
        trades.setdefault(trip.strategy_id, []).append(trip.pnl)
    zero = StrategyPnl(realized=0.0, unrealized=0.0, commissions=0.0)
    results = []
    for owner in owners:
        path = curve.pnl_by_owner.get(owner)
        if path is None:
            path = np.zeros(len(curve.ts))
        final = float(path[-1]) if len(path) else 0.0
        parts = pnl.get(owner, zero)
        capital = engine.portfolio.capitals.get(owner)
        drawdown = None
        if capital is not None and len(path):
            drawdown = summarize_drawdowns(curve.ts, capital + path).max_depth * 100.0
        owner_trades = trades.get(owner, [])
        results.append(
            StrategyResult(
                strategy_id=owner,
                capital=capital,
                pnl=final,
                realized=parts.realized,
                unrealized=parts.unrealized,
                commissions=parts.commissions,
                trades=len(owner_trades),
                wins=sum(1 for p in owner_trades if p > 0.0),
                orders=orders.get(owner, 0),
                denied=denied.get(owner, 0),
                return_pct=final / capital * 100.0 if capital else None,
                max_drawdown_pct=drawdown,
            )
        )
    return results
