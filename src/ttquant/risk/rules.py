"""The pre-trade rules: each looks at one order against the kernel's state and says why not.

A rule is built for one (strategy, instrument) pair with its limits already resolved from the
scopes that set them, and returns ``(reason code, message)`` or None. The message starts with
the configuration name of the limit it enforces and names the scope that set it, so a denial
read in a log, a report or ``on_order`` says which line of ``[risk]`` to look at.

Positions and exposures are judged *as if filled*: the scope's position, plus the leaves of its
open orders on the same side in the same instrument, plus this order. An order that leaves the
position no larger than it is always passes them, even when a limit was lowered below the
position, so a strategy can always get back inside its limits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, Protocol

from ttquant.model.cache import Cache
from ttquant.model.enums import OrderSide, OrderType
from ttquant.portfolio.portfolio import Portfolio
from ttquant.risk.activity import DailyActivity
from ttquant.risk.tracking import OrderLike, OrderTracker

Denial = tuple[str, str]  # (reason code, message)
_TOL = 1e-9  # relative: a limit is broken when exceeded by more than float noise


class RiskRule:
    """Reason codes carried by ``OrderDenied.reason`` (and ``OrderModifyRejected.reason``)."""

    TRADING_HALTED: Final = "TRADING_HALTED"
    TRADING_REDUCING: Final = "TRADING_REDUCING"
    MAX_ORDER_QTY: Final = "MAX_ORDER_QTY"
    MAX_ORDER_NOTIONAL: Final = "MAX_ORDER_NOTIONAL"
    PRICE_BAND: Final = "PRICE_BAND"
    MAX_POSITION_QTY: Final = "MAX_POSITION_QTY"
    MAX_POSITION_NOTIONAL: Final = "MAX_POSITION_NOTIONAL"
    MAX_GROSS_EXPOSURE: Final = "MAX_GROSS_EXPOSURE"
    MAX_NET_EXPOSURE: Final = "MAX_NET_EXPOSURE"
    MAX_OPEN_ORDERS: Final = "MAX_OPEN_ORDERS"
    ORDER_RATE: Final = "ORDER_RATE"
    MODIFY_RATE: Final = "MODIFY_RATE"
    DUPLICATE_ORDER: Final = "DUPLICATE_ORDER"
    SELF_TRADE: Final = "SELF_TRADE"
    MAX_DAILY_CANCELS: Final = "MAX_DAILY_CANCELS"
    MAX_CANCEL_RATIO: Final = "MAX_CANCEL_RATIO"


class RiskContext:
    """What the rules read: the cache, the portfolio, the open orders and today's activity.

    Several rules need the same position figures for one order; :meth:`projected` computes
    them once per check (the engine calls :meth:`new_check` before each).
    """

    def __init__(
        self,
        cache: Cache,
        portfolio: Portfolio,
        tracker: OrderTracker,
        activity: DailyActivity,
        currency: str,
    ) -> None:
        self.cache = cache
        self.portfolio = portfolio
        self.tracker = tracker
        self.activity = activity
        self.currency = currency
        self._scale: dict[str, float] = {}  # instrument -> value of one unit per unit of price
        self._memo: dict[str | None, tuple[float, float]] = {}
        self._unit = math.nan

    def new_check(self) -> None:
        self._memo.clear()
        self._unit = math.nan

    def unit_value(self, order: OrderLike) -> float:
        """What one unit of the order's instrument is worth at the market (at the order's own
        price before any market price is known), in the risk currency; once per check."""
        unit = self._unit
        if not math.isnan(unit):  # already known for this check
            return unit
        mark = self.mark(order.instrument_id)
        unit = self._unit = self.value(
            order.instrument_id, 1.0, mark if mark > 0.0 else self.order_price(order)
        )
        return unit

    def now(self) -> int:
        return self.cache.now()

    def position_qty(self, strategy_id: str | None, instrument_id: str) -> float:
        """The strategy's signed position, or the account's (every strategy) when None."""
        if strategy_id is None:
            return self.portfolio.net_position(instrument_id)
        pos = self.cache.positions.get((strategy_id, instrument_id))
        return 0.0 if pos is None else pos.quantity

    def exposure(self, strategy_id: str | None, skip: str) -> tuple[float, float]:
        """(gross, net) value of the strategy's (or the account's) positions at the market,
        every instrument but ``skip``; NaN when one has no price."""
        if strategy_id is None:
            held = self.portfolio.net_quantities()
        else:
            held = {
                iid: pos.quantity
                for (sid, iid), pos in self.cache.positions.items()
                if sid == strategy_id and pos.quantity
            }
        gross = net = 0.0
        for iid, qty in held.items():
            if iid != skip and qty:
                value = self.value(iid, qty, self.mark(iid))
                gross += value
                net += value if qty > 0 else -value
        return gross, net

    def mark(self, instrument_id: str) -> float:
        """The mid of the last quote, else the last price; NaN before any."""
        quote = self.cache.quotes.get(instrument_id)
        if quote is not None:
            return (quote.bid_price + quote.ask_price) / 2.0
        return self.cache.price(instrument_id)

    def order_price(self, order: OrderLike) -> float:
        """The price an order would trade at, as far as is known when it is sent."""
        if order.price is not None:
            return order.price
        if order.trigger_price is not None:
            return order.trigger_price
        return self.cache.price(order.instrument_id)

    def value(self, instrument_id: str, quantity: float, price: float) -> float:
        """Absolute value of ``quantity`` at ``price`` in the risk currency (NaN: unknown)."""
        scale = self._scale.get(instrument_id)
        if scale is not None:
            return abs(quantity) * price * scale
        inst = self.cache.instruments[instrument_id]
        if inst.settlement_currency == self.currency and not inst.is_inverse:
            self._scale[instrument_id] = inst.multiplier
            return abs(quantity) * price * inst.multiplier
        # inverse, or settled in another currency: a live conversion rate
        rate = self.cache.conversion_rate(inst.settlement_currency, self.currency)
        return inst.notional(quantity, price) * rate

    def projected(self, strategy_id: str | None, order: OrderLike) -> tuple[float, float]:
        """(position now, position if this order and the same-side open ones all fill)."""
        known = self._memo.get(strategy_id)
        if known is not None:
            return known
        iid = order.instrument_id
        pos = self.position_qty(strategy_id, iid)
        pending = self.tracker.pending(strategy_id, iid, order.side, order.client_order_id)
        if order.side is OrderSide.BUY:
            known = (pos, pos + pending + order.leaves_qty)
        else:
            known = (pos, pos - pending - order.leaves_qty)
        self._memo[strategy_id] = known
        return known


class Rule(Protocol):
    def __call__(self, order: OrderLike) -> Denial | None: ...


class ListRule(Protocol):
    def __call__(self, orders: Sequence[OrderLike]) -> Denial | None: ...


def _cap(limit: float | None) -> float:
    """The value above which ``limit`` is broken (inf when there is no limit)."""
    return math.inf if limit is None else limit * (1.0 + _TOL)


class MaxOrderQty:
    __slots__ = ("cap", "limit", "scope")

    def __init__(self, limit: float, scope: str) -> None:
        self.limit, self.scope, self.cap = limit, scope, _cap(limit)

    def __call__(self, order: OrderLike) -> Denial | None:
        if order.quantity > self.cap:
            return RiskRule.MAX_ORDER_QTY, (
                f"max_order_qty: quantity {order.quantity:g} is above {self.limit:g} ({self.scope})"
            )
        return None


class MaxOrderNotional:
    __slots__ = ("cap", "ctx", "limit", "scope")

    def __init__(self, ctx: RiskContext, limit: float, scope: str) -> None:
        self.ctx, self.limit, self.scope, self.cap = ctx, limit, scope, _cap(limit)

    def __call__(self, order: OrderLike) -> Denial | None:
        value = self.ctx.value(order.instrument_id, order.quantity, self.ctx.order_price(order))
        if value <= self.cap:
            return None
        if math.isnan(value):
            return RiskRule.MAX_ORDER_NOTIONAL, (
                f"max_order_notional: no price for {order.instrument_id} to value the order"
            )
        return RiskRule.MAX_ORDER_NOTIONAL, (
            f"max_order_notional: {value:,.2f} {self.ctx.currency} is above "
            f"{self.limit:,.2f} ({self.scope})"
        )


class PriceBand:
    """Fat-finger check: a limit price within ``pct`` of the market (a stop-limit's of its stop)."""

    __slots__ = ("band", "ctx", "pct", "scope")

    def __init__(self, ctx: RiskContext, pct: float, scope: str) -> None:
        self.ctx, self.pct, self.scope = ctx, pct, scope
        self.band = _cap(pct / 100.0)

    def __call__(self, order: OrderLike) -> Denial | None:
        price = order.price
        if price is None:
            return None
        stop_limit = order.order_type is OrderType.STOP_LIMIT and order.trigger_price is not None
        ref = order.trigger_price if stop_limit else self.ctx.mark(order.instrument_id)
        assert ref is not None
        if not ref > 0.0 or abs(price - ref) <= self.band * ref:  # no price yet: nothing to
            return None  # be far from
        what = "its trigger" if stop_limit else "the market"
        return RiskRule.PRICE_BAND, (
            f"price_band_pct: limit {price:g} is {abs(price / ref - 1.0) * 100.0:.2f} % from "
            f"{what} ({ref:g}), band {self.pct:g} % ({self.scope})"
        )


def _holder(order: OrderLike, strategy_wide: bool) -> str:
    return f"strategy {order.strategy_id}" if strategy_wide else "the account"


class PositionLimit:
    """Max position (quantity and value) per instrument, of a strategy or of the account.

    The account's limits may come from two scopes (the account's, for every instrument, and the
    instrument's own); both bound the same position, so the tighter of each applies.
    """

    __slots__ = ("ctx", "notional", "notional_cap", "qty", "qty_cap", "strategy_wide")

    def __init__(
        self,
        ctx: RiskContext,
        qty: tuple[float, str] | None,
        notional: tuple[float, str] | None,
        strategy_wide: bool,
    ) -> None:
        self.ctx, self.qty, self.notional = ctx, qty, notional
        self.qty_cap = _cap(None if qty is None else qty[0])
        self.notional_cap = _cap(None if notional is None else notional[0])
        self.strategy_wide = strategy_wide

    def __call__(self, order: OrderLike) -> Denial | None:
        if order.reduce_only:
            return None
        ctx = self.ctx
        pos, projected = ctx.projected(order.strategy_id if self.strategy_wide else None, order)
        size = abs(projected)
        if size <= abs(pos) + 1e-12:
            return None
        iid = order.instrument_id
        if size > self.qty_cap:
            assert self.qty is not None
            return RiskRule.MAX_POSITION_QTY, (
                f"max_position_qty: {_holder(order, self.strategy_wide)} would hold "
                f"{projected:g} {iid}, limit {self.qty[0]:g} ({self.qty[1]})"
            )
        if self.notional is None:
            return None
        value = size * ctx.unit_value(order)
        if value <= self.notional_cap:
            return None
        if math.isnan(value):
            return RiskRule.MAX_POSITION_NOTIONAL, (
                f"max_position_notional: no price for {iid} to value the position"
            )
        return RiskRule.MAX_POSITION_NOTIONAL, (
            f"max_position_notional: {_holder(order, self.strategy_wide)} would hold "
            f"{value:,.2f} {ctx.currency} of {iid}, limit {self.notional[0]:,.2f} "
            f"({self.notional[1]})"
        )


class ExposureLimit:
    """Gross (sum of absolute values) and net (absolute sum) exposure over every instrument."""

    __slots__ = ("ctx", "gross", "gross_cap", "net", "net_cap", "scope", "strategy_wide")

    def __init__(
        self,
        ctx: RiskContext,
        gross: float | None,
        net: float | None,
        scope: str,
        strategy_wide: bool,
    ) -> None:
        self.ctx, self.gross, self.net, self.scope = ctx, gross, net, scope
        self.gross_cap, self.net_cap = _cap(gross), _cap(net)
        self.strategy_wide = strategy_wide

    def __call__(self, order: OrderLike) -> Denial | None:
        if order.reduce_only:
            return None
        ctx = self.ctx
        sid = order.strategy_id if self.strategy_wide else None
        pos, projected = ctx.projected(sid, order)
        if abs(projected) <= abs(pos) + 1e-12:
            return None
        own = order.instrument_id
        gross, net = ctx.exposure(sid, own)
        unit = ctx.unit_value(order)
        after = abs(projected) * unit
        net_before = net + math.copysign(abs(pos) * unit, pos)
        net += math.copysign(after, projected)
        gross += after
        if math.isnan(gross):
            return RiskRule.MAX_GROSS_EXPOSURE if self.gross else RiskRule.MAX_NET_EXPOSURE, (
                "exposure: a position has no price to value it"
            )
        if gross > self.gross_cap:
            return RiskRule.MAX_GROSS_EXPOSURE, (
                f"max_gross_exposure: {_holder(order, self.strategy_wide)} would hold "
                f"{gross:,.2f} {ctx.currency} gross, limit {self.gross:,.2f} ({self.scope})"
            )
        if abs(net) > self.net_cap and abs(net) > abs(net_before):
            return RiskRule.MAX_NET_EXPOSURE, (
                f"max_net_exposure: {_holder(order, self.strategy_wide)} would hold "
                f"{net:,.2f} {ctx.currency} net, limit {self.net:,.2f} ({self.scope})"
            )
        return None


class DuplicateOrder:
    __slots__ = ("ctx", "scope")

    def __init__(self, ctx: RiskContext, scope: str) -> None:
        self.ctx, self.scope = ctx, scope

    def __call__(self, order: OrderLike) -> Denial | None:
        if self.ctx.tracker.duplicates(order, order.client_order_id):
            return RiskRule.DUPLICATE_ORDER, (
                f"deny_duplicates: strategy {order.strategy_id} already has an open "
                f"{order.side.value} {order.order_type.value} {order.quantity:g} "
                f"{order.instrument_id} at the same price ({self.scope})"
            )
        return None


class SelfTrade:
    """A market or limit order that would trade with one of our own resting orders."""

    __slots__ = ("ctx", "per_strategy")

    def __init__(self, ctx: RiskContext, per_strategy: bool) -> None:
        self.ctx, self.per_strategy = ctx, per_strategy

    def __call__(self, order: OrderLike) -> Denial | None:
        if order.order_type is OrderType.MARKET:
            price = None
        elif order.order_type is OrderType.LIMIT:
            price = order.price
        else:
            return None  # stops are not in the book until triggered
        crossed = self.ctx.tracker.crossed_by(
            order.instrument_id,
            order.side is OrderSide.BUY,
            price,
            order.strategy_id if self.per_strategy else None,
            order.client_order_id,
        )
        if crossed is None:
            return None
        own, own_px = crossed
        return RiskRule.SELF_TRADE, (
            f"self_trade: {order.side.value} "
            f"{'market' if price is None else f'at {price:g}'} would trade with our own order "
            f"{own} resting at {own_px:g} ({'strategy' if self.per_strategy else 'account'})"
        )


class CancelLimits:
    """New orders stop on an instrument once today's cancels reach a count or a share."""

    __slots__ = ("ctx", "daily", "min_orders", "ratio", "ratio_cap", "strategy_wide")

    def __init__(
        self,
        ctx: RiskContext,
        daily: tuple[int, str] | None,
        ratio: tuple[float, str] | None,
        min_orders: int,
        strategy_wide: bool,
    ) -> None:
        self.ctx, self.daily, self.ratio, self.min_orders = ctx, daily, ratio, min_orders
        self.ratio_cap = _cap(None if ratio is None else ratio[0])
        self.strategy_wide = strategy_wide

    def __call__(self, order: OrderLike) -> Denial | None:
        sid = order.strategy_id if self.strategy_wide else None
        orders, cancels = self.ctx.activity.counts(sid, order.instrument_id, self.ctx.now())
        if self.daily is not None and cancels >= self.daily[0]:
            return RiskRule.MAX_DAILY_CANCELS, (
                f"max_daily_cancels: {_holder(order, self.strategy_wide)} canceled {cancels} "
                f"{order.instrument_id} orders today, limit {self.daily[0]} ({self.daily[1]})"
            )
        if orders >= self.min_orders and cancels / orders > self.ratio_cap:
            assert self.ratio is not None
            return RiskRule.MAX_CANCEL_RATIO, (
                f"max_cancel_ratio: {_holder(order, self.strategy_wide)} canceled {cancels} of "
                f"{orders} {order.instrument_id} orders today, limit {self.ratio[0]:g} "
                f"({self.ratio[1]})"
            )
        return None


class MaxOpenOrders:
    """Open (and in-flight) orders of the account, the strategy and on the instrument."""

    __slots__ = ("account", "ctx", "instrument", "strategy")

    def __init__(
        self,
        ctx: RiskContext,
        account: int | None,
        strategy: int | None,
        instrument: int | None,
    ) -> None:
        self.ctx = ctx
        self.account, self.strategy, self.instrument = account, strategy, instrument

    def __call__(self, orders: Sequence[OrderLike]) -> Denial | None:
        tracker = self.ctx.tracker
        n = len(orders)
        first = orders[0]
        if self.account is not None and tracker.open_total + n > self.account:
            return self._deny("the account", tracker.open_total, n, self.account)
        if self.strategy is not None:
            count = tracker.open_by_strategy.get(first.strategy_id, 0)
            if count + n > self.strategy:
                return self._deny(f"strategy {first.strategy_id}", count, n, self.strategy)
        if self.instrument is not None:
            count = tracker.open_by_instrument.get(first.instrument_id, 0)
            n_here = sum(1 for o in orders if o.instrument_id == first.instrument_id)
            if count + n_here > self.instrument:
                return self._deny(
                    f"instrument {first.instrument_id}", count, n_here, self.instrument
                )
        return None

    @staticmethod
    def _deny(what: str, count: int, n: int, limit: int) -> Denial:
        return RiskRule.MAX_OPEN_ORDERS, (
            f"max_open_orders: {what} has {count} open, {n} more would pass the limit {limit}"
        )
