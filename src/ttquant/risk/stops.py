"""Exits for open positions: stop-loss, take-profit, trailing, time and break-even stops.

A strategy says *how* its positions are to be left (an :class:`ExitPlan`); the
:class:`StopManager` turns the plan into orders for every position the strategy opens, moves
the levels (trailing, break-even), and clears them when the position is gone. It acts only
through the strategy's own order methods, so it works alike in backtest, paper and live.

Native or emulated
------------------
*Native* exits rest at the venue: a stop-market order (the venue's trailing stop for a
percent or price trail) and a take-profit limit, linked one-cancels-other; the manager moves
them with modify requests. *Emulated* exits keep no lasting order at the venue: the manager
holds the levels. Watching trades or quotes, it checks each price and closes the position with
a market order once a level is crossed, as a client-side emulator does against a venue without
the order type (the close trades at the next price, as it would live).

Watching bars, no client can do that: a bar is known at its close, and a market order sent
then trades in the next bar, not at the level inside this one. Only the venue's matching engine
walks the price path inside a bar. So on bars the emulator arms the venue for one bar at a time:
after every bar it sends the exits as immediate-or-cancel orders, which the simulated venue
matches over the next bar and cancels at its close. A trailing exit is armed as a one-bar
trailing stop starting from the level the manager carried over, so it ratchets inside the bar as
a resting one does. The fills follow the venue's own rules (a gap fills at the open, anything
else at the level) and equal those of native exits bar for bar; tests pin this on real data and
on random bars. An emulated take-profit armed this way is a resting limit for its bar, like a
native one; a take-profit closed from trades or quotes takes liquidity.

Timing
------
The manager acts after the strategy's own callback for the same bar or tick. A position opened
in a bar is protected from the next bar on; :meth:`Strategy.bracket` protects the entry's own
bar. Levels are set from the position's average entry price when the manager first sees it; a
trailing exit starts from the last price then. Adding to a position resizes the exits and keeps
their levels.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ttquant.core.bus import Handler, MessageBus
from ttquant.core.errors import ConfigError
from ttquant.indicators.volatility import ATR
from ttquant.model.cache import Cache
from ttquant.model.data import (
    Bar,
    BarType,
    QuoteTick,
    TradeTick,
    bar_topic,
    parse_step,
    quote_topic,
    trade_topic,
)
from ttquant.model.enums import (
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
    TrailingOffsetType,
)
from ttquant.model.instruments import Instrument
from ttquant.model.orders import Order

DistanceKind = Literal["price", "percent", "atr"]
Watch = Literal["bars", "trades", "quotes"]

_WATCHES = ("bars", "trades", "quotes")
_AFTER_STRATEGIES = -10  # bus priority: strategies (0) act on a bar before their exits move
_REFUSED = frozenset({OrderStatus.REJECTED, OrderStatus.DENIED})
UNSUPPORTED_ORDER = "UNSUPPORTED_ORDER"  # the reject code of a venue lacking an order type
_NAN = math.nan


@dataclass(frozen=True, slots=True)
class Distance:
    """How far a level lies from its reference price.

    ``Distance.price(50)`` is 50 in price units, ``Distance.percent(1.5)`` is 1.5 % of the
    reference price, ``Distance.atr(3)`` three times the average true range.
    """

    kind: DistanceKind
    value: float

    def __post_init__(self) -> None:
        if self.kind not in ("price", "percent", "atr"):
            raise ConfigError(f"distance kind must be price, percent or atr, got {self.kind!r}")
        if not (math.isfinite(self.value) and self.value > 0.0):
            raise ConfigError(
                f"a {self.kind} distance must be a positive finite number, got {self.value}"
            )
        if self.kind == "percent" and self.value >= 100.0:
            raise ConfigError(f"a percent distance must be below 100, got {self.value}")

    @classmethod
    def price(cls, amount: float) -> Distance:
        return cls("price", amount)

    @classmethod
    def percent(cls, percent: float) -> Distance:
        return cls("percent", percent)

    @classmethod
    def atr(cls, multiple: float) -> Distance:
        return cls("atr", multiple)

    def amount(self, reference: float, atr: float) -> float:
        """The distance in price units (NaN for an ATR distance before the ATR is known)."""
        if self.kind == "price":
            return self.value
        if self.kind == "percent":
            return reference * self.value / 100.0  # the simulated venue's trailing arithmetic
        return self.value * atr


@dataclass(frozen=True, slots=True)
class BreakEven:
    """Once the position has been ``after`` in profit, move its stop to the entry price plus
    ``offset`` (a price amount: the gain locked in; 0 exits at the entry price)."""

    after: Distance
    offset: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.offset) and self.offset >= 0.0):
            raise ConfigError(f"break-even offset must be a finite amount >= 0, got {self.offset}")


@dataclass(frozen=True, slots=True)
class ExitPlan:
    """How to leave every position of one instrument.

    ``stop_loss`` and ``take_profit`` are measured from the entry price, ``trailing`` from the
    best price since the exits were set (a percent or price trail uses the venue's trailing stop
    when native; an ATR trail ratchets ``best - k * ATR`` after every bar). ``time_limit``
    ("4h", or nanoseconds) closes the position at the first bar or tick at least that long after
    it opened. ``atr_period`` is the Wilder ATR period of ATR distances, over the watched bars.
    """

    stop_loss: Distance | None = None
    take_profit: Distance | None = None
    trailing: Distance | None = None
    time_limit: str | int | None = None
    break_even: BreakEven | None = None
    atr_period: int = 14
    time_limit_ns: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if (
            self.stop_loss is None
            and self.take_profit is None
            and self.trailing is None
            and self.time_limit is None
            and self.break_even is None
        ):
            raise ConfigError(
                "an exit plan needs at least one of stop_loss, take_profit, trailing, "
                "time_limit, break_even"
            )
        if isinstance(self.atr_period, bool) or not isinstance(self.atr_period, int):
            raise ConfigError(f"atr_period must be an integer, got {self.atr_period!r}")
        if self.atr_period < 1:
            raise ConfigError(f"atr_period must be at least 1, got {self.atr_period}")
        limit = self.time_limit
        if isinstance(limit, str):
            limit = parse_step(limit)
        elif limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0
        ):
            raise ConfigError(f"time_limit must be a positive duration, got {self.time_limit!r}")
        object.__setattr__(self, "time_limit_ns", limit)

    @property
    def uses_atr(self) -> bool:
        distances = (
            self.stop_loss,
            self.take_profit,
            self.trailing,
            None if self.break_even is None else self.break_even.after,
        )
        return any(d is not None and d.kind == "atr" for d in distances)

    @property
    def venue_trails(self) -> bool:
        """Whether the trail is one a venue's trailing stop order can carry."""
        return self.trailing is not None and self.trailing.kind != "atr"

    @property
    def stop_reason(self) -> str:
        if self.trailing is not None:
            return "trailing_stop"
        return "stop_loss" if self.stop_loss is not None else "break_even"


