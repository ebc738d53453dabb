"""The simulated venue: an exchange in a box for backtests and paper trading.

It accepts or rejects orders as a real venue would (instrument rules, balances, margin,
reduce-only, post-only), matches them against bars, trade ticks or quotes (see
:mod:`ttquant.venues.sim.matching`), keeps the account's ledger, and reports everything as
order events and account states through one callback, exactly the shape a live adapter uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final

from ttquant.model.account import Account, AccountState
from ttquant.model.cache import Cache
from ttquant.model.data import Bar, QuoteTick, TradeTick
from ttquant.model.enums import (
    AccountType,
    ContingencyType,
    LiquiditySide,
    OrderSide,
    OrderType,
    TimeInForce,
)
from ttquant.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderTriggered,
    OrderUpdated,
)
from ttquant.model.instruments import Instrument
from ttquant.model.orders import Order
from ttquant.model.position import Position
from ttquant.venues.sim.matching import MatchingEngine, SimOrder
from ttquant.venues.sim.models import FeeModel, FillModel, SlippageModel

VenueEvent = OrderEvent | AccountState
_DAY_NS = 86_400_000_000_000


class RejectReason:
    """Reason codes carried by ``OrderRejected.reason``."""

    UNKNOWN_INSTRUMENT: Final = "UNKNOWN_INSTRUMENT"
    INVALID_QUANTITY: Final = "INVALID_QUANTITY"
    INVALID_PRICE: Final = "INVALID_PRICE"
    MIN_NOTIONAL: Final = "MIN_NOTIONAL"
    POST_ONLY_WOULD_TAKE: Final = "POST_ONLY_WOULD_TAKE"
    REDUCE_ONLY_WOULD_INCREASE: Final = "REDUCE_ONLY_WOULD_INCREASE"
    INSUFFICIENT_BALANCE: Final = "INSUFFICIENT_BALANCE"
    INSUFFICIENT_MARGIN: Final = "INSUFFICIENT_MARGIN"
    NO_PRICE: Final = "NO_PRICE"
    EXPIRED: Final = "EXPIRED"


class SimulatedVenue:
    """One venue, one account, a matching engine per instrument."""

    def __init__(
        self,
        name: str,
        cache: Cache,
        *,
        account_type: AccountType = AccountType.MARGIN,
        base_currency: str = "USDT",
        starting_balances: dict[str, float] | None = None,
        leverage: float = 1.0,
        fill_model: FillModel | None = None,
        fee_model: FeeModel | None = None,
        slippage_model: SlippageModel | None = None,
    ) -> None:
        self.name = name.upper()
        self.cache = cache
        self.account = Account(
            self.name,
            account_type,
            base_currency,
            dict(starting_balances or {base_currency: 0.0}),
            leverage,
        )
        self.fill_model = fill_model or FillModel()
        self.fee_model = fee_model or FeeModel()
        self.slippage_model = slippage_model or SlippageModel()
        self.engines: dict[str, MatchingEngine] = {}
        self.positions: dict[str, Position] = {}  # the venue's net position per instrument
        self._orders: dict[str, SimOrder] = {}  # working orders only
        self._emit: Callable[[VenueEvent], None] = _no_handler
        self._venue_order_seq = 0
        self._trade_seq = 0

    # -- wiring ---------------------------------------------------------------------------------
    def set_event_handler(self, handler: Callable[[VenueEvent], None]) -> None:
        self._emit = handler

    def add_instrument(self, instrument: Instrument) -> MatchingEngine:
        engine = self.engines.get(instrument.id)
        if engine is None:
            engine = self.engines[instrument.id] = MatchingEngine(instrument, self)
            self.positions[instrument.id] = Position(instrument, "")
        return engine

    # -- commands -------------------------------------------------------------------------------
    def submit(self, order: Order) -> None:
        self.submit_list([order])

    def submit_list(self, orders: Sequence[Order]) -> None:
        """Accept or reject a single order or a contingent list (OCO, bracket) as one unit."""
        now = self.cache.now()
        sims = [SimOrder(o) for o in orders]
        if len(sims) > 1:
            self._link(sims)
        for sim in sims:
            reason, message = self._check(sim)
            if reason:
                for other in sims:  # a list is accepted whole or not at all
                    self._emit(
                        OrderRejected(**other.order.event_ids(now), reason=reason, message=message)
                    )
                return
        for sim in sims:
            sim.arrival_ns = now
            self._venue_order_seq += 1
            sim.order_id = f"{self.name}-{self._venue_order_seq}"
            self._orders[sim.order.client_order_id] = sim
            if sim.order.time_in_force is TimeInForce.DAY:
                sim.expire_ns = (now // _DAY_NS + 1) * _DAY_NS
            order = sim.order
            self._emit(
                OrderAccepted(
                    client_order_id=order.client_order_id,
                    strategy_id=order.strategy_id,
                    instrument_id=order.instrument_id,
                    ts_event=now,
                    ts_init=now,
                    venue_order_id=sim.order_id,
                )
            )
        for sim in sims:
            engine = self.engines[sim.order.instrument_id]
            engine.add(sim)
            if sim.parent is None:
                engine.on_arrival(sim)

    @staticmethod
    def _link(sims: list[SimOrder]) -> None:
        """Wire a contingent list: bracket exits to their entry, OCO siblings to each other."""
        by_id = {s.order.client_order_id: s for s in sims}
        for sim in sims:
            sim.parent = by_id.get(sim.order.parent_order_id)
            if sim.parent is not None:
                sim.parent.children = [*sim.parent.children, sim]
        for sim in sims:  # parents first: a sibling's parent must be known to link it
            sim.linked = [
                by_id[i]
                for i in sim.order.linked_order_ids
                if i in by_id and by_id[i].parent is sim.parent
            ]

    def cancel(self, order: Order) -> None:
        now = self.cache.now()
        sim = self._orders.get(order.client_order_id)
        if sim is None or sim.done:
            self._emit(OrderCancelRejected(**order.event_ids(now), reason="order is not open"))
            return
        self.cancel_working(sim, now)

    def modify(
        self,
        order: Order,
        quantity: float | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
    ) -> None:
        now = self.cache.now()
        sim = self._orders.get(order.client_order_id)
        if sim is None or sim.done:
            self._emit(OrderModifyRejected(**order.event_ids(now), reason="order is not open"))
            return
        inst = self.engines[order.instrument_id].instrument
        new_qty = sim.quantity if quantity is None else quantity
        problem = inst.check_quantity(new_qty) if quantity is not None else None
        if problem is None and new_qty < sim.filled - 1e-12:
            problem = f"quantity {new_qty} is below the {sim.filled} already filled"
        if problem is None and price is not None:
            problem = inst.check_price(price)
        if problem is None and trigger_price is not None:
            problem = inst.check_price(trigger_price, "trigger price")
        if problem is not None:
            self._emit(OrderModifyRejected(**order.event_ids(now, sim.order_id), reason=problem))
            return
        sim.quantity = new_qty
        if price is not None:
            sim.price = price
        if trigger_price is not None:
            sim.trigger = trigger_price
        self._emit(
            OrderUpdated(
                **order.event_ids(now, sim.order_id),
                quantity=new_qty,
                price=price,
                trigger_price=trigger_price,
            )
        )
        if sim.active:
            self.engines[order.instrument_id].on_arrival(sim)

    # -- data -----------------------------------------------------------------------------------
    def process_bar(self, bar: Bar) -> None:
        engine = self.engines.get(bar.bar_type.instrument_id)
        if engine is not None and engine.working:
            engine.process_bar(bar)

    def process_trade(self, tick: TradeTick) -> None:
        engine = self.engines.get(tick.instrument_id)
        if engine is not None and engine.working:
            engine.process_points(tick.price, tick.price, tick.size, tick.ts_event, tick.ts_init)

    def process_quote(self, quote: QuoteTick) -> None:
        engine = self.engines.get(quote.instrument_id)
        if engine is not None and engine.working:
            engine.process_points(
                quote.ask_price, quote.bid_price, math.inf, quote.ts_event, quote.ts_init
            )

    # -- services for the matching engines ------------------------------------------------------
    def _check(self, sim: SimOrder) -> tuple[str, str]:
        """Reject reason code and message, or ("", "") when the order is acceptable."""
        order = sim.order
        engine = self.engines.get(order.instrument_id)
        if engine is None:
            return (
                RejectReason.UNKNOWN_INSTRUMENT,
                f"{order.instrument_id} is not traded at {self.name}",
            )
        inst = engine.instrument
        problem = inst.check_quantity(order.quantity)
        if problem:
            return RejectReason.INVALID_QUANTITY, problem
        for value, what in ((order.price, "limit price"), (order.trigger_price, "trigger price")):
            if value is not None and (problem := inst.check_price(value, what)):
                return RejectReason.INVALID_PRICE, problem
        if order.expire_ns is not None and order.expire_ns <= self.cache.now():
            return RejectReason.EXPIRED, "expire time is in the past"
        ref = sim.reference_price(self.cache.price(order.instrument_id))
        if math.isnan(ref):
            return RejectReason.NO_PRICE, f"no price known for {inst.id} to value the order"
        if problem := inst.check_notional(order.quantity, ref):
            return RejectReason.MIN_NOTIONAL, problem
        if order.post_only and engine.would_take(sim):
            return RejectReason.POST_ONLY_WOULD_TAKE, "post-only limit order would take liquidity"
        pos = self.positions[inst.id].quantity
        if (
            order.reduce_only
            and sim.parent is None
            and (pos == 0.0 or (pos > 0) == (order.side is OrderSide.BUY))
        ):
            return (
                RejectReason.REDUCE_ONLY_WOULD_INCREASE,
                f"reduce-only {order.side.value} would increase the position of {pos}",
            )
        if (
            sim.parent is None
            and not order.reduce_only
            and order.order_type is not OrderType.MARKET
        ):
            # market orders are checked when they fill, at the price they fill at
            return self._check_funds(inst, order.side, order.quantity, ref, exclude=None)
        return "", ""

    def _check_funds(
        self, inst: Instrument, side: OrderSide, qty: float, price: float, exclude: SimOrder | None
    ) -> tuple[str, str]:
        """Whether the account can pay for ``qty`` more at ``price`` given open orders."""
        acct = self.account
        fee = inst.notional(qty, price) * max(inst.taker_fee, inst.maker_fee, 0.0)
        if acct.account_type is AccountType.CASH:
            if side is OrderSide.BUY:
                need, ccy = inst.notional(qty, price) + fee, inst.quote
            else:
                need, ccy = qty * inst.multiplier, inst.base
            free = acct.balance(ccy).total - self._locked(ccy, exclude)
            if need > free * (1 + 1e-12) + 1e-12:
                return (
                    RejectReason.INSUFFICIENT_BALANCE,
                    f"needs {need:.8g} {ccy}, {max(free, 0.0):.8g} {ccy} free",
                )
            return "", ""
        pos = self.positions[inst.id].quantity
        opening = max(qty - (abs(pos) if (pos > 0) != (side is OrderSide.BUY) else 0.0), 0.0)
        if opening <= 0.0:
            return "", ""
        need = inst.notional(opening, price) / acct.leverage + fee
        equity, used = self._equity_and_margin()
        free = equity - used - self._locked(acct.base_currency, exclude)
        if need > free * (1 + 1e-12) + 1e-12:
            return (
                RejectReason.INSUFFICIENT_MARGIN,
                f"needs {need:.8g} {acct.base_currency} margin, {max(free, 0.0):.8g} free",
            )
        return "", ""

    def _locked(self, currency: str, exclude: SimOrder | None) -> float:
        """Funds reserved by resting orders that would open or buy (not yet filled)."""
        total = 0.0
        for sim in self._orders.values():
            if sim.done or sim is exclude or sim.order.reduce_only or sim.parent is not None:
                continue
            engine = self.engines[sim.order.instrument_id]
            inst = engine.instrument
            left = sim.quantity - sim.filled
            ref = sim.reference_price(self.cache.price(inst.id))
            if self.account.account_type is AccountType.CASH:
                if sim.order.side is OrderSide.BUY and currency == inst.quote:
                    total += inst.notional(left, ref)
                elif sim.order.side is OrderSide.SELL and currency == inst.base:
                    total += left * inst.multiplier
            elif currency == self.account.base_currency:
                total += inst.notional(left, ref) / self.account.leverage
        return total

    def equity(self) -> float:
        """Account value in the base currency at the last prices."""
        return self._equity_and_margin()[0]

    def margin_used(self) -> float:
        return self._equity_and_margin()[1]

    def _equity_and_margin(self) -> tuple[float, float]:
        """Equity and the margin its open positions use, in one pass over the positions."""
        acct = self.account
        value = 0.0
        for ccy, bal in acct.balances.items():
            value += bal.total * self._rate(ccy)
        if acct.account_type is AccountType.CASH:
            return value, 0.0
        used = 0.0
        for iid, pos in self.positions.items():
            if pos.quantity:
                inst = pos.instrument
                price = self.cache.price(iid)
                rate = self._rate(inst.settlement_currency)
                value += pos.unrealized_pnl(price) * rate
                used += inst.notional(pos.quantity, price) * rate / acct.leverage
        return value, used

    def _rate(self, currency: str) -> float:
        if currency == self.account.base_currency:
            return 1.0
        return self.cache.conversion_rate(currency, self.account.base_currency)

    def fill(
        self,
        sim: SimOrder,
        qty: float,
        price: float,
        liquidity: LiquiditySide,
        ts_event: int,
        ts_init: int,
    ) -> float:
        """Execute ``qty`` of ``sim`` at ``price``; returns the quantity actually filled."""
        order = sim.order
        engine = self.engines[order.instrument_id]
        inst = engine.instrument
        pos = self.positions[inst.id]
        if order.reduce_only:
            qty = (
                min(qty, abs(pos.quantity))
                if (pos.quantity > 0) == (order.side is OrderSide.SELL) and not pos.is_flat
                else 0.0
            )
            if qty <= 0.0:
                self.cancel_working(sim, ts_init)
                return 0.0
        elif sim.parent is None and (not sim.acts_as_limit or liquidity is LiquiditySide.TAKER):
            # what fills at a price not known when it was accepted (market, a stop gapping
            # past its trigger) is paid for at that price or not at all
            reason, message = self._check_funds(inst, order.side, qty, price, exclude=sim)
            if reason and sim.filled > 0.0:
                self.cancel_working(sim, ts_init)  # a venue cancels, not rejects, a live order
                return 0.0
            if reason:
                self.finish(
                    sim,
                    OrderRejected(
                        **order.event_ids(ts_init, sim.order_id),
                        reason=reason,
                        message=message + " at fill",
                    ),
                )
                return 0.0
        commission = self.fee_model.commission(order, inst, qty, price, liquidity)
        self._trade_seq += 1
        fill = OrderFilled(
            client_order_id=order.client_order_id,
            strategy_id=order.strategy_id,
            instrument_id=order.instrument_id,
            ts_event=ts_event,
            ts_init=ts_init,
            venue_order_id=sim.order_id,
            trade_id=f"{self.name}-T{self._trade_seq}",
            side=order.side,
            last_qty=qty,
            last_px=price,
            commission=commission,
            commission_currency=inst.settlement_currency,
            liquidity_side=liquidity,
        )
        realized_before = pos.realized_pnl
        pos.apply_fill(fill)
        self.account.apply_fill(
            inst,
            order.side,
            qty,
            price,
            commission,
            inst.settlement_currency,
            pos.realized_pnl - realized_before,
        )
        sim.filled += qty
        self._emit(fill)  # the ledger itself is shared with the portfolio: no state event
        if sim.filled >= sim.quantity - 1e-12 * max(1.0, sim.quantity):
            sim.done = True
            engine.remove(sim)
            self._orders.pop(order.client_order_id, None)
        for sibling in sim.linked:
            if sim.order.contingency is ContingencyType.OCO and not sibling.done:
                self._reduce(sibling, qty, ts_init)
        for child in engine.children_of(sim):
            child.active = True
        if order.reduce_only and pos.is_flat:
            # what is left of it, or of its one-cancels-other siblings, could only open a
            # position later
            if sim.parent is None and not sim.done:
                self.cancel_working(sim, ts_init)
            for sibling in sim.linked:
                if not sibling.done:
                    self.cancel_working(sibling, ts_init)
        return qty

    def _reduce(self, sim: SimOrder, qty: float, ts: int) -> None:
        sim.quantity -= qty
        if sim.quantity - sim.filled <= 1e-12 * max(1.0, sim.quantity):
            self.cancel_working(sim, ts)
        else:
            self._emit(OrderUpdated(**sim.order.event_ids(ts, sim.order_id), quantity=sim.quantity))

    def trigger(self, sim: SimOrder, ts: int) -> None:
        sim.triggered = True
        self._emit(OrderTriggered(**sim.order.event_ids(ts, sim.order_id)))

    def cancel_working(self, sim: SimOrder, ts: int) -> None:
        self.finish(sim, OrderCanceled(**sim.order.event_ids(ts, sim.order_id)))

    def expire(self, sim: SimOrder, ts: int) -> None:
        self.finish(sim, OrderExpired(**sim.order.event_ids(ts, sim.order_id)))

    def finish(self, sim: SimOrder, event: OrderEvent) -> None:
        """End ``sim`` with ``event`` (cancel, expiry, reject); held children follow it."""
        sim.done = True
        self.engines[sim.order.instrument_id].remove(sim)
        self._orders.pop(sim.order.client_order_id, None)
        self._emit(event)
        for child in self.engines[sim.order.instrument_id].children_of(sim):
            if child.done:
                continue
            if sim.filled <= 0.0:
                self.cancel_working(child, event.ts_init)
            elif child.quantity > sim.filled:
                child.quantity = sim.filled
                self._emit(
                    OrderUpdated(
                        **child.order.event_ids(event.ts_init, child.order_id), quantity=sim.filled
                    )
                )


def _no_handler(event: VenueEvent) -> None:
    raise RuntimeError("SimulatedVenue has no event handler; call set_event_handler first")
