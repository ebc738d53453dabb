"""The portfolio's equity when strategies share an account."""

from __future__ import annotations

import pytest
from tests.unit.venues._simkit import MINUTE, T0, Script, engine_for

from ttquant.model.data import Bar


class Trader(Script):
    def __init__(self, strategy_id: str, side: str) -> None:
        super().__init__(strategy_id=strategy_id)
        self.side = side

    def on_bar(self, bar: Bar) -> None:
        super().on_bar(bar)
        if self.bar_index == 0:
            self.buy(1.0) if self.side == "buy" else self.sell(1.0)
        if self.bar_index == 2:
            self.equity_seen = self.portfolio.equity()


def test_equity_counts_the_venues_net_position_not_each_strategys() -> None:
    # A buys 1 at 100 (bar 1 open), B sells 1 at 100: flat at the venue. The price then moves
    # to 110: the account is worth exactly its 1000 start (no fees), not 1000 + 10 - 10 twice.
    bars = [(100.0,) * 4, (100.0, 100.0, 100.0, 110.0), (110.0,) * 4, (110.0,) * 4]
    engine = engine_for(bars, balances={"USDT": 1000.0})
    a, b = Trader("a", "buy"), Trader("b", "sell")
    engine.add_strategy(a)
    engine.add_strategy(b)
    curve = engine.run()
    assert a.equity_seen == pytest.approx(1000.0)
    assert engine.portfolio.unrealized_pnl("a") == pytest.approx(10.0)  # attribution per
    assert engine.portfolio.unrealized_pnl("b") == pytest.approx(-10.0)  # strategy still holds
    assert curve.equity[-1] == pytest.approx(1000.0)
    assert curve.ts[0] == T0 + MINUTE