class ExitLevels:
    """The exit prices of one open position and how they move (arithmetic only, no orders).

    ``side`` is +1 for a long, -1 for a short. ``stop`` is the fixed stop (stop-loss, raised by
    break-even), ``trail`` the trailing stop, ``protective`` the tighter of the two. Every level
    is rounded to the instrument's tick as the venue rounds it; NaN means "none".
    """

    __slots__ = (
        "best",
        "break_even_done",
        "entry",
        "inst",
        "opened_ns",
        "plan",
        "side",
        "stop",
        "take_profit",
        "trail",
    )

    def __init__(
        self,
        plan: ExitPlan,
        inst: Instrument,
        side: int,
        entry: float,
        reference: float,
        atr: float,
        opened_ns: int,
    ) -> None:
        self.plan = plan
        self.inst = inst
        self.side = side
        self.entry = entry
        self.opened_ns = opened_ns
        self.best = reference
        self.stop = _NAN
        self.take_profit = _NAN
        self.trail = _NAN
        self.break_even_done = False
        self._set_entry_levels(atr)
        if plan.trailing is not None:
            self.trail = self._trail_from(reference, atr)

    @property
    def protective(self) -> float:
        return self._tighter(self.stop, self.trail)

    def observe(self, high: float, low: float, atr: float) -> None:
        """Move the levels after prices up to ``high`` and down to ``low`` (a bar, or one price
        given twice) and the ATR that followed them."""
        favourable = high if self.side > 0 else low
        self.best = max(self.best, high) if self.side > 0 else min(self.best, low)
        trailing = self.plan.trailing
        if trailing is not None:
            # a venue trail ratchets at every favourable price, so its level after the bar is
            # the one set at the bar's best price; an ATR trail hangs from the best since entry
            ref = favourable if trailing.kind != "atr" else self.best
            self.trail = self._tighter(self.trail, self._trail_from(ref, atr))
        self._set_entry_levels(atr)
        rule = self.plan.break_even
        if rule is not None and not self.break_even_done:
            needed = rule.after.amount(self.entry, atr)
            if self.side * (self.best - self.entry) >= needed:  # False while needed is NaN
                level = self._level(self.entry + self.side * rule.offset)
                self.stop = self._tighter(self.stop, level)
                self.break_even_done = True

    def crossed(self, price: float) -> str | None:
        """The exit ``price`` reaches (the stop first, the conservative reading), or None."""
        stop = self.protective
        if not math.isnan(stop) and self.side * (price - stop) <= 0.0:
            return self.plan.stop_reason
        tp = self.take_profit
        if not math.isnan(tp) and self.side * (price - tp) >= 0.0:
            return "take_profit"
        return None

    def _set_entry_levels(self, atr: float) -> None:
        """Stop-loss and take-profit from the entry (an ATR distance waits for the ATR)."""
        plan = self.plan
        if plan.stop_loss is not None and math.isnan(self.stop) and not self.break_even_done:
            amount = plan.stop_loss.amount(self.entry, atr)
            self.stop = self._level(self.entry - self.side * amount)
        if plan.take_profit is not None and math.isnan(self.take_profit):
            amount = plan.take_profit.amount(self.entry, atr)
            self.take_profit = self._level(self.entry + self.side * amount)

    def _trail_from(self, reference: float, atr: float) -> float:
        assert self.plan.trailing is not None
        return self._level(reference - self.side * self.plan.trailing.amount(reference, atr))

    def _level(self, raw: float) -> float:
        if math.isnan(raw):
            return _NAN
        price = self.inst.round_price(raw)
        return price if price > 0.0 else _NAN  # a long's stop below zero can never trade

    def _tighter(self, a: float, b: float) -> float:
        if math.isnan(a):
            return b
        if math.isnan(b):
            return a
        return max(a, b) if self.side > 0 else min(a, b)


