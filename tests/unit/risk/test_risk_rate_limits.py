"""Order and modify rate limits: token buckets on the simulated clock, exact to the order."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import pytest
from tests.unit.risk._kernel import SECOND, T0, Kernel

from ttquant.core.errors import ConfigError
from ttquant.model.enums import OrderSide, OrderStatus
from ttquant.model.events import OrderModifyRejected
from ttquant.model.orders import Order
from ttquant.risk.config import Rate, RiskConfig, StrategyRisk
from ttquant.risk.rules import RiskRule
from ttquant.risk.throttle import TokenBucket
from ttquant.venues.sim.venue import SimulatedVenue


class CountingVenue(SimulatedVenue):
    """Counts the orders that reach it."""

    received = 0

    def submit_list(self, orders: Sequence[Order]) -> None:
        self.received += len(orders)
        super().submit_list(orders)


def _burst(
    k: Kernel, n: int, spacing_ns: int, strategies: tuple[str, ...] = ("s1",)
) -> list[Order]:
    orders = []
    for i in range(n):
        k.at(T0 + i * spacing_ns)
        sid = strategies[i % len(strategies)]
        orders.append(k.order(OrderSide.BUY, 0.001, price=50.0, strategy=sid))
        k.risk.submit([orders[-1]])
    k.execution.process_events()
    return orders


def test_a_burst_of_10000_submits_in_one_simulated_second_passes_burst_plus_refill() -> None:
    # 100 orders per second, bursts of 20; 10,000 submits 100 µs apart: the last at 0.9999 s.
    k = Kernel(RiskConfig(order_rate=Rate(limit=100, per="1s", burst=20)), venue_cls=CountingVenue)
    k.quote(99.99, 100.01)
    orders = _burst(k, 10_000, 100_000)
    elapsed = orders[-1].ts_init - T0
    assert elapsed < SECOND
    expected = 20 + (100 * elapsed) // SECOND  # full bucket + one token per 10 ms elapsed
    assert expected == 119
    passed = [o for o in orders if o.status is not OrderStatus.DENIED]
    assert len(passed) == expected
    assert isinstance(k.venue, CountingVenue) and k.venue.received == expected
    assert k.risk.denials[RiskRule.ORDER_RATE] == 10_000 - expected
    # the 20 of the burst pass at once; then one every 10 ms, at the first submit after it
    times = [o.ts_init - T0 for o in passed]
    assert times[:20] == [i * 100_000 for i in range(20)]
    assert times[20:] == [j * 10_000_000 for j in range(1, 100)]
    denial = k.denial(next(o for o in orders if o.status is OrderStatus.DENIED))
    assert denial is not None
    assert denial.reason == RiskRule.ORDER_RATE
    assert denial.message.startswith("order_rate: 100 per 1s (burst 20) used up for the account")


def _reference_passes(
    times: list[tuple[int, str]], buckets: dict[str, tuple[int, int, int]]
) -> int:
    """Continuous token buckets in exact rationals: scope -> (limit, window ns, capacity)."""
    level = {s: Fraction(cap) for s, (_, _, cap) in buckets.items()}
    last = {s: times[0][0] for s in buckets}
    passed = 0
    for t, sid in times:
        used = [s for s in ("account", sid) if s in buckets]
        for s in used:
            limit, window, cap = buckets[s]
            level[s] = min(Fraction(cap), level[s] + Fraction(limit * (t - last[s]), window))
            last[s] = t
        if all(level[s] >= 1 for s in used):
            for s in used:
                level[s] -= 1
            passed += 1
    return passed


def test_strategy_and_account_buckets_hold_together() -> None:
    # two strategies with buckets of their own under a shared account bucket; an order must
    # find a token in both, and a refused one takes none
    config = RiskConfig(
        order_rate=Rate(limit=150, per="1s", burst=30),
        strategies={
            "s1": StrategyRisk(order_rate=Rate(limit=100, per="1s", burst=20)),
            "s2": StrategyRisk(order_rate=Rate(limit=40, per="500ms", burst=5)),
        },
    )
    k = Kernel(config)
    k.quote(99.99, 100.01)
    orders = _burst(k, 6_000, 250_000, ("s1", "s2", "s1"))
    expected = _reference_passes(
        [(o.ts_init, o.strategy_id) for o in orders],
        {
            "account": (150, SECOND, 30),
            "s1": (100, SECOND, 20),
            "s2": (40, SECOND // 2, 5),
        },
    )
    passed = [o for o in orders if o.status is not OrderStatus.DENIED]
    assert len(passed) == expected
    by_strategy = {sid: sum(1 for o in passed if o.strategy_id == sid) for sid in ("s1", "s2")}
    # s1 is capped by its own 20 + 100/s, s2 by 5 + 80/s; the account by 30 + 150/s
    assert by_strategy["s1"] <= 20 + 100 * 1.5
    assert by_strategy["s2"] <= 5 + 80 * 1.5
    assert sum(by_strategy.values()) <= 30 + 150 * 1.5


def test_modifies_have_their_own_bucket_and_cancels_are_never_limited() -> None:
    k = Kernel(
        RiskConfig(
            order_rate=Rate(limit=1, per="1s"),
            modify_rate=Rate(limit=2, per="1s"),
        )
    )
    k.quote(99.99, 100.01)
    order = k.buy(0.001, price=50.0)
    assert order.status is OrderStatus.ACCEPTED
    results = []
    for i in range(4):
        k.risk.modify(order, price=50.0 + (i + 1) * 0.01)
        k.execution.process_events()
        results.append(type(order.events[-1]).__name__)
    assert results == ["OrderUpdated", "OrderUpdated", "OrderModifyRejected", "OrderModifyRejected"]
    rejected = order.events[-1]
    assert isinstance(rejected, OrderModifyRejected)
    assert rejected.reason == RiskRule.MODIFY_RATE
    assert rejected.message.startswith("modify_rate:")
    assert order.status is OrderStatus.ACCEPTED and order.price == 50.02
    second = k.buy(0.001, price=49.0)
    assert second.status is OrderStatus.DENIED  # the order bucket is empty
    k.risk.cancel(order)  # cancels pass whatever the buckets hold
    k.execution.process_events()
    assert order.is_closed
    k.at(T0 + SECOND // 2)
    k.risk.modify(order, price=50.5)  # the modify bucket refilled one token
    k.execution.process_events()
    assert k.risk.modify_denials[RiskRule.MODIFY_RATE] == 2


def test_bucket_arithmetic_is_exact_and_capped() -> None:
    # 3 tokens a second: the next token is due at 1/3 s = 333,333,333.3 ns
    stepped = TokenBucket(limit=3, window_ns=SECOND, capacity=2, now_ns=0)
    once = TokenBucket(limit=3, window_ns=SECOND, capacity=2, now_ns=0)
    stepped.take(2)
    once.take(2)
    for t in range(1, 333_334):  # 333,333 refills, 1 µs apart
        stepped.refill(t * 1_000)
    once.refill(333_333_000)
    assert stepped.tokens == once.tokens == 333_333_000 * 3 / SECOND
    stepped.refill(333_333_333)
    assert not stepped.has(1)  # 0.999999999 token
    stepped.refill(333_333_334)
    assert stepped.has(1)  # one nanosecond later
    stepped.refill(10 * SECOND)
    assert stepped.tokens == 2.0  # never above the capacity
    stepped.refill(5 * SECOND)  # a clock that steps back adds nothing
    assert stepped.tokens == 2.0


def test_bad_rates_are_refused_with_the_field_named() -> None:
    with pytest.raises(ConfigError, match=r"risk\.order_rate\.per: '1 second' is not a duration"):
        Kernel(RiskConfig(order_rate=Rate(limit=5, per="1 second")))
    with pytest.raises(ConfigError, match=r"risk\.strategies\.s1\.modify_rate\.limit must be at"):
        Kernel(RiskConfig(strategies={"s1": StrategyRisk(modify_rate=Rate(limit=0))}))
