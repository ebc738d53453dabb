"""Order matching for one instrument of the simulated venue.

Bars are matched along a price path (open, nearer extreme, other extreme, close; see
:class:`FillModel.bar_path`). The open is a *jump*: an order already through its price at the
open fills at the open (better for a limit, worse for a stop). Between path points the price
moves continuously, so an order whose price lies on the way fills at its own price (a stop plus
slippage). A trade tick or a quote is a single jump point; buys match the ask (or trade price)
and sells the bid; a resting limit jumped over by a tick fills at its own price. When a bar
would hit both the stop-loss and the take-profit of one OCO pair inside the bar, the stop-loss
fills (the conservative assumption, whatever the path); a take-profit gapped through at the
open fills there, as nothing in the bar came before the open.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ttquant.model.data import Bar
from ttquant.model.enums import (
    ContingencyType,
    LiquiditySide,
    OrderSide,
    OrderType,
    TimeInForce,
    TrailingOffsetType,
)
from ttquant.model.instruments import Instrument
from ttquant.model.orders import Order

if TYPE_CHECKING:
    from ttquant.venues.sim.venue import SimulatedVenue

_EPS = 1e-12
_STOP_TYPES = frozenset({OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP})


class SimOrder:
    """The venue's working copy of an order (the client's Order changes only through events)."""

    __slots__ = (
        "active",
        "arrival_ns",
        "children",
        "done",
        "expire_ns",
        "extreme",
        "filled",
        "is_buy",
        "is_stop",
        "linked",
        "live_at_open",
        "marketable_on_arrival",
        "order",
        "order_id",
        "parent",
        "price",
        "quantity",
        "trigger",
        "triggered",
    )

    def __init__(self, order: Order) -> None:
        self.order = order
        self.order_id = ""
        self.is_buy = order.side is OrderSide.BUY
        self.is_stop = order.order_type in _STOP_TYPES
        self.arrival_ns = 0  # when the venue accepted it: it never trades on an earlier price
        self.live_at_open = False  # working when the bar being matched opened
        self.quantity = order.quantity
        self.filled = 0.0
        self.price = order.price
        self.trigger = order.trigger_price
        self.extreme = math.nan  # best price seen by a trailing stop
        self.triggered = False
        self.active = not order.parent_order_id
        self.done = False
        self.marketable_on_arrival = False
        self.expire_ns = order.expire_ns
        self.parent: SimOrder | None = None
        # contingent lists only (a shared empty tuple for the plain orders most runs have)
        self.children: Sequence[SimOrder] = ()  # bracket exits held until this order fills
        self.linked: Sequence[SimOrder] = ()

    def reference_price(self, last: float) -> float:
        """The price the order is valued at for balance and notional checks."""
        if self.price is not None:
            return self.price
        if self.trigger is not None:
            return self.trigger
        return last

    @property
    def acts_as_limit(self) -> bool:
        kind = self.order.order_type
        return kind is OrderType.LIMIT or (kind is OrderType.STOP_LIMIT and self.triggered)


class MatchingEngine:
    """Resting orders of one instrument and the rules that fill them."""

    def __init__(self, instrument: Instrument, venue: SimulatedVenue) -> None:
        self.instrument = instrument
        self.venue = venue
        self.orders: list[SimOrder] = []
        self.working = False  # anything to match: lets the kernel skip this engine per event

    def add(self, sim: SimOrder) -> None:
        self.orders.append(sim)
        self.working = True

    def remove(self, sim: SimOrder) -> None:
        if sim in self.orders:
            self.orders.remove(sim)
        self.working = bool(self.orders)

    @staticmethod
    def children_of(parent: SimOrder) -> list[SimOrder]:
        return [o for o in parent.children if not o.done]

    def capacity_of(self, sim: SimOrder) -> float:
        """Quantity ``sim`` may still fill; a child never exceeds what its parent filled."""
        left = sim.quantity - sim.filled
        if sim.parent is not None:
            group_filled = sim.filled + sum(o.filled for o in sim.linked)
            left = min(left, sim.parent.filled - group_filled)
        return left

    def last_price(self) -> float:
        return self.venue.cache.price(self.instrument.id)

    def touch_price(self, is_buy: bool) -> float:
        """The price a marketable order meets now: the ask (bid) of a current quote, else last."""
        quote = self.venue.cache.quotes.get(self.instrument.id)
        if quote is not None and quote.ts_init == self.venue.cache.now():
            return quote.ask_price if is_buy else quote.bid_price
        return self.last_price()

    def would_take(self, sim: SimOrder) -> bool:
        last = self.touch_price(sim.is_buy)
        if sim.price is None or math.isnan(last):
            return False
        return sim.price >= last if sim.is_buy else sim.price <= last

    def on_arrival(self, sim: SimOrder) -> None:
        """An order (or a modified one) reaches the book at the current price."""
        last = self.last_price()
        kind = sim.order.order_type
        if kind is OrderType.TRAILING_STOP and not sim.triggered:
            sim.extreme = last
            if sim.trigger is None and not math.isnan(last):
                sim.trigger = self._trail(sim, last)
        if kind is OrderType.LIMIT:
            sim.marketable_on_arrival = self.would_take(sim)
        if (
            kind is OrderType.MARKET
            and self.venue.fill_model.market_fill == "close"
            and not math.isnan(last)
        ):
            now = self.venue.cache.now()
            self._fill(sim, self.touch_price(sim.is_buy), True, math.inf, now, now)

    # -- matching -------------------------------------------------------------------------------
    def process_bar(self, bar: Bar) -> None:
        capacity = self.venue.fill_model.capacity(bar.volume)
        self._expire(bar.ts_event)
        if all(sim.order.order_type is OrderType.MARKET for sim in self.orders):
            # only market orders: they all fill at the open, which is all the path would do
            for sim in list(self.orders):
                if sim.active and not sim.done and sim.arrival_ns <= bar.ts_event:
                    capacity -= self._fill(sim, bar.open, True, capacity, bar.ts_event, bar.ts_init)
            self._end_of_pass(bar.ts_event, bar.ts_init)
            return
        for sim in self.orders:
            sim.live_at_open = sim.active and sim.arrival_ns <= bar.ts_event
        path = self.venue.fill_model.bar_path(bar)
        prev = path[0]
        for k, px in enumerate(path):
            if not self.orders:
                break
            capacity = self._match_point(
                px, px, k == 0, px - prev, capacity, bar, bar.ts_event, bar.ts_init
            )
            prev = px
        self._end_of_pass(bar.ts_event, bar.ts_init)

    def process_points(
        self, buy_px: float, sell_px: float, size: float, ts_event: int, ts_init: int
    ) -> None:
        self._expire(ts_event)
        capacity = self.venue.fill_model.capacity(size) if math.isfinite(size) else math.inf
        self._match_point(buy_px, sell_px, True, 0.0, capacity, None, ts_event, ts_init)
        self._end_of_pass(ts_event, ts_init)

    def _expire(self, ts: int) -> None:
        for sim in list(self.orders):
            if sim.expire_ns is not None and sim.expire_ns <= ts and not sim.done:
                self.venue.expire(sim, ts)

    def _end_of_pass(self, ts_event: int, ts_init: int) -> None:
        """IOC and FOK orders live for one matching pass: cancel what is left of them. A limit
        that was marketable on arrival and met its first bar or tick unfilled now rests in the
        book like any other: a later fill makes liquidity (as an exchange would count it)."""
        for sim in list(self.orders):
            if not sim.active or sim.done:
                continue
            if sim.order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                self.venue.cancel_working(sim, ts_init)
            elif sim.arrival_ns <= ts_event:
                sim.marketable_on_arrival = False

    def _match_point(
        self,
        buy_px: float,
        sell_px: float,
        jump: bool,
        move: float,
        capacity: float,
        bar: Bar | None,
        ts_event: int,
        ts_init: int,
        seen: frozenset[SimOrder] = frozenset(),
    ) -> float:
        """Fill what the price point reaches; returns the capacity left.

        Orders released by a fill at this point (bracket children) are matched at the same
        point next: the price went on to it after the entry filled, so they live in the rest of
        the bar's path. ``seen`` holds the orders already matched at this point.
        """
        hits: list[tuple[float, int, int, SimOrder, float, bool]] = []
        considered = list(seen)
        at_bar_open = bar is not None
        for seq, sim in enumerate(self.orders):
            if not sim.active or sim.done or sim.arrival_ns > ts_event or (seen and sim in seen):
                continue
            considered.append(sim)
            px = buy_px if sim.is_buy else sell_px
            hit = self._hit(sim, px, jump, at_bar_open)
            if hit is not None:
                fill_px, is_taker = hit
                # along an upward move lower levels are crossed first, along a downward one
                # higher; at a jump every order is reached at once
                key = 0.0 if jump else (fill_px if move >= 0 else -fill_px)
                hits.append((key, 0 if sim.is_stop else 1, seq, sim, fill_px, is_taker))
        if not hits:
            return capacity
        if len(hits) > 1:
            hits.sort(key=lambda h: (h[0], h[1], h[2]))
        for _, _, _, sim, fill_px, is_taker in hits:
            if sim.done or not sim.active:
                continue
            if bar is not None and not jump and not sim.is_stop:
                # at the open nothing came before; inside the bar, an OCO stop reached anywhere
                # in it is assumed to have come first
                stop = self._oco_stop_hit_in_bar(sim, bar)
                if stop is not None:
                    stop_px = self._stop_fill_price(stop, bar)
                    capacity -= self._fill(stop, stop_px, True, capacity, ts_event, ts_init)
                    if sim.done:
                        continue
            capacity -= self._fill(sim, fill_px, is_taker, capacity, ts_event, ts_init)
            if jump and bar is not None:
                for child in sim.children:  # released at the open: they saw the whole bar
                    child.live_at_open = True
            if capacity <= _EPS:
                return capacity
        if len(self.orders) > len(considered):
            done = frozenset(considered)
            if any(o.active and not o.done and o not in done for o in self.orders):
                return self._match_point(
                    buy_px, sell_px, jump, move, capacity, bar, ts_event, ts_init, done
                )
        return capacity

    def _hit(
        self, sim: SimOrder, px: float, jump: bool, at_bar_open: bool
    ) -> tuple[float, bool] | None:
        """The price and liquidity of a fill of ``sim`` at point ``px``, or None.

        A resting limit jumped over by a trade or quote fills at its own price: the market
        passed through it on the way (conservative). Only a bar's open, where trading may have
        paused (a gap), or an order that was marketable on arrival, fills at the better price.
        """
        kind = sim.order.order_type
        if kind is OrderType.MARKET:
            return px, True
        if sim.is_stop and not sim.triggered:
            if kind is OrderType.TRAILING_STOP:
                if sim.trigger is None:
                    sim.extreme = px
                    sim.trigger = self._trail(sim, px)
                    return None
                if not self._through(sim, px, sim.trigger):
                    favorable = px < sim.extreme if sim.is_buy else px > sim.extreme
                    if favorable or math.isnan(sim.extreme):
                        sim.extreme = px
                        new = self._trail(sim, px)
                        sim.trigger = min(sim.trigger, new) if sim.is_buy else max(sim.trigger, new)
                    return None
            elif sim.trigger is None or not self._through(sim, px, sim.trigger):
                return None
            assert sim.trigger is not None
            self.venue.trigger(sim, self.venue.cache.now())
            trigger_px = px if jump else sim.trigger
            if kind is not OrderType.STOP_LIMIT:
                return trigger_px, True
            assert sim.price is not None
            marketable = sim.price >= trigger_px if sim.is_buy else sim.price <= trigger_px
            return (trigger_px, True) if marketable else None
        if sim.acts_as_limit:
            assert sim.price is not None
            crossed = px <= sim.price if sim.is_buy else px >= sim.price
            if not crossed:
                return None
            if jump and (at_bar_open or sim.marketable_on_arrival):
                better = min(px, sim.price) if sim.is_buy else max(px, sim.price)
                return better, sim.marketable_on_arrival
            return sim.price, sim.marketable_on_arrival
        return None

    @staticmethod
    def _through(sim: SimOrder, px: float, trigger: float) -> bool:
        return px >= trigger if sim.is_buy else px <= trigger

    def _trail(self, sim: SimOrder, ref: float) -> float:
        offset = sim.order.trailing_offset or 0.0
        if sim.order.trailing_offset_type is TrailingOffsetType.PERCENT:
            offset = ref * offset / 100.0
        raw = ref + offset if sim.is_buy else ref - offset
        return self.instrument.round_price(raw)

    def _oco_stop_hit_in_bar(self, sim: SimOrder, bar: Bar) -> SimOrder | None:
        if sim.order.contingency is not ContingencyType.OCO:
            return None
        for other in sim.linked:
            if (
                other.is_stop
                and other.live_at_open  # a stop released later in the bar cannot come first
                and other.active
                and not other.done
                and not other.triggered
                and other.trigger is not None
            ):
                reached = bar.high >= other.trigger if other.is_buy else bar.low <= other.trigger
                if reached:
                    return other
        return None

    def _stop_fill_price(self, stop: SimOrder, bar: Bar) -> float:
        assert stop.trigger is not None
        self.venue.trigger(stop, self.venue.cache.now())
        gapped = self._through(stop, bar.open, stop.trigger)
        return bar.open if gapped else stop.trigger

    def _fill(
        self,
        sim: SimOrder,
        price: float,
        is_taker: bool,
        capacity: float,
        ts_event: int,
        ts_init: int,
    ) -> float:
        want = self.capacity_of(sim)
        if sim.order.time_in_force is TimeInForce.FOK and want > capacity + _EPS:
            return 0.0
        qty = min(want, capacity)
        if sim.parent is None and qty < want:
            qty = self.instrument.round_quantity(qty)
        if qty <= _EPS:
            return 0.0
        if is_taker:
            price = self.venue.slippage_model.adjust(price, sim.order.side, self.instrument)
            if sim.acts_as_limit and sim.price is not None:
                # slippage may eat into a limit order's edge, never past its limit
                price = min(price, sim.price) if sim.is_buy else max(price, sim.price)
        liquidity = LiquiditySide.TAKER if is_taker else LiquiditySide.MAKER
        return self.venue.fill(sim, qty, price, liquidity, ts_event, ts_init)
