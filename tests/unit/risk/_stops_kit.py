"""Shared by the stop-manager tests: a strategy that enters on a schedule and leaves through its
exit plan, and a backtest that returns every fill as plain numbers for comparison."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ttquant.engine.backtest import BacktestEngine
from ttquant.model.data import Bar, QuoteTick, TradeTick
from ttquant.model.events import OrderEvent
from ttquant.risk.stops import ExitPlan, Watch
from ttquant.strategy.strategy import Strategy

FillRow = tuple[int, int, str, float, float, float, str]


class ScheduledEntries(Strategy):
    """Enters ``quantity`` (sign: side) at market event ``i`` (a bar close or a trade) named in
    ``entries`` when flat, and lets ``self.stops`` take it out again; records its order events.
    With ``hold``, it closes a position still open ``hold`` events after its entry itself."""

    def __init__(
        self,
        plan: ExitPlan,
        entries: Mapping[int, float],
        *,
        emulate: bool | None = False,
        watch: Watch = "bars",
        hold: int | None = None,
    ) -> None:
        super().__init__(strategy_id="entries")
        self.plan = plan
        self.entries = dict(entries)
        self.emulate = emulate
        self.watch: Watch = watch
        self.hold = hold
        self.entered = -1
        self.index = -1
        self.events: list[OrderEvent] = []

    def on_start(self) -> None:
        if self.watch == "trades":
            self.subscribe_trades()
        elif self.watch == "quotes":
            self.subscribe_quotes()
        else:
            self.subscribe_bars()
        self.stops.protect(self.plan, emulate=self.emulate, watch=self.watch)

    def on_order(self, event: OrderEvent) -> None:
        self.events.append(event)

    def on_trade(self, tick: TradeTick) -> None:
        self._step()

    def on_quote(self, quote: QuoteTick) -> None:
        self._step()

    def on_bar(self, bar: Bar) -> None:
        self._step()

    def _step(self) -> None:
        self.index += 1
        quantity = self.entries.get(self.index)
        flat = self.position().is_flat
        if self.hold is not None and not flat and self.index - self.entered >= self.hold:
            self.close_position()
            return
        if quantity and flat and not self.open_orders():
            self.entered = self.index
            if quantity > 0:
                self.buy(quantity)
            else:
                self.sell(-quantity)


def fill_rows(engine: BacktestEngine) -> list[FillRow]:
    """Every fill as (ts_event, ts_init, side, qty, price, commission, liquidity)."""
    return [
        (
            f.ts_event,
            f.ts_init,
            f.side.value,
            f.last_qty,
            f.last_px,
            f.commission,
            f.liquidity_side.value,
        )
        for f in engine.execution.fills
    ]


def exit_reasons(engine: BacktestEngine) -> list[str]:
    return [t.exit_reason for t in engine.cache.round_trips]


def run_both(
    build: Any, plan: ExitPlan, entries: Mapping[int, float], **kwargs: Any
) -> tuple[BacktestEngine, BacktestEngine]:
    """Run the same backtest with native and with emulated exits; ``build()`` makes an engine."""
    engines = []
    for emulate in (False, True):
        engine = build()
        engine.add_strategy(ScheduledEntries(plan, entries, emulate=emulate, **kwargs))
        engine.run()
        engines.append(engine)
    return engines[0], engines[1]
