"""The backtest engine end to end: determinism, several instruments and strategies, timers,
and errors raised by strategy code."""

from __future__ import annotations

import gzip
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from ttquant.core.clock import TimeEvent
from ttquant.core.errors import ConfigError, StrategyError
from ttquant.core.time import ns_to_iso
from ttquant.engine.backtest import BacktestEngine
from ttquant.model.data import Bar, BarType
from ttquant.model.enums import OrderSide
from ttquant.model.events import OrderFilled
from ttquant.model.instruments import spot
from ttquant.strategy.strategy import Strategy
from ttquant.venues.sim.models import FillModel

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
MINUTE = 60_000_000_000
T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z


def _real_bars(symbol: str, rows: int) -> np.ndarray:
    """The first ``rows`` one-minute bars of a Binance spot file: ts_ms, o, h, l, c, v."""
    path = SHARED / "bars_1m" / f"binance_spot_{symbol}_1m_2022-2024.csv.gz"
    if not path.is_file():
        pytest.fail(f"real market data {path.resolve()} is missing (see the README)")
    with gzip.open(path, "rt") as fh:
        lines = list(islice(fh, 1, rows + 1))
    return np.loadtxt(lines, delimiter=",", dtype=np.float64)


class Breakout(Strategy):
    """Enough order traffic to exercise the venue: brackets, trailing stops, limit entries."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.n = 0

    def on_bar(self, bar: Bar) -> None:
        self.n += 1
        iid = bar.bar_type.instrument_id
        inst = self.cache.instrument(iid)
        pos = self.position(iid)
        if self.n % 37 == 0 and pos.is_flat and not self.open_orders(iid):
            self.bracket(
                OrderSide.BUY,
                0.01,
                instrument_id=iid,
                stop_loss=inst.round_price(bar.close * 0.998),
                take_profit=inst.round_price(bar.close * 1.002),
            )
        elif self.n % 53 == 0 and pos.is_flat:
            self.sell(0.01, instrument_id=iid, price=inst.round_price(bar.close * 1.001))
        elif self.n % 29 == 0 and pos.side.value == "SHORT":
            self.trailing_stop(
                OrderSide.BUY, abs(pos.quantity), 0.1, percent=True, instrument_id=iid
            )


def _engine(rows: int = 1500) -> BacktestEngine:
    engine = BacktestEngine()
    engine.add_venue(
        "BINANCE",
        starting_balances={"USDT": 100_000.0},
        leverage=3.0,
        fill_model=FillModel(volume_limit=0.5),
    )
    for symbol in ("BTCUSDT", "ETHUSDT"):
        inst = spot(
            f"{symbol[:3]}/USDT",
            "BINANCE",
            price_increment=0.01,
            size_increment=0.0001,
            taker_fee=0.001,
            maker_fee=0.0002,
        )
        engine.add_instrument(inst)
        data = _real_bars(symbol, rows)
        engine.add_bars(
            BarType(inst.id, MINUTE),
            data[:, 0].astype(np.int64) * 1_000_000,
            data[:, 1],
            data[:, 2],
            data[:, 3],
            data[:, 4],
            data[:, 5],
        )
    return engine


def test_two_runs_of_the_same_config_are_identical() -> None:
    results = []
    for _ in range(2):
        engine = _engine()
        engine.add_strategy(Breakout())
        curve = engine.run()
        results.append(
            (
                engine.execution.fills,
                engine.results_hash(curve),
                list(engine.cache.round_trips),
                curve.equity.tolist(),
            )
        )
    (fills_a, hash_a, trips_a, eq_a), (fills_b, hash_b, trips_b, eq_b) = results
    assert len(fills_a) > 20 and len(trips_a) > 5  # the run did trade
    assert fills_a == fills_b
    assert trips_a == trips_b
    assert eq_a == eq_b
    assert hash_a == hash_b


class Recorder(Strategy):
    """Logs what it sees and buys once on its own instrument."""

    def __init__(self, log: list[tuple[str, int, str]], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.seen = log
        self.bought = False

    def on_bar(self, bar: Bar) -> None:
        assert self.clock.timestamp_ns() == bar.ts_init
        self.seen.append((self.id, bar.ts_init, bar.bar_type.instrument_id))
        if not self.bought:
            self.bought = True
            self.buy(1.0)


def test_several_instruments_and_strategies_in_timestamp_order() -> None:
    engine = BacktestEngine()
    engine.add_venue("SIM", starting_balances={"USDT": 1e6})
    a, b = spot("AAA/USDT", "SIM"), spot("BBB/USDT", "SIM")
    for inst in (a, b):
        engine.add_instrument(inst)
    # AAA: 1-minute bars from T0; BBB: 2-minute bars from T0 + 1 minute
    ta = T0 + np.arange(6, dtype=np.int64) * MINUTE
    tb = T0 + MINUTE + np.arange(3, dtype=np.int64) * 2 * MINUTE
    pa, pb = 10.0 + np.arange(6.0), 50.0 + np.arange(3.0)
    engine.add_bars(BarType(a.id, MINUTE), ta, pa, pa, pa, pa, np.ones(6))
    engine.add_bars(BarType(b.id, 2 * MINUTE), tb, pb, pb, pb, pb, np.ones(3))
    log: list[tuple[str, int, str]] = []
    engine.add_strategy(Recorder(log, strategy_id="ra", instruments=[a.id]))
    engine.add_strategy(Recorder(log, strategy_id="rb", instruments=[b.id]))
    engine.run()
    seen = [(ts, iid) for _, ts, iid in log]
    # closes: AAA at T0+1..6 min, BBB at T0+3, 5, 7 min; at equal times the series added first
    expected = sorted(
        [(int(t) + MINUTE, a.id) for t in ta] + [(int(t) + 2 * MINUTE, b.id) for t in tb],
        key=lambda x: (x[0], x[1] != a.id),
    )
    assert seen == expected
    assert {sid for sid, _, iid in log if iid == a.id} == {"ra"}
    fills = engine.execution.fills
    assert [(f.strategy_id, f.instrument_id, f.last_px) for f in fills] == [
        ("ra", a.id, 11.0),
        ("rb", b.id, 51.0),
    ]
    assert engine.portfolio.position("ra", a.id).quantity == 1.0
    assert engine.portfolio.position("rb", b.id).quantity == 1.0
    assert engine.portfolio.position("ra", b.id).is_flat


class Timed(Strategy):
    def __init__(self, log: list[tuple[str, int, int]], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.seen = log

    def on_start(self) -> None:
        super().on_start()
        self.set_timer("half", "30s")

    def on_timer(self, event: TimeEvent) -> None:
        self.seen.append(("timer", event.ts_event, self.clock.timestamp_ns()))

    def on_bar(self, bar: Bar) -> None:
        self.seen.append(("bar", bar.ts_init, self.clock.timestamp_ns()))


def test_timers_fire_between_bars_in_time_order() -> None:
    engine = BacktestEngine()
    engine.add_venue("SIM", starting_balances={"USDT": 1e6})
    inst = spot("AAA/USDT", "SIM")
    engine.add_instrument(inst)
    ts = T0 + np.arange(3, dtype=np.int64) * MINUTE
    px = np.array([10.0, 11.0, 12.0])
    engine.add_bars(BarType(inst.id, MINUTE), ts, px, px, px, px, np.ones(3))
    log: list[tuple[str, int, int]] = []
    engine.add_strategy(Timed(log))
    engine.run()
    s = 1_000_000_000
    # the run starts at the first event (the close of bar 0, T0+60s); the timer is set then
    expected = [
        ("bar", T0 + 60 * s),
        ("timer", T0 + 90 * s),
        ("timer", T0 + 120 * s),
        ("bar", T0 + 120 * s),
        ("timer", T0 + 150 * s),
        ("timer", T0 + 180 * s),
        ("bar", T0 + 180 * s),
    ]
    assert [(kind, ts_) for kind, ts_, _ in log] == expected
    assert all(ts_ == now for _, ts_, now in log)  # callbacks see the time they were due


class Faulty(Strategy):
    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.n = 0

    def on_bar(self, bar: Bar) -> None:
        self.n += 1
        if self.n == 3:
            raise ValueError("boom")

    def on_fill(self, fill: OrderFilled) -> None: ...


def test_strategy_exception_becomes_strategy_error_with_where_and_when() -> None:
    engine = BacktestEngine()
    engine.add_venue("SIM", starting_balances={"USDT": 1e6})
    inst = spot("AAA/USDT", "SIM")
    engine.add_instrument(inst)
    ts = T0 + np.arange(5, dtype=np.int64) * MINUTE
    px = np.full(5, 10.0)
    engine.add_bars(BarType(inst.id, MINUTE), ts, px, px, px, px, np.ones(5))
    engine.add_strategy(Faulty(strategy_id="faulty"))
    with pytest.raises(StrategyError) as info:
        engine.run()
    message = str(info.value)
    assert "'faulty'" in message
    assert "on_bar" in message
    assert ns_to_iso(T0 + 3 * MINUTE) in message  # the close of the third bar
    assert "ValueError" in message and "boom" in message
    assert isinstance(info.value.__cause__, ValueError)


def test_an_engine_runs_once() -> None:
    from tests.unit.venues._simkit import Script, engine_for

    engine = engine_for([(1.0, 1.0, 1.0, 1.0)] * 2)
    engine.add_strategy(Script())
    engine.run()
    with pytest.raises(ConfigError, match="runs once"):
        engine.run()
