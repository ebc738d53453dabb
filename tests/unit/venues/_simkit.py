"""A tiny harness for venue tests: hand-written bars, a scripted strategy, one backtest run.

Bar ``i`` opens at ``T0 + i * MINUTE`` and closes (is known) one minute later. A scripted
strategy acts at the *close* of the bars named in its script, so an order placed on bar ``i``
meets the market first in bar ``i + 1``. Every expected number in the tests is read off the
OHLC written in the test itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ttquant.engine.backtest import BacktestEngine
from ttquant.model.data import Bar, BarType, QuoteTick, TradeTick
from ttquant.model.enums import AccountType, OrderStatus
from ttquant.model.events import OrderEvent, OrderFilled, OrderRejected
from ttquant.model.instruments import Instrument, spot
from ttquant.model.orders import Order
from ttquant.strategy.strategy import Strategy
from ttquant.venues.sim.models import FeeModel, FillModel, SlippageModel

MINUTE = 60_000_000_000
T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
IID = "BTC/USDT@SIM"

Action = Callable[["Script"], object]
OHLC = tuple[float, ...]  # open, high, low, close[, volume]


def open_ts(i: int, step: int = MINUTE) -> int:
    return T0 + i * step


def close_ts(i: int, step: int = MINUTE) -> int:
    return T0 + (i + 1) * step


def instrument(**rules: Any) -> Instrument:
    """BTC/USDT with a 0.01 tick and a 0.001 lot unless ``rules`` say otherwise."""
    base: dict[str, Any] = {"price_increment": 0.01, "size_increment": 0.001}
    base.update(rules)
    return spot("BTC/USDT", "SIM", **base)


class Script(Strategy):
    """Runs ``script[i](self)`` on market event ``i`` (bar close, tick, quote); records events."""

    def __init__(
        self,
        script: dict[int, Action] | None = None,
        *,
        strategy_id: str = "script",
        instruments: Sequence[str] = (),
    ) -> None:
        super().__init__(strategy_id=strategy_id, instruments=instruments)
        self.script = dict(script or {})
        self.bar_index = -1
        self.events: list[OrderEvent] = []
        self.bars: list[Bar] = []
        self.placed: dict[str, Order] = {}  # name -> order, for assertions

    def on_start(self) -> None:
        self.subscribe_bars()
        self.subscribe_trades()
        self.subscribe_quotes()

    def on_bar(self, bar: Bar) -> None:
        self.bars.append(bar)
        self._step()

    def on_trade(self, tick: TradeTick) -> None:
        self._step()

    def on_quote(self, quote: QuoteTick) -> None:
        self._step()

    def _step(self) -> None:
        """Market events of any kind are numbered 0, 1, 2, ... in the order they arrive."""
        self.bar_index += 1
        action = self.script.get(self.bar_index)
        if action is not None:
            action(self)

    def on_order(self, event: OrderEvent) -> None:
        self.events.append(event)

    # -- assertions helpers ---------------------------------------------------------------------
    def fills(self, name: str | None = None) -> list[OrderFilled]:
        wanted = None if name is None else self.placed[name].client_order_id
        return [
            e
            for e in self.events
            if isinstance(e, OrderFilled) and (wanted is None or e.client_order_id == wanted)
        ]

    def rejects(self) -> list[OrderRejected]:
        return [e for e in self.events if isinstance(e, OrderRejected)]

    def status(self, name: str) -> OrderStatus:
        return self.placed[name].status


def engine_for(
    bars: Sequence[OHLC],
    *,
    inst: Instrument | None = None,
    account_type: AccountType = AccountType.MARGIN,
    balances: dict[str, float] | None = None,
    leverage: float = 1.0,
    fill_model: FillModel | None = None,
    fee_model: FeeModel | None = None,
    slippage_model: SlippageModel | None = None,
    step: int = MINUTE,
    start: int = T0,
) -> BacktestEngine:
    """An engine with one venue, one instrument and ``bars`` (volume 1000 unless given)."""
    inst = inst or instrument()
    engine = BacktestEngine()
    engine.add_venue(
        "SIM",
        account_type=account_type,
        base_currency="USDT",
        starting_balances=balances or {"USDT": 1_000_000.0},
        leverage=leverage,
        fill_model=fill_model,
        fee_model=fee_model,
        slippage_model=slippage_model,
    )
    engine.add_instrument(inst)
    if bars:
        add_bars(engine, inst.id, bars, step, start)
    return engine


def add_bars(
    engine: BacktestEngine, iid: str, bars: Sequence[OHLC], step: int = MINUTE, start: int = T0
) -> None:
    rows = np.array([tuple(b) + ((1000.0,) if len(b) == 4 else ()) for b in bars], dtype=float)
    ts = start + np.arange(len(bars), dtype=np.int64) * step
    engine.add_bars(
        BarType(iid, step), ts, rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]
    )


def run(bars: Sequence[OHLC], script: dict[int, Action], **kwargs: Any) -> Script:
    """Run ``script`` over ``bars`` (see :func:`engine_for` for ``kwargs``); return the strategy."""
    return run_engine(engine_for(bars, **kwargs), script)


def run_engine(engine: BacktestEngine, script: dict[int, Action]) -> Script:
    strategy = Script(script)
    engine.add_strategy(strategy)
    engine.run()
    return strategy
