"""Pre-trade risk check cost per order, with every rule on; and what risk costs a backtest.

1. ``check``: the risk engine's verdict on one order against a kernel holding positions in two
   instruments and 12 resting orders; the order passes every rule, so every rule runs. *Every
   rule*: order size and notional, price band, duplicates, self-trade, cancel count and ratio,
   position limits of the account, the strategy and the instrument, gross/net exposure of the
   account and the strategy, open-order counts, two token buckets. *Common rules*: order size
   and notional, price band, the instrument's position limit, open orders, the order rate.
2. ``submit + cancel``: a limit order from the strategy's call to the venue's accept, then its
   cancel (risk checks, OMS, venue, events, the risk engine's bookkeeping of them), with every
   rule on, with no ``[risk]`` (the engine forwards untouched), and straight into the OMS without
   a risk engine.
3. ``bars``: the SMA(10/30) cross on real 1-minute bars with no ``[risk]``, and with the daily
   loss and drawdown gates on (equity sampled at every bar).

Times are CPU time of this process (``time.process_time``), the best of ``--repeat`` runs: on
a shared machine wall time also counts the other processes' turns on the cores.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from pathlib import Path

from ttquant.core.bus import MessageBus
from ttquant.core.clock import TestClock
from ttquant.execution.engine import ExecutionEngine
from ttquant.model.cache import Cache
from ttquant.model.data import QuoteTick
from ttquant.model.enums import OrderSide, OrderType
from ttquant.model.instruments import spot
from ttquant.model.orders import Order
from ttquant.portfolio.portfolio import Portfolio
from ttquant.risk.config import Limits, LossStreak, Rate, RiskConfig, StrategyRisk
from ttquant.risk.engine import RiskEngine
from ttquant.venues.sim.venue import SimulatedVenue

T0 = 1_704_067_200_000_000_000
BTC = spot("BTC/USDT", "SIM", price_increment=0.01, size_increment=0.001)
ETH = spot("ETH/USDT", "SIM", price_increment=0.01, size_increment=0.001)
DATA = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "bars_1m"
    / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz"
)

ALL_RULES = RiskConfig(
    max_order_qty=50.0,
    max_order_notional=1_000_000.0,
    price_band_pct=10.0,
    max_position_qty=1_000.0,
    max_position_notional=10_000_000.0,
    max_open_orders=1_000_000,
    max_daily_cancels=1_000_000,
    max_cancel_ratio=1.0,
    max_gross_exposure=1e9,
    max_net_exposure=1e9,
    order_rate=Rate(limit=1_000_000_000, per="1s"),
    modify_rate=Rate(limit=1_000_000_000, per="1s"),
    deny_duplicates=True,
    max_daily_loss_pct=50.0,
    max_drawdown_pct=50.0,
    loss_streak=LossStreak(losses=1_000, cooldown="1h"),
    self_trade="account",
    strategies={
        "s1": StrategyRisk(
            capital_weight=0.5,
            max_order_qty=40.0,
            max_position_qty=900.0,
            max_open_orders=1_000_000,
            max_gross_exposure=1e9,
            max_net_exposure=1e9,
            order_rate=Rate(limit=1_000_000_000, per="1s"),
            deny_duplicates=True,
            max_drawdown_pct=50.0,
        )
    },
    instruments={
        BTC.id: Limits(
            max_order_qty=30.0,
            max_position_qty=800.0,
            max_open_orders=1_000_000,
            max_daily_cancels=1_000_000,
        )
    },
)


# what most accounts set: order size and price sanity, a position cap, open orders, a rate
COMMON_RULES = RiskConfig(
    max_order_qty=50.0,
    max_order_notional=1_000_000.0,
    price_band_pct=10.0,
    max_open_orders=1_000_000,
    order_rate=Rate(limit=1_000_000_000, per="1s"),
    instruments={BTC.id: Limits(max_position_qty=800.0)},
)


class Kernel:
    """Clock, cache, bus, portfolio, OMS, simulated venue and risk engine, driven by hand."""

    def __init__(self, config: RiskConfig | None) -> None:
        self.clock = TestClock(T0)
        self.cache = Cache(self.clock.timestamp_ns)
        self.bus = MessageBus()
        self.portfolio = Portfolio(self.cache)
        self.execution = ExecutionEngine(self.bus, self.cache, self.portfolio)
        venue = SimulatedVenue("SIM", self.cache, starting_balances={"USDT": 1e9})
        self.execution.register_venue(venue)
        self.portfolio.register_account(venue.account, venue.positions)
        for inst, px in ((BTC, 100.0), (ETH, 20.0)):
            self.cache.add_instrument(inst)
            venue.add_instrument(inst)
            quote = QuoteTick(inst.id, px - 0.01, px + 0.01, 10.0, 10.0, T0, T0)
            self.cache.quotes[inst.id] = quote
            self.cache.prices[inst.id] = px
        self.venue = venue
        self.risk = RiskEngine(self.cache, self.portfolio, self.execution, self.bus)
        self.risk.configure(config)
        self.risk.start(["s1", "s2"], "USDT")
        self.seq = 0

    def order(self, side: OrderSide, qty: float, price: float | None, iid: str = BTC.id) -> Order:
        self.seq += 1
        return Order(
            client_order_id=f"s1-{self.seq}",
            strategy_id="s1",
            instrument_id=iid,
            side=side,
            order_type=OrderType.MARKET if price is None else OrderType.LIMIT,
            quantity=qty,
            price=price,
            ts_init=T0,
        )

    def with_book(self) -> Kernel:
        """Positions in both instruments and 12 resting limit orders on each side."""
        for iid, qty in ((BTC.id, 5.0), (ETH.id, -20.0)):
            side = OrderSide.BUY if qty > 0 else OrderSide.SELL
            self.risk.submit([self.order(side, abs(qty), None, iid)])
            self.execution.process_events()
            q = self.cache.quotes[iid]
            self.venue.process_quote(q)
            self.execution.process_events()
        for k in range(6):
            self.risk.submit([self.order(OrderSide.BUY, 0.1, 97.0 - k, BTC.id)])
            self.risk.submit([self.order(OrderSide.SELL, 0.1, 103.0 + k, BTC.id)])
        self.execution.process_events()
        return self


def best_ns_per(fn: Callable[[], None], n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        start = time.process_time_ns()
        fn()
        elapsed = time.process_time_ns() - start
        gc.enable()
        best = min(best, elapsed / n)
    return best


def bench_call(n: int, repeat: int) -> float:
    """An empty Python function call, in ns: the yardstick of this machine at this moment."""

    def nothing(_: int) -> None:
        return None

    def run() -> None:
        for i in range(n):
            nothing(i)

    return best_ns_per(run, n, repeat)


def bench_check(config: RiskConfig, n: int, repeat: int) -> float:
    kernel = Kernel(config).with_book()
    risk = kernel.risk
    orders = [
        kernel.order(OrderSide.BUY, 0.001 * (1 + i % 50), 99.0 - 0.01 * (i % 90)) for i in range(n)
    ]
    for i, o in enumerate(orders):
        o.client_order_id = f"x-{i}"
    check = risk._check_submit  # the verdict alone, as submit() asks for it
    assert all(check([o], T0) is None for o in orders[:100]), "benchmark orders must pass"

    def run() -> None:
        for o in orders:
            check([o], T0)

    return best_ns_per(run, n, repeat) / 1_000


def submit_cancel_run(config: RiskConfig | None, through_risk: bool, n: int) -> float:
    """Submit a limit order and cancel it once accepted (the book keeps its size): µs/order."""
    kernel = Kernel(config).with_book()
    orders = [kernel.order(OrderSide.BUY, 0.001, 95.0 - 0.01 * (i % 400)) for i in range(n + 1)]
    for i, o in enumerate(orders):
        o.client_order_id = f"x-{i}"
    gateway = kernel.risk if through_risk else kernel.execution
    process = kernel.execution.process_events
    kernel.risk.submit([orders[0]])
    process()
    assert orders[0].status.value == "ACCEPTED", "benchmark orders must pass"
    gateway.cancel(orders[0])
    process()

    def run(
        orders: list[Order] = orders[1:],
        submit: Callable[[list[Order]], None] = gateway.submit,
        cancel: Callable[[Order], None] = gateway.cancel,
    ) -> None:
        for o in orders:
            submit([o])
            process()
            cancel(o)
            process()

    return best_ns_per(run, n, 1) / 1_000


def bench_submit(n: int, repeat: int) -> dict[str, float]:
    """The three ways in turn, ``repeat`` times: a load change hits all of them alike."""
    variants = {
        "every rule on": (ALL_RULES, True),
        "no [risk] configured": (None, True),
        "straight into the OMS": (None, False),
    }
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(repeat):
        for name, (config, through_risk) in variants.items():
            best[name] = min(best[name], submit_cancel_run(config, through_risk, n))
    return best


def bench_bars(n_bars: int, repeat: int) -> tuple[float, float]:
    from ttquant.data.bars import load_ohlcv
    from ttquant.engine.backtest import BacktestEngine
    from ttquant.model.data import BarType
    from ttquant.strategy.library.ma_cross import SMACross

    bars = load_ohlcv(DATA)
    bars = bars.slice_time(None, int(bars.ts[min(n_bars, len(bars)) - 1]) + 1)
    gates = RiskConfig(max_daily_loss_pct=50.0, max_drawdown_pct=90.0)
    rates = []
    for config in (None, gates):
        best = float("inf")
        for _ in range(repeat):
            engine = BacktestEngine()
            engine.add_venue("BINANCE", starting_balances={"USDT": 1_000_000.0})
            inst = spot("BTC/USDT", "BINANCE", price_increment=0.01, size_increment=1e-5)
            engine.add_instrument(inst)
            engine.add_ohlcv(BarType.time(inst.id, "1m"), bars)
            engine.add_strategy(SMACross(fast=10, slow=30, long_only=True, size=1.0))
            engine.risk.configure(config)
            start = time.process_time()
            engine.run()
            best = min(best, time.process_time() - start)
        rates.append(len(bars) / best)
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--bars", type=int, default=200_000, help="0 skips the bar loop")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"yardstick, an empty function call:            {bench_call(1_000_000, 5):6.0f} ns")
    check = bench_check(ALL_RULES, args.orders, args.repeat)
    print(f"pre-trade check, every rule on:               {check:6.2f} µs/order")
    check = bench_check(COMMON_RULES, args.orders, args.repeat)
    print(f"pre-trade check, common rules (6):            {check:6.2f} µs/order")
    for name, us in bench_submit(args.orders, args.repeat).items():
        print(f"submit + cancel, {name + ':':<29} {us:6.2f} µs/order")
    if args.bars:
        plain, gated = bench_bars(args.bars, max(1, args.repeat // 2))
        print(f"SMA cross, {args.bars:,} bars, no [risk]:             {plain:10,.0f} bars/s")
        print(f"SMA cross, {args.bars:,} bars, loss gates on:         {gated:10,.0f} bars/s")


if __name__ == "__main__":
    main()
