"""No order trades on a price from before it was sent, and no strategy acts on a bar before
every venue has matched that time's bars (found in review; each case once failed)."""

from __future__ import annotations

from _simkit import MINUTE, T0, Script, add_bars, engine_for, instrument, run

from ttquant.core.clock import TimeEvent
from ttquant.model.data import Bar
from ttquant.model.enums import OrderSide, OrderStatus
from ttquant.model.instruments import spot

HOUR = 60 * MINUTE


class CrossInstrument(Script):
    """On instrument A's first bar, buy instrument B (whose bar of the same time comes later)."""

    def on_bar(self, bar: Bar) -> None:
        if bar.instrument_id == "ETH/USDT@SIM" and not self.placed:
            self.placed["b"] = self.buy(1.0, instrument_id="BTC/USDT@SIM")


def test_order_on_another_instrument_waits_for_that_instruments_next_bar() -> None:
    engine = engine_for([])
    eth = spot("ETH/USDT", "SIM", price_increment=0.01, size_increment=0.001)
    engine.add_instrument(eth)
    engine.add_instrument(instrument())
    add_bars(engine, eth.id, [(10.0, 10.0, 10.0, 10.0)] * 3)  # added first: dispatched first
    add_bars(
        engine,
        "BTC/USDT@SIM",
        [(100.0, 100.0, 100.0, 100.0), (200.0, 200.0, 200.0, 200.0), (300.0, 300.0, 300.0, 300.0)],
    )
    strategy = CrossInstrument(instruments=[eth.id, "BTC/USDT@SIM"])
    engine.add_strategy(strategy)
    engine.run()
    (fill,) = strategy.fills("b")
    # decided at the close of minute 0: the BTC bar of minute 0 (open 100) is the past
    assert (fill.last_px, fill.ts_event) == (200.0, T0 + MINUTE)


class MidBarTimer(Script):
    def on_start(self) -> None:
        super().on_start()
        self.clock.set_time_alert("buy", T0 + HOUR + 30 * MINUTE, self.on_timer)

    def on_timer(self, event: TimeEvent) -> None:
        self.placed["o"] = self.buy(1.0)


def test_order_sent_inside_a_bar_does_not_fill_at_that_bars_open() -> None:
    bars = [
        (100.0, 100.0, 100.0, 100.0),
        (110.0, 110.0, 110.0, 110.0),
        (120.0, 120.0, 120.0, 120.0),
        (130.0, 130.0, 130.0, 130.0),
    ]
    engine = engine_for(bars, step=HOUR)
    strategy = MidBarTimer()
    engine.add_strategy(strategy)
    engine.run()
    (fill,) = strategy.fills("o")
    # sent at 01:30, inside the 01:00-02:00 bar: the first price it may meet is 02:00's open
    assert (fill.last_px, fill.ts_event) == (120.0, T0 + 2 * HOUR)


class PastAlert(Script):
    def on_bar(self, bar: Bar) -> None:
        if not self.placed and bar.ts_init == T0 + 2 * MINUTE:
            self.clock.set_time_alert("late", T0, self.on_timer)
            self.placed["seen_at"] = bar  # type: ignore[assignment]

    def on_timer(self, event: TimeEvent) -> None:
        self.fired_at = self.clock.timestamp_ns()


def test_an_alert_set_in_the_past_fires_without_rewinding_the_clock() -> None:
    engine = engine_for([(1.0, 1.0, 1.0, 1.0)] * 4)
    strategy = PastAlert()
    engine.add_strategy(strategy)
    engine.run()
    assert strategy.fired_at == T0 + 2 * MINUTE  # at once, at the time it was set: not at T0


def test_stop_loss_released_inside_the_bar_does_not_beat_the_take_profit() -> None:
    """A buy-stop entry at 104 triggers on the way up from the low; its stop-loss (102) was not
    working when the bar touched 97, so the later take-profit at 106 fills."""

    def act(s: Script) -> None:
        entry, stop, take = s.bracket(
            OrderSide.BUY, 1.0, entry_trigger=104.0, stop_loss=102.0, take_profit=106.0
        )
        s.placed.update(entry=entry, sl=stop, tp=take)

    flat = (100.0, 100.0, 100.0, 100.0)
    st = run([flat, (101.0, 106.0, 97.0, 105.0)], {0: act})
    assert st.fills("entry")[0].last_px == 104.0
    assert st.fills("tp")[0].last_px == 106.0
    assert st.fills("sl") == []
    assert st.status("sl") is OrderStatus.CANCELED