class ExitOwner(Protocol):
    """What the manager needs from a strategy (the :class:`Strategy` API)."""

    id: str
    cache: Cache

    @property
    def instrument(self) -> str: ...
    def bar_type(self, instrument_id: str | None = ..., step: str | None = ...) -> BarType: ...
    def order(
        self,
        side: OrderSide,
        quantity: float,
        *,
        instrument_id: str | None = ...,
        price: float | None = ...,
        trigger_price: float | None = ...,
        order_type: OrderType | None = ...,
        time_in_force: TimeInForce = ...,
        reduce_only: bool = ...,
        trailing_offset: float | None = ...,
        trailing_offset_type: TrailingOffsetType = ...,
        exit_reason: str = ...,
    ) -> Order: ...
    def submit(self, order: Order) -> Order: ...
    def submit_oco(self, first: Order, second: Order) -> list[Order]: ...
    def cancel(self, order: Order) -> None: ...
    def modify(
        self,
        order: Order,
        *,
        quantity: float | None = ...,
        price: float | None = ...,
        trigger_price: float | None = ...,
    ) -> None: ...
    def open_orders(self, instrument_id: str | None = ...) -> list[Order]: ...


@dataclass(slots=True)
class _Protection:
    """One protected instrument: its plan, how it is watched, and the exits now working."""

    plan: ExitPlan
    inst: Instrument
    emulate: bool
    auto: bool  # may turn to emulation when the venue lacks an order type
    watch: Watch
    topic: str
    atr: ATR | None
    levels: ExitLevels | None = None
    stop_order: Order | None = None
    take_profit_order: Order | None = None
    closing: Order | None = None  # the market order closing the position (time, emulated)
    fixed_sent: float = _NAN  # the fixed stop level last sent to the venue (native trails)
    refused: bool = False  # an exit of this position was refused: send no more

    @property
    def orders(self) -> list[Order]:
        return [o for o in (self.stop_order, self.take_profit_order) if o is not None]

    @property
    def atr_value(self) -> float:
        return _NAN if self.atr is None else self.atr.value


