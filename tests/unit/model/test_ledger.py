"""The ledger reconciles: positions, realized PnL, commissions and balances agree exactly.

Random fill sequences go through the simulated venue (market orders filled at once at the
current price, with fees and slippage), and every number is checked against an independent
average-cost and FIFO book kept by the test.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttquant.model.account import AccountState
from ttquant.model.cache import Cache
from ttquant.model.enums import AccountType, LiquiditySide, OrderSide, OrderType, PositionSide
from ttquant.model.events import OrderEvent, OrderFilled
from ttquant.model.instruments import Instrument, spot
from ttquant.model.orders import Order
from ttquant.model.position import Position, RoundTrip
from ttquant.venues.sim.models import BpsSlippage, FillModel
from ttquant.venues.sim.venue import SimulatedVenue

START = 1_000_000.0
INSTRUMENTS = [
    spot("BTC/USDT", "SIM", price_increment=0.01, size_increment=0.001, taker_fee=0.0007),
    spot(
        "ETH/USDT",
        "SIM",
        price_increment=0.01,
        size_increment=0.001,
        taker_fee=0.0003,
        multiplier=2.0,
    ),
]


@dataclass
class Book:
    """Average-cost and FIFO books of one instrument, written independently of Position."""

    multiplier: float
    qty: float = 0.0
    cost: float = 0.0  # signed quantity times average entry
    realized: float = 0.0
    lots: deque[list[float]] = field(default_factory=deque)  # [signed qty, price], oldest first
    fifo_realized: float = 0.0

    def trade(self, signed: float, price: float) -> None:
        if self.qty == 0.0 or (self.qty > 0) == (signed > 0):
            self.qty += signed
            self.cost += signed * price
        else:
            avg = self.cost / self.qty
            closing = min(abs(signed), abs(self.qty)) * (1 if self.qty > 0 else -1)
            self.realized += closing * (price - avg) * self.multiplier
            rest = signed + closing
            self.qty -= closing
            self.cost = self.qty * avg if abs(self.qty) > 1e-12 else 0.0
            if abs(self.qty) <= 1e-12:
                self.qty = 0.0
            if abs(rest) > 1e-12:
                self.qty, self.cost = rest, rest * price
        self._fifo(signed, price)

    def _fifo(self, signed: float, price: float) -> None:
        while signed and self.lots and (self.lots[0][0] > 0) != (signed > 0):
            lot = self.lots[0]
            take = min(abs(signed), abs(lot[0])) * (1 if lot[0] > 0 else -1)
            self.fifo_realized += take * (price - lot[1]) * self.multiplier
            lot[0] -= take
            signed += take
            if abs(lot[0]) <= 1e-12:
                self.lots.popleft()
            if abs(signed) <= 1e-12:
                signed = 0.0
        if signed:
            self.lots.append([signed, price])


def _venue(
    account_type: AccountType, prices: dict[str, float]
) -> tuple[SimulatedVenue, list[OrderEvent | AccountState]]:
    cache = Cache(lambda: 0)
    cache.prices.update(prices)
    venue = SimulatedVenue(
        "SIM",
        cache,
        account_type=account_type,
        starting_balances={"USDT": START},
        fill_model=FillModel(market_fill="close"),
        slippage_model=BpsSlippage(3.0),
    )
    for inst in INSTRUMENTS:
        cache.add_instrument(inst)
        venue.add_instrument(inst)
    events: list[OrderEvent | AccountState] = []
    venue.set_event_handler(events.append)
    return venue, events


_SEQ = [0]


def _market(inst: Instrument, side: OrderSide, qty: float) -> Order:
    _SEQ[0] += 1
    return Order(
        client_order_id=f"L-{_SEQ[0]}",
        strategy_id="s",
        instrument_id=inst.id,
        side=side,
        order_type=OrderType.MARKET,
        quantity=qty,
    )


steps = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
        st.integers(1, 5000).map(lambda k: k / 1000.0),
        st.floats(50.0, 200.0).map(lambda p: round(p, 2)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=120, deadline=None)
@given(steps=steps, account_type=st.sampled_from([AccountType.CASH, AccountType.MARGIN]))
def test_random_fills_reconcile(
    steps: list[tuple[int, OrderSide, float, float]], account_type: AccountType
) -> None:
    venue, events = _venue(account_type, {i.id: 100.0 for i in INSTRUMENTS})
    books = {i.id: Book(i.multiplier) for i in INSTRUMENTS}
    shadow = {i.id: Position(i, "s") for i in INSTRUMENTS}  # as the portfolio builds them
    trips: list[RoundTrip] = []
    turnover = 0.0
    for k, side, qty, price in steps:
        inst = INSTRUMENTS[k]
        venue.cache.prices[inst.id] = price
        venue.submit(_market(inst, side, qty))
        turnover += sum(
            e.last_qty * e.last_px * inst.multiplier for e in events if isinstance(e, OrderFilled)
        )
        _check(venue, events, books, shadow, trips, turnover)
        events.clear()
    assert turnover > 0.0 or account_type is AccountType.CASH
    for inst in INSTRUMENTS:  # flatten everything, then the round trips add up
        pos = venue.positions[inst.id]
        if not pos.is_flat:
            side = OrderSide.SELL if pos.quantity > 0 else OrderSide.BUY
            venue.submit(_market(inst, side, abs(pos.quantity)))
            _check(venue, events, books, shadow, trips, turnover)
            events.clear()
    for inst in INSTRUMENTS:
        pos, book = venue.positions[inst.id], books[inst.id]
        assert pos.is_flat
        assert book.realized == pytest.approx(book.fifo_realized, rel=1e-9, abs=1e-6)


def _check(
    venue: SimulatedVenue,
    events: list[OrderEvent | AccountState],
    books: dict[str, Book],
    shadow: dict[str, Position],
    trips: list[RoundTrip],
    turnover: float,
) -> None:
    commissions = 0.0
    for e in events:
        if isinstance(e, OrderFilled):
            books[e.instrument_id].trade(e.last_qty * e.side.sign, e.last_px)
            trips.extend(shadow[e.instrument_id].apply_fill(e))
    tol = 1e-9 * max(turnover, 1.0)
    realized = upnl = 0.0
    for inst in INSTRUMENTS:
        pos, book = venue.positions[inst.id], books[inst.id]
        assert pos.quantity == pytest.approx(book.qty, abs=1e-9)
        assert pos.realized_pnl == pytest.approx(book.realized, abs=tol)
        if not pos.is_flat:
            assert pos.avg_px == pytest.approx(book.cost / book.qty, rel=1e-9)
        realized += pos.realized_pnl
        commissions += pos.commissions
        upnl += pos.unrealized_pnl(venue.cache.price(inst.id))
    acct = venue.account
    usdt = acct.balance("USDT").total
    if acct.account_type is AccountType.MARGIN:
        assert usdt == pytest.approx(START + realized - commissions, abs=tol)
    else:  # cash: coins at cost + quote balance is the money spent and earned
        held_at_cost = sum(
            venue.positions[i.id].quantity * i.multiplier * venue.positions[i.id].avg_px
            for i in INSTRUMENTS
        )
        assert usdt + held_at_cost == pytest.approx(START + realized - commissions, abs=tol)
        for inst in INSTRUMENTS:
            assert acct.balance(inst.base).total == pytest.approx(
                venue.positions[inst.id].quantity * inst.multiplier, abs=1e-9
            )
    assert venue.equity() == pytest.approx(START + realized + upnl - commissions, abs=tol)
    for inst in INSTRUMENTS:
        assert shadow[inst.id].quantity == venue.positions[inst.id].quantity
        assert shadow[inst.id].realized_pnl == venue.positions[inst.id].realized_pnl
    if all(venue.positions[i.id].is_flat for i in INSTRUMENTS):
        # every trade is closed: the round trips account for all PnL and every commission
        assert sum(t.pnl for t in trips) == pytest.approx(realized - commissions, abs=tol)


# -- Position unit tests (hand-computed) -----------------------------------------------------------


def _fill(side: OrderSide, qty: float, px: float, fee: float, ts: int) -> OrderFilled:
    return OrderFilled(
        client_order_id="o",
        strategy_id="s",
        instrument_id="BTC/USDT@SIM",
        ts_event=ts,
        ts_init=ts,
        trade_id=str(ts),
        side=side,
        last_qty=qty,
        last_px=px,
        commission=fee,
        commission_currency="USDT",
        liquidity_side=LiquiditySide.TAKER,
    )


def test_position_average_entry_partial_close_and_flip() -> None:
    pos = Position(INSTRUMENTS[0], "s")
    assert pos.apply_fill(_fill(OrderSide.BUY, 1.0, 100.0, 0.1, 1)) == []
    pos.apply_fill(_fill(OrderSide.BUY, 3.0, 104.0, 0.3, 2))
    assert (pos.quantity, pos.avg_px) == (4.0, 103.0)
    pos.apply_fill(_fill(OrderSide.SELL, 2.0, 110.0, 0.2, 3))  # partial close: +14
    assert (pos.quantity, pos.avg_px, pos.realized_pnl) == (2.0, 103.0, 14.0)
    assert pos.unrealized_pnl(105.0) == pytest.approx(4.0)
    # flip: sell 5 closes 2 (-6) and opens a 3 short; the 0.5 fee splits 0.2 / 0.3
    (trip,) = pos.apply_fill(_fill(OrderSide.SELL, 5.0, 100.0, 0.5, 4), "signal")
    assert trip.side is PositionSide.LONG
    assert (trip.quantity, trip.entry_price, trip.exit_price) == (4.0, 103.0, 105.0)
    assert trip.fees == pytest.approx(0.1 + 0.3 + 0.2 + 0.2)
    assert trip.pnl == pytest.approx(14.0 - 6.0 - 0.8)
    assert (trip.entry_ns, trip.exit_ns) == (1, 4)
    assert (pos.quantity, pos.avg_px, pos.side) == (-3.0, 100.0, PositionSide.SHORT)
    (short,) = pos.apply_fill(_fill(OrderSide.BUY, 3.0, 90.0, 0.3, 5), "take_profit")
    assert short.side is PositionSide.SHORT
    assert short.fees == pytest.approx(0.3 + 0.3)
    assert short.pnl == pytest.approx(30.0 - 0.6)
    assert (short.entry_ns, short.exit_reason) == (4, "take_profit")
    assert pos.is_flat
    assert pos.realized_pnl == pytest.approx(14.0 - 6.0 + 30.0)
    assert pos.commissions == pytest.approx(1.4)
    assert trip.pnl + short.pnl == pytest.approx(pos.realized_pnl - pos.commissions)


def test_position_multiplier_scales_pnl() -> None:
    pos = Position(INSTRUMENTS[1], "s")  # multiplier 2
    pos.apply_fill(_fill(OrderSide.SELL, 1.5, 200.0, 0.0, 1))
    assert pos.unrealized_pnl(190.0) == pytest.approx(1.5 * 10.0 * 2.0)
    (trip,) = pos.apply_fill(_fill(OrderSide.BUY, 1.5, 210.0, 0.0, 2))
    assert trip.pnl == pytest.approx(-1.5 * 10.0 * 2.0)
