"""Adapter plumbing: backoff, rate-limit budgets, client order ids, the L2 book."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttquant.core.errors import ConfigError
from ttquant.venues.adapter import ClientIdFactory
from ttquant.venues.book import OrderBook
from ttquant.venues.net.backoff import Backoff
from ttquant.venues.net.ratelimit import LimitRule, RequestBudget


@given(attempts=st.integers(min_value=0, max_value=40), seed=st.integers(0, 2**32 - 1))
def test_backoff_grows_exponentially_within_jitter_and_cap(attempts: int, seed: int) -> None:
    backoff = Backoff(initial=0.1, maximum=5.0, factor=2.0, jitter=0.5, rng=random.Random(seed))
    for n in range(attempts + 1):
        delay = backoff.next_delay()
        base = min(0.1 * 2.0**n, 5.0)
        assert base * 0.5 <= delay <= base
    backoff.reset()
    assert 0.05 <= backoff.next_delay() <= 0.1


def test_backoff_jitter_spreads_clients() -> None:
    delays = {Backoff(1.0, 10.0, rng=random.Random(s)).next_delay() for s in range(50)}
    assert len(delays) == 50


@pytest.mark.parametrize(
    "bad", [{"initial": 0.0}, {"maximum": 0.1, "initial": 1.0}, {"jitter": 2.0}]
)
def test_backoff_rejects_bad_settings(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="backoff"):
        Backoff(**bad)


class FakeTime:
    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_budget_waits_for_the_next_window_instead_of_exceeding() -> None:
    t = FakeTime(120.5)  # half a second into a minute window
    budget = RequestBudget(
        [LimitRule("X-W", 10, 60.0), LimitRule("X-O", 3, 10.0, counts_orders=True)],
        clock=t.clock,
        sleep=t.sleep,
    )

    async def scenario() -> None:
        for _ in range(3):
            await budget.acquire(1, orders=1)
        assert t.slept == []
        await budget.acquire(1, orders=1)  # the 4th order waits for the 10 s window to roll
        assert t.slept == [pytest.approx(9.5)] and t.now == pytest.approx(130.0)
        assert budget.used("x-o") == 1

    asyncio.run(scenario())


def test_budget_adopts_the_venues_count_from_headers() -> None:
    t = FakeTime(60.0)
    budget = RequestBudget(
        [LimitRule("X-MBX-USED-WEIGHT-1M", 100, 60.0)], clock=t.clock, sleep=t.sleep
    )
    budget.update({"X-MBX-USED-WEIGHT-1M": "95"})  # another process used the key too

    async def scenario() -> None:
        await budget.acquire(5)
        assert t.slept == []
        await budget.acquire(5)
        assert t.slept == [pytest.approx(60.0)]

    asyncio.run(scenario())


def test_budget_honours_retry_after() -> None:
    t = FakeTime(10.0)
    budget = RequestBudget([LimitRule("X", 100, 60.0)], clock=t.clock, sleep=t.sleep)
    budget.block_for(3.0)
    asyncio.run(budget.acquire(1))
    assert t.slept == [pytest.approx(3.0)]


def test_client_ids_are_unique_prefixed_alphanumeric_and_short() -> None:
    factory = ClientIdFactory("ttq", clock=lambda: 1_795_000_000_000_000_000)
    ids = [factory.next() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("ttq") and i.isalnum() and len(i) <= 32 for i in ids)
    assert factory.owns(ids[0]) and not factory.owns("web_123")


def test_client_ids_differ_across_restarts() -> None:
    first = ClientIdFactory("ttq", clock=lambda: 1_000_000_000_000).next()
    second = ClientIdFactory("ttq", clock=lambda: 1_000_001_000_000).next()
    assert first != second


@pytest.mark.parametrize("prefix", ["", "has-dash", "toolongprefix"])
def test_client_id_prefix_is_validated(prefix: str) -> None:
    with pytest.raises(ConfigError, match="prefix"):
        ClientIdFactory(prefix)


levels = st.lists(
    st.tuples(st.integers(1, 60).map(lambda p: p * 0.5), st.sampled_from([0.0, 0.1, 1.0, 2.5])),
    max_size=80,
)


@settings(max_examples=200)
@given(bids=levels, asks=levels)
def test_book_equals_a_plain_dict_reference(
    bids: list[tuple[float, float]], asks: list[tuple[float, float]]
) -> None:
    book = OrderBook("X")
    ref_bids: dict[float, float] = {}
    ref_asks: dict[float, float] = {}
    for (price, size), ref, side in [
        *((b, ref_bids, book.bids) for b in bids),
        *((a, ref_asks, book.asks) for a in asks),
    ]:
        side.set(price, size)
        if size == 0.0:
            ref.pop(price, None)
        else:
            ref[price] = size
    assert book.bids.top() == sorted(ref_bids.items(), reverse=True)
    assert book.asks.top() == sorted(ref_asks.items())
    assert book.bids.top(3) == sorted(ref_bids.items(), reverse=True)[:3]
    assert book.bids.best() == (max(ref_bids.items()) if ref_bids else None)
