"""Random order streams against random rule sets: nothing that breaks a rule reaches the venue,
and every denial names a rule the order really breaks.

The venue is spied on: when an order (or a modify) arrives there, an oracle written here from
the rules' definitions in docs/backtesting.md recomputes every limit from scratch (the cache's
open orders and positions, the prices, its own count of cancels and of orders passed) and
fails the test if the order breaks any of them. Denied orders are checked the other way: the
rule named in the denial must be broken. Values within 1e-6 (relative) of a limit may go either
way; anything clearly over must be denied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.risk._kernel import SECOND, Kernel, instrument

from ttquant.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from ttquant.model.events import OrderDenied, OrderModifyRejected
from ttquant.model.orders import Order
from ttquant.risk.config import BudgetLimits, Limits, Rate, RiskConfig, StrategyRisk
from ttquant.risk.rules import RiskRule
from ttquant.venues.sim.venue import SimulatedVenue

STRATEGIES = ("s1", "s2")
BTC, ETH = instrument("BTC/USDT"), instrument("ETH/USDT")
INSTRUMENTS = (BTC.id, ETH.id)
START_PX = {BTC.id: 100.0, ETH.id: 20.0}
TOL = 1e-6
CANCELABLE = (
    OrderStatus.SUBMITTED,
    OrderStatus.ACCEPTED,
    OrderStatus.TRIGGERED,
    OrderStatus.PENDING_UPDATE,
    OrderStatus.PARTIALLY_FILLED,
)

# the configuration name each reason code's message must start with
RULE_NAMES = {
    RiskRule.MAX_ORDER_QTY: "max_order_qty",
    RiskRule.MAX_ORDER_NOTIONAL: "max_order_notional",
    RiskRule.PRICE_BAND: "price_band_pct",
    RiskRule.MAX_POSITION_QTY: "max_position_qty",
    RiskRule.MAX_POSITION_NOTIONAL: "max_position_notional",
    RiskRule.MAX_GROSS_EXPOSURE: "max_gross_exposure",
    RiskRule.MAX_NET_EXPOSURE: "max_net_exposure",
    RiskRule.MAX_OPEN_ORDERS: "max_open_orders",
    RiskRule.ORDER_RATE: "order_rate",
    RiskRule.MODIFY_RATE: "modify_rate",
    RiskRule.DUPLICATE_ORDER: "deny_duplicates",
    RiskRule.SELF_TRADE: "self_trade",
    RiskRule.MAX_DAILY_CANCELS: "max_daily_cancels",
    RiskRule.MAX_CANCEL_RATIO: "max_cancel_ratio",
    RiskRule.TRADING_HALTED: "trading halted",
    RiskRule.TRADING_REDUCING: "trading reducing",
}


def _cmp(value: float, limit: float | None) -> bool | None:
    """True: clearly over the limit; False: clearly within; None: too close to call."""
    if limit is None:
        return False
    if value > limit * (1 + TOL):
        return True
    if value <= limit * (1 - TOL):
        return False
    return None


@dataclass
class Intent:
    """An order as it would be: a new one, or an open one as a modify would leave it."""

    order: Order
    quantity: float
    price: float | None
    trigger: float | None

    @property
    def leaves(self) -> float:
        return max(self.quantity - self.order.filled_qty, 0.0)


@dataclass
class Oracle:
    k: Kernel
    cfg: RiskConfig
    state: dict[str, str] = field(default_factory=dict)  # scope -> ACTIVE/REDUCING/HALTED
    passed: dict[str, list[int]] = field(default_factory=dict)  # rate scope -> pass times
    modified: dict[str, list[int]] = field(default_factory=dict)
    orders_today: dict[Any, int] = field(default_factory=dict)
    cancels_today: dict[Any, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    day: int = -1

    # -- the venue's view ------------------------------------------------------------------------
    def others(self, own: Order) -> list[Order]:
        return [o for o in self.k.cache.open_orders() if o is not own]

    def mark(self, iid: str) -> float:
        q = self.k.cache.quotes[iid]
        return (q.bid_price + q.ask_price) / 2

    def position(self, sid: str | None, iid: str) -> float:
        return sum(
            p.quantity
            for (s, i), p in self.k.cache.positions.items()
            if i == iid and (sid is None or s == sid)
        )

    def pending(self, others: list[Order], sid: str | None, iid: str, side: OrderSide) -> float:
        return sum(
            o.leaves_qty
            for o in others
            if o.instrument_id == iid
            and o.side is side
            and not o.reduce_only
            and (sid is None or o.strategy_id == sid)
        )

    def projected(
        self, intent: Intent, others: list[Order], sid: str | None
    ) -> tuple[float, float]:
        o = intent.order
        pos = self.position(sid, o.instrument_id)
        pend = self.pending(others, sid, o.instrument_id, o.side)
        return pos, pos + o.side.sign * (pend + intent.leaves)

    # -- the rules, from their definitions ------------------------------------------------------
    def scopes(self, o: Order) -> list[Limits]:
        out: list[Limits] = [self.cfg]
        if o.strategy_id in self.cfg.strategies:
            out.append(self.cfg.strategies[o.strategy_id])
        if o.instrument_id in self.cfg.instruments:
            out.append(self.cfg.instruments[o.instrument_id])
        return out

    def broken(self, intent: Intent, batch: int, new: bool) -> dict[str, bool | None]:
        k, cfg, o = self.k, self.cfg, intent.order
        iid, sid = o.instrument_id, o.strategy_id
        others = self.others(o)
        out: dict[str, bool | None] = {}
        scopes = self.scopes(o)

        def tightest(name: str) -> Any:
            values = [getattr(s, name) for s in scopes if getattr(s, name) is not None]
            return min(values) if values else None

        # trading state: the account's and the strategy's
        states = {self.state.get("account", "ACTIVE"), self.state.get(sid, "ACTIVE")}
        out[RiskRule.TRADING_HALTED] = "HALTED" in states
        if "REDUCING" in states and "HALTED" not in states and not o.reduce_only:
            pos, proj = self.projected(intent, others, sid)
            reduces = pos != 0 and (proj == 0 or (proj > 0) == (pos > 0)) and abs(proj) < abs(pos)
            shrinks = not new and intent.quantity <= o.quantity
            out[RiskRule.TRADING_REDUCING] = not (reduces or shrinks)
        out[RiskRule.MAX_ORDER_QTY] = _cmp(intent.quantity, tightest("max_order_qty"))
        ref = intent.price if intent.price is not None else intent.trigger
        ref = k.cache.price(iid) if ref is None else ref
        out[RiskRule.MAX_ORDER_NOTIONAL] = _cmp(
            intent.quantity * ref, tightest("max_order_notional")
        )
        band = tightest("price_band_pct")
        if band is not None and intent.price is not None:
            base = intent.trigger if o.order_type is OrderType.STOP_LIMIT else self.mark(iid)
            assert base is not None
            out[RiskRule.PRICE_BAND] = _cmp(abs(intent.price - base), band / 100 * base)
        # positions: the account's (account and instrument limits), the strategy's
        qty_hits: list[bool | None] = []
        val_hits: list[bool | None] = []
        for limits in scopes:
            per_strategy = isinstance(limits, StrategyRisk)
            pos, proj = self.projected(intent, others, sid if per_strategy else None)
            if o.reduce_only or abs(proj) <= abs(pos) + 1e-12:
                continue
            qty_hits.append(_cmp(abs(proj), limits.max_position_qty))
            val_hits.append(_cmp(abs(proj) * self.mark(iid), limits.max_position_notional))
        out[RiskRule.MAX_POSITION_QTY] = _any(qty_hits)
        out[RiskRule.MAX_POSITION_NOTIONAL] = _any(val_hits)
        gross_hits: list[bool | None] = []
        net_hits: list[bool | None] = []
        budgets: list[BudgetLimits] = [cfg]
        if sid in cfg.strategies:
            budgets.append(cfg.strategies[sid])
        for limits in budgets:
            per_strategy = isinstance(limits, StrategyRisk)
            who = sid if per_strategy else None
            pos, proj = self.projected(intent, others, who)
            if o.reduce_only or abs(proj) <= abs(pos) + 1e-12:
                continue
            held = {i: self.position(who, i) for i in INSTRUMENTS}
            after = dict(held, **{iid: proj})
            gross = sum(abs(q) * self.mark(i) for i, q in after.items())
            net = sum(q * self.mark(i) for i, q in after.items())
            net_before = sum(q * self.mark(i) for i, q in held.items())
            gross_hits.append(_cmp(gross, limits.max_gross_exposure))
            hit = _cmp(abs(net), limits.max_net_exposure)
            net_hits.append(hit if abs(net) > abs(net_before) + 1e-9 else False)
        out[RiskRule.MAX_GROSS_EXPOSURE] = _any(gross_hits)
        out[RiskRule.MAX_NET_EXPOSURE] = _any(net_hits)
        dups = cfg.deny_duplicates or (
            sid in cfg.strategies and cfg.strategies[sid].deny_duplicates
        )
        if dups:
            sig = (iid, o.side, o.order_type, intent.quantity, intent.price, intent.trigger)
            out[RiskRule.DUPLICATE_ORDER] = any(
                (x.instrument_id, x.side, x.order_type, x.quantity, x.price, x.trigger_price) == sig
                for x in others
                if x.strategy_id == sid
            )
        if cfg.self_trade != "off" and o.order_type in (OrderType.MARKET, OrderType.LIMIT):
            px = intent.price
            crossing = False
            for x in others:
                if x.instrument_id != iid or x.side is o.side:
                    continue
                if cfg.self_trade == "strategy" and x.strategy_id != sid:
                    continue
                resting = x.order_type is OrderType.LIMIT or (
                    x.order_type is OrderType.STOP_LIMIT and x.status is OrderStatus.TRIGGERED
                )
                if not resting or x.price is None:
                    continue
                if px is None or (px >= x.price if o.side is OrderSide.BUY else px <= x.price):
                    crossing = True
            out[RiskRule.SELF_TRADE] = crossing
        if new:
            counts = (
                len(others),
                sum(1 for x in others if x.strategy_id == sid),
                sum(1 for x in others if x.instrument_id == iid),
            )
            limits3 = (
                cfg.max_open_orders,
                cfg.strategies[sid].max_open_orders if sid in cfg.strategies else None,
                cfg.instruments[iid].max_open_orders if iid in cfg.instruments else None,
            )
            out[RiskRule.MAX_OPEN_ORDERS] = any(
                lim is not None and n + batch > lim for n, lim in zip(counts, limits3, strict=True)
            )
            daily_hit = ratio_hit = False
            self.roll(k.cache.now())
            for limits in scopes:
                key: Any = (sid, iid) if isinstance(limits, StrategyRisk) else iid
                sent, canceled = self.orders_today.get(key, 0), self.cancels_today.get(key, 0)
                if limits.max_daily_cancels is not None and canceled >= limits.max_daily_cancels:
                    daily_hit = True
                if (
                    limits.max_cancel_ratio is not None
                    and sent >= cfg.cancel_ratio_min_orders
                    and canceled / sent > limits.max_cancel_ratio * (1 + TOL)
                ):
                    ratio_hit = True
            out[RiskRule.MAX_DAILY_CANCELS] = daily_hit
            out[RiskRule.MAX_CANCEL_RATIO] = ratio_hit
        return out

    def rate_ok(self, times: dict[str, list[int]], name: str, sid: str, now: int) -> bool:
        """Every window up to now holds at most burst + refill passes, for each bucket."""
        scopes: list[tuple[str, Rate]] = []
        if getattr(self.cfg, name) is not None:
            scopes.append(("account", getattr(self.cfg, name)))
        s = self.cfg.strategies.get(sid)
        if s is not None and getattr(s, name) is not None:
            scopes.append((sid, getattr(s, name)))
        for scope, rate in scopes:
            seq = times.setdefault(scope, [])
            seq.append(now)
            window = _window_ns(rate.per)
            burst = rate.burst or rate.limit
            for i, t1 in enumerate(seq):
                allowed = burst + (now - t1) * rate.limit // window
                if len(seq) - i > allowed:
                    return False
        return True

    def roll(self, now: int) -> None:
        """Cancels and orders are counted per UTC day."""
        day = now // (86_400 * SECOND)
        if day != self.day:
            self.day = day
            self.orders_today.clear()
            self.cancels_today.clear()

    # -- hooks ----------------------------------------------------------------------------------
    def arrived(self, orders: Sequence[Order]) -> None:
        for o in orders:
            intent = Intent(o, o.quantity, o.price, o.trigger_price)
            for code, hit in self.broken(intent, len(orders), new=True).items():
                if hit:
                    self.violations.append(f"{o} reached the venue breaking {code}")
            self.roll(self.k.cache.now())
            for key in ((o.strategy_id, o.instrument_id), o.instrument_id):
                self.orders_today[key] = self.orders_today.get(key, 0) + 1
        if not self.rate_ok(self.passed, "order_rate", orders[0].strategy_id, self.k.cache.now()):
            self.violations.append(f"{orders} broke the order rate")

    def modify_arrived(self, order: Order, qty: float | None, px: float | None) -> None:
        intent = Intent(
            order,
            order.quantity if qty is None else qty,
            order.price if px is None else px,
            order.trigger_price,
        )
        for code, hit in self.broken(intent, 1, new=False).items():
            if hit:
                self.violations.append(f"modify of {order} to {qty}/{px} breaking {code}")
        if not self.rate_ok(self.modified, "modify_rate", order.strategy_id, self.k.cache.now()):
            self.violations.append(f"modify of {order} broke the modify rate")

    def judge_denial(self, intent: Intent, code: str, message: str, new: bool) -> None:
        name = RULE_NAMES.get(code)
        if name is None or not message.startswith(name):
            self.violations.append(f"denial {code!r} does not name its rule: {message!r}")
            return
        if code in (RiskRule.ORDER_RATE, RiskRule.MODIFY_RATE):
            return  # a token bucket's level is its own state; the pass-side bound covers it
        if self.broken(intent, 1, new).get(code) is False:
            self.violations.append(f"{intent.order} denied {code} without breaking it: {message}")


def _window_ns(per: str) -> int:
    return {"1s": SECOND, "2s": 2 * SECOND}[per]


def _any(hits: list[bool | None]) -> bool | None:
    if any(h is True for h in hits):
        return True
    if any(h is None for h in hits):
        return None
    return False


class SpyVenue(SimulatedVenue):
    oracle: Oracle

    def submit_list(self, orders: Sequence[Order]) -> None:
        self.oracle.arrived(orders)
        super().submit_list(orders)

    def modify(
        self,
        order: Order,
        quantity: float | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
    ) -> None:
        self.oracle.modify_arrived(order, quantity, price)
        super().modify(order, quantity, price, trigger_price)


# -- random rule sets --------------------------------------------------------------------------
def _maybe(values: Sequence[Any]) -> st.SearchStrategy[Any]:
    """Unset two times in three: a rule set sets a handful of limits, not every one."""
    return st.sampled_from([None, None, None, None, *values])


def _limits(kind: type[Limits]) -> st.SearchStrategy[Any]:
    base = {
        "max_order_qty": _maybe([0.5, 1.0, 2.0]),
        "max_order_notional": _maybe([60.0, 150.0, 400.0]),
        "price_band_pct": _maybe([0.5, 2.0, 5.0]),
        "max_position_qty": _maybe([0.5, 1.5, 3.0]),
        "max_position_notional": _maybe([100.0, 250.0]),
        "max_open_orders": _maybe([1, 3, 6]),
        "max_daily_cancels": _maybe([1, 3, 8]),
        "max_cancel_ratio": _maybe([0.2, 0.5]),
    }
    if kind is not Limits:
        base |= {
            "max_gross_exposure": _maybe([150.0, 400.0]),
            "max_net_exposure": _maybe([100.0, 300.0]),
            "order_rate": _maybe([Rate(limit=3, per="1s"), Rate(limit=2, per="2s", burst=4)]),
            "modify_rate": _maybe([Rate(limit=2, per="1s")]),
            "deny_duplicates": st.booleans(),
        }
    return st.fixed_dictionaries(base).map(lambda d: kind(**d))


rule_sets = st.builds(
    lambda account, strategies, instruments, self_trade, min_orders: RiskConfig(
        **{f: getattr(account, f) for f in account.__struct_fields__},
        self_trade=self_trade,
        cancel_ratio_min_orders=min_orders,
        strategies=strategies,
        instruments=instruments,
    ),
    _limits(BudgetLimits),
    st.dictionaries(st.sampled_from(STRATEGIES), _limits(StrategyRisk), max_size=2),
    st.dictionaries(st.sampled_from(INSTRUMENTS), _limits(Limits), max_size=2),
    st.sampled_from(["off", "strategy", "account"]),
    st.sampled_from([1, 4]),
)

submit = st.tuples(
    st.just("submit"),
    st.sampled_from(STRATEGIES),
    st.sampled_from(INSTRUMENTS),
    st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
    st.sampled_from(["market", "limit", "limit", "stop", "stop_limit"]),
    st.sampled_from([0.1, 0.4, 0.5, 1.0, 1.2, 2.5]),
    st.integers(-8, 8),  # price offset in percent of the mark
    st.sampled_from([False, False, False, True]),  # reduce-only
    st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC]),
)
actions = st.lists(
    st.one_of(
        submit,
        submit,
        submit,
        submit,
        st.tuples(st.just("move"), st.sampled_from(INSTRUMENTS), st.integers(-5, 5)),
        st.tuples(st.just("cancel"), st.integers(0, 50)),
        st.tuples(st.just("again"), st.integers(0, 50)),
        st.tuples(st.just("cross"), st.integers(0, 50), st.sampled_from(STRATEGIES), st.booleans()),
        st.tuples(
            st.just("modify"),
            st.integers(0, 50),
            st.sampled_from([0.3, 1.0, 3.0]),
            st.integers(-6, 6),
        ),
        st.tuples(st.just("move"), st.sampled_from(INSTRUMENTS), st.integers(-5, 5)),
        st.tuples(st.just("wait"), st.sampled_from([1, 200_000_000, SECOND, 86_400 * SECOND])),
        st.tuples(
            st.just("state"),
            st.sampled_from(["halt", "reduce", "resume", "resume"]),
            st.sampled_from(["account", "s1"]),
        ),
    ),
    min_size=20,
    max_size=80,
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=rule_sets, steps=actions)
def test_no_order_breaking_a_rule_reaches_the_venue(cfg: RiskConfig, steps: list[Any]) -> None:
    k = Kernel(
        None,
        instruments=(BTC, ETH),
        strategies=STRATEGIES,
        cash=10_000_000.0,
        venue_cls=SpyVenue,
    )
    assert isinstance(k.venue, SpyVenue)
    oracle = k.venue.oracle = Oracle(k, cfg)
    k.risk.configure(cfg)
    prices = dict(START_PX)
    for iid, px in prices.items():
        k.quote(px - 0.01, px + 0.01, iid)
    sent: list[Order] = []

    def send(order: Order) -> None:
        k.risk.submit([order])
        sent.append(order)
        k.execution.process_events()
        denial = next((e for e in order.events if isinstance(e, OrderDenied)), None)
        if denial is not None:
            intent = Intent(order, order.quantity, order.price, order.trigger_price)
            oracle.judge_denial(intent, denial.reason, denial.message, new=True)

    for step in steps:
        kind = step[0]
        now = k.cache.now()
        if kind == "submit":
            _, sid, iid, side, otype, qty, offset, reduce_only, tif = step
            px = round(prices[iid] * (1 + offset / 100), 2)
            args: dict[str, Any] = {}
            if otype == "limit":
                args["price"] = px
            elif otype == "stop":
                args["trigger"] = px
            elif otype == "stop_limit":
                args["trigger"] = px
                args["price"] = round(px * (1.01 if side is OrderSide.BUY else 0.99), 2)
            send(
                k.order(
                    side,
                    qty,
                    strategy=sid,
                    iid=iid,
                    reduce_only=reduce_only,
                    time_in_force=tif,
                    **args,
                )
            )
        elif kind == "again" and sent:  # the same order once more: a duplicate, if still open
            old = sent[step[1] % len(sent)]
            send(
                k.order(
                    old.side,
                    old.quantity,
                    price=old.price,
                    trigger=old.trigger_price,
                    strategy=old.strategy_id,
                    iid=old.instrument_id,
                    order_type=old.order_type,
                )
            )
        elif kind == "cross" and sent:  # trade against one of our own orders
            old = sent[step[1] % len(sent)]
            send(
                k.order(
                    old.side.opposite,
                    0.1,
                    price=None if step[3] else old.price,
                    strategy=step[2],
                    iid=old.instrument_id,
                )
            )
        elif kind == "cancel" and sent:
            order = sent[step[1] % len(sent)]
            if order.status in CANCELABLE and order.time_in_force is TimeInForce.GTC:
                oracle.roll(now)
                for key in ((order.strategy_id, order.instrument_id), order.instrument_id):
                    oracle.cancels_today[key] = oracle.cancels_today.get(key, 0) + 1
            k.risk.cancel(order)
            k.execution.process_events()
        elif kind == "modify" and sent:
            order = sent[step[1] % len(sent)]
            factor, offset = step[2], step[3]
            new_qty = round(max(order.quantity * factor, order.filled_qty + 0.1), 3)
            new_px = None
            if order.order_type is OrderType.LIMIT:
                new_px = round(prices[order.instrument_id] * (1 + offset / 100), 2)
            before = len(order.events)
            intent = Intent(
                order,
                new_qty,
                new_px if new_px is not None else order.price,
                order.trigger_price,
            )
            verdicts = (
                oracle.broken(intent, 1, new=False)
                if order.status in (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED)
                else {}
            )
            k.risk.modify(order, quantity=new_qty, price=new_px)
            k.execution.process_events()
            for event in order.events[before:]:
                if isinstance(event, OrderModifyRejected) and event.reason in RULE_NAMES:
                    name = RULE_NAMES[event.reason]
                    if not event.message.startswith(name):
                        oracle.violations.append(f"modify denial without its rule: {event}")
                    elif (
                        event.reason not in (RiskRule.MODIFY_RATE,)
                        and verdicts.get(event.reason) is False
                    ):
                        oracle.violations.append(f"modify denied without cause: {event}")
        elif kind == "move":
            iid = step[1]
            prices[iid] = round(prices[iid] * (1 + step[2] / 100), 2)
            k.quote(prices[iid] - 0.01, prices[iid] + 0.01, iid)
        elif kind == "wait":
            k.at(now + step[1])
        elif kind == "state":
            action, scope = step[1], step[2]
            strategy_id = None if scope == "account" else scope
            if action == "halt":
                k.risk.halt("test", strategy_id=strategy_id, flatten=False)
                oracle.state[scope] = "HALTED"
            elif action == "reduce":
                k.risk.reduce_only("test", strategy_id=strategy_id)
                if oracle.state.get(scope) != "HALTED":
                    oracle.state[scope] = "REDUCING"
            else:
                k.risk.resume(strategy_id=strategy_id)
                oracle.state.pop(scope, None)
            k.execution.process_events()
        assert not oracle.violations, oracle.violations[0]
    # the incremental bookkeeping agrees with the orders themselves
    tracker = k.risk.tracker
    assert tracker.open_total == len(k.cache.open_orders())
    for sid in STRATEGIES:
        assert tracker.open_by_strategy.get(sid, 0) == len(k.cache.open_orders(sid))
    if any(k.risk.denials.values()):
        assert sum(k.risk.denials.values()) == sum(
            1 for o in sent if o.status is OrderStatus.DENIED
        )