class StopManager:
    """Keeps every position of one strategy inside its :class:`ExitPlan`.

    Reach it as ``self.stops`` in a strategy and call :meth:`protect` (usually in
    ``on_start``).
    """

    def __init__(self, owner: ExitOwner, bus: MessageBus) -> None:
        self._owner = owner
        self._bus = bus
        self._protected: dict[str, _Protection] = {}
        self.log = logging.getLogger(f"ttquant.stops.{owner.id}")

    # -- configuration --------------------------------------------------------------------------
    def protect(
        self,
        plan: ExitPlan,
        instrument_id: str | None = None,
        *,
        emulate: bool | None = None,
        watch: Watch = "bars",
    ) -> None:
        """Apply ``plan`` to the current and every later position in the instrument.

        ``emulate``: None starts native and turns to emulation when the venue refuses an exit
        as an order type it lacks (reject code ``UNSUPPORTED_ORDER``); True or False fixes the
        choice. ``watch``: the data that drives the exits: the instrument's bars (those the
        venue matches), its trades or its quotes. Emulating on bars arms the venue with the
        same order types one bar at a time, so against a venue that lacks them watch trades or
        quotes.
        """
        owner = self._owner
        iid = instrument_id or owner.instrument
        inst = owner.cache.instrument(iid)
        if watch not in _WATCHES:
            raise ConfigError(f"watch must be one of {', '.join(_WATCHES)}, got {watch!r}")
        if plan.uses_atr and watch != "bars":
            raise ConfigError("ATR distances are measured on bars: protect with watch='bars'")
        self.unprotect(iid)
        topic = (
            bar_topic(owner.bar_type(iid))
            if watch == "bars"
            else trade_topic(iid)
            if watch == "trades"
            else quote_topic(iid)
        )
        atr = ATR(plan.atr_period) if plan.uses_atr else None
        self._protected[iid] = _Protection(
            plan, inst, bool(emulate), emulate is None, watch, topic, atr
        )
        self._bus.subscribe(topic, self._handler(watch), priority=_AFTER_STRATEGIES)

    def unprotect(self, instrument_id: str | None = None) -> None:
        """Stop managing the instrument's exits and cancel the ones working."""
        iid = instrument_id or self._owner.instrument
        protection = self._protected.pop(iid, None)
        if protection is None:
            return
        self._disarm(protection)
        self._bus.unsubscribe(protection.topic, self._handler(protection.watch))

    def levels(self, instrument_id: str | None = None) -> ExitLevels | None:
        """The current exit levels of the instrument's position (None when flat or unmanaged)."""
        protection = self._protected.get(instrument_id or self._owner.instrument)
        return None if protection is None else protection.levels

    def is_emulated(self, instrument_id: str | None = None) -> bool:
        return self._protected[instrument_id or self._owner.instrument].emulate

    def _handler(self, watch: Watch) -> Handler:
        if watch == "bars":
            return self._on_bar
        return self._on_trade if watch == "trades" else self._on_quote

    # -- data -----------------------------------------------------------------------------------
    def _on_bar(self, bar: Bar) -> None:
        protection = self._protected[bar.bar_type.instrument_id]
        if protection.atr is not None:
            protection.atr.update(bar.high, bar.low, bar.close)
        self._manage(protection, bar.high, bar.low)

    def _on_trade(self, tick: TradeTick) -> None:
        self._manage(self._protected[tick.instrument_id], tick.price, tick.price)

    def _on_quote(self, quote: QuoteTick) -> None:
        protection = self._protected[quote.instrument_id]
        levels = protection.levels
        # a long leaves by selling into the bid, a short by buying from the ask
        price = quote.ask_price if levels is not None and levels.side < 0 else quote.bid_price
        self._manage(protection, price, price)

    # -- the exits of one instrument ------------------------------------------------------------
    def _manage(self, p: _Protection, high: float, low: float) -> None:
        owner = self._owner
        iid = p.inst.id
        position = owner.cache.position(owner.id, iid)
        if position.is_flat:
            if p.levels is not None or p.stop_order is not None or p.take_profit_order is not None:
                self._disarm(p)
            return
        if any(o.order_type is OrderType.MARKET for o in owner.open_orders(iid)):
            return  # the position is about to change: act on what it becomes
        if p.closing is not None:
            if p.closing.status in _REFUSED:
                self._refused(p, p.closing)
            p.closing = None
        side = 1 if position.quantity > 0.0 else -1
        quantity = p.inst.round_quantity(abs(position.quantity))
        levels = p.levels
        if levels is None or levels.side != side:
            self._disarm(p)
            levels = p.levels = ExitLevels(
                p.plan,
                p.inst,
                side,
                position.avg_px,
                owner.cache.price(iid),
                p.atr_value,
                position.ts_opened,
            )
        else:
            if p.emulate and p.watch != "bars" and not p.refused:
                # checked before the levels move: a price first meets the level set before it
                reason = levels.crossed(high)
                if reason is not None:
                    self._close(p, reason)
                    return
            levels.observe(high, low, p.atr_value)
        if p.refused:
            return
        limit = p.plan.time_limit_ns
        if limit is not None and owner.cache.now() >= levels.opened_ns + limit:
            self._close(p, "time_stop")
            return
        if quantity <= 0.0 or (p.emulate and p.watch != "bars"):
            return
        refused = next((o for o in p.orders if o.status in _REFUSED), None)
        if refused is not None:
            self._refused(p, refused)
            return
        if p.emulate:
            self._cancel_working(p)  # normally none: the last bar's exits ended with that bar
            self._send(p, levels, quantity, TimeInForce.IOC)
        else:
            self._keep_native(p, levels, quantity)

    def _refused(self, p: _Protection, order: Order) -> None:
        reason = next((r for e in reversed(order.events) if (r := getattr(e, "reason", ""))), "")
        self._cancel_working(p)
        if p.auto and not p.emulate and reason == UNSUPPORTED_ORDER and p.watch != "bars":
            p.emulate = True
            self.log.info("%s: the venue lacks the exit order types; emulating them", p.inst.id)
            return
        p.refused = True
        unsupported = reason == UNSUPPORTED_ORDER
        hint = "; emulate them with watch='trades' or 'quotes'" if unsupported else ""
        self.log.warning(
            "%s: exit %s refused (%s); no more exits for this position%s",
            p.inst.id,
            order.client_order_id,
            reason or order.status.value,
            hint,
        )

    def _keep_native(self, p: _Protection, levels: ExitLevels, quantity: float) -> None:
        """Make the resting exits match the levels: send what is missing, modify what moved."""
        stop_px, tp_px = levels.protective, levels.take_profit
        stop, tp = p.stop_order, p.take_profit_order
        if (not math.isnan(stop_px) and (stop is None or stop.is_closed)) or (
            not math.isnan(tp_px) and (tp is None or tp.is_closed)
        ):
            self._cancel_working(p)  # rebuilt together, so the pair stays one-cancels-other
            self._send(p, levels, quantity, TimeInForce.GTC)
            return
        if stop is not None and not stop.is_inflight:
            if stop.order_type is OrderType.TRAILING_STOP:
                # the venue ratchets the trail itself; only a moved fixed stop needs a request
                moved = not _same(levels.stop, p.fixed_sent) and stop_px != levels.trail
            else:
                moved = stop.trigger_price != stop_px
            resize = abs(stop.leaves_qty - quantity) > 0.5 * p.inst.size_increment
            if moved or resize:
                self._owner.modify(
                    stop,
                    quantity=stop.filled_qty + quantity if resize else None,
                    trigger_price=stop_px if moved else None,
                )
                p.fixed_sent = levels.stop
        if (
            tp is not None
            and not tp.is_inflight
            and abs(tp.leaves_qty - quantity) > 0.5 * p.inst.size_increment
        ):
            self._owner.modify(tp, quantity=tp.filled_qty + quantity)

    def _send(self, p: _Protection, levels: ExitLevels, quantity: float, tif: TimeInForce) -> None:
        owner = self._owner
        side = OrderSide.SELL if levels.side > 0 else OrderSide.BUY
        stop_px, tp_px = levels.protective, levels.take_profit
        stop = tp = None
        if not math.isnan(stop_px):
            trailing = p.plan.trailing
            if trailing is not None and p.plan.venue_trails:
                stop = owner.order(
                    side,
                    quantity,
                    instrument_id=p.inst.id,
                    order_type=OrderType.TRAILING_STOP,
                    trigger_price=stop_px,
                    trailing_offset=trailing.value,
                    trailing_offset_type=TrailingOffsetType.PERCENT
                    if trailing.kind == "percent"
                    else TrailingOffsetType.PRICE,
                    time_in_force=tif,
                    reduce_only=True,
                    exit_reason=p.plan.stop_reason,
                )
            else:
                stop = owner.order(
                    side,
                    quantity,
                    instrument_id=p.inst.id,
                    trigger_price=stop_px,
                    time_in_force=tif,
                    reduce_only=True,
                    exit_reason=p.plan.stop_reason,
                )
        if not math.isnan(tp_px):
            tp = owner.order(
                side,
                quantity,
                instrument_id=p.inst.id,
                price=tp_px,
                time_in_force=tif,
                reduce_only=True,
                exit_reason="take_profit",
            )
        if stop is not None and tp is not None:
            owner.submit_oco(stop, tp)
        else:
            single = stop if stop is not None else tp
            if single is not None:
                owner.submit(single)
        p.stop_order, p.take_profit_order = stop, tp
        p.fixed_sent = levels.stop

    def _close(self, p: _Protection, reason: str) -> None:
        """Cancel the exits and close the position with a reduce-only market order (one that
        a risk engine in its reducing state lets through)."""
        self._cancel_working(p)
        owner = self._owner
        position = owner.cache.position(owner.id, p.inst.id)
        quantity = p.inst.round_quantity(abs(position.quantity))
        if quantity <= 0.0:
            return
        side = OrderSide.SELL if position.quantity > 0.0 else OrderSide.BUY
        p.closing = owner.submit(
            owner.order(
                side, quantity, instrument_id=p.inst.id, reduce_only=True, exit_reason=reason
            )
        )

    def _disarm(self, p: _Protection) -> None:
        self._cancel_working(p)
        p.levels = p.closing = None
        p.refused = False
        p.fixed_sent = _NAN

    def _cancel_working(self, p: _Protection) -> None:
        for order in p.orders:
            if not order.is_closed:
                self._owner.cancel(order)
        p.stop_order = p.take_profit_order = None


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))
