"""The pre-trade risk engine: every strategy command passes here on its way to the OMS.

``strategy.submit → RiskEngine → ExecutionEngine → venue``, in every mode. A denied order never
reaches the execution engine's venue: it becomes an :class:`OrderDenied` (reason code and
message naming the rule), counted per rule, published on ``events.risk.denied`` and queued for
the strategy's ``on_order`` like any venue answer (after its callback returns). Cancels always
pass. A denied modify comes back as ``OrderModifyRejected`` the same way.

Trading states (:mod:`ttquant.risk.state`) gate everything else: HALTED lets nothing through and
cancels every open order in the scope at once (optionally flattening its positions), REDUCING
lets only orders through that make a position smaller. Loss gates (daily loss, drawdown, losing
streaks) set them from the equity, sampled with every price and fill.

With no ``[risk]`` configured and every state ACTIVE the engine forwards commands untouched and
listens to nothing, so an unrestricted backtest pays one attribute check per order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ttquant.core.bus import MessageBus
from ttquant.core.errors import ConfigError
from ttquant.execution.engine import ExecutionEngine
from ttquant.model.cache import Cache
from ttquant.model.data import Bar, QuoteTick, TradeTick
from ttquant.model.enums import OrderSide, OrderType, TimeInForce
from ttquant.model.events import OrderEvent, OrderFilled, OrderPendingCancel, OrderPendingUpdate
from ttquant.model.orders import Order, can_apply
from ttquant.portfolio.portfolio import Portfolio
from ttquant.risk.activity import DailyActivity
from ttquant.risk.config import (
    BudgetLimits,
    RiskConfig,
    duration_ns,
    merge_limits,
    validate_risk,
)
from ttquant.risk.gates import Breach, EquityLimits, EquityWatch, LossRule, StreakWatch
from ttquant.risk.rules import Denial, RiskContext, RiskRule
from ttquant.risk.ruleset import Buckets, RuleSet, build_rules, take_tokens, token_buckets
from ttquant.risk.state import (
    ACCOUNT,
    Hold,
    ScopeState,
    TradingState,
    TradingStateChanged,
    more_severe,
)
from ttquant.risk.tracking import OrderLike, OrderTracker

KILL_SWITCH = "KILL_SWITCH"
MANUAL_REDUCING = "MANUAL_REDUCING"
DENIED_TOPIC = "events.risk.denied"
STATE_TOPIC = "events.risk.state"
_FIRST = 1_000  # bus priority: see an order event before any strategy acts on it
_LAST = -1_000  # ... and react to a fill after its strategy has seen it
_NOT_COUNTED_AS_CANCELS = (TimeInForce.IOC, TimeInForce.FOK)


class _Modified:
    """An open order as a modify would leave it, for the same rules as a new order."""

    __slots__ = (
        "client_order_id",
        "instrument_id",
        "leaves_qty",
        "order_type",
        "price",
        "quantity",
        "reduce_only",
        "side",
        "strategy_id",
        "trigger_price",
    )

    def __init__(
        self, order: Order, quantity: float | None, price: float | None, trigger: float | None
    ) -> None:
        self.client_order_id = order.client_order_id
        self.strategy_id = order.strategy_id
        self.instrument_id = order.instrument_id
        self.side = order.side
        self.order_type = order.order_type
        self.quantity = order.quantity if quantity is None else quantity
        self.price = order.price if price is None else price
        self.trigger_price = order.trigger_price if trigger is None else trigger
        self.reduce_only = order.reduce_only
        self.leaves_qty = max(self.quantity - order.filled_qty, 0.0)


class RiskEngine:
    """Pre-trade checks, trading states and loss gates between strategies and the OMS."""

    def __init__(
        self,
        cache: Cache,
        portfolio: Portfolio,
        execution: ExecutionEngine,
        bus: MessageBus,
    ) -> None:
        self.cache = cache
        self.portfolio = portfolio
        self.execution = execution
        self.bus = bus
        self.config: RiskConfig | None = None
        self.denials: Counter[str] = Counter()  # reason code -> orders denied
        self.modify_denials: Counter[str] = Counter()
        self.state_changes: list[TradingStateChanged] = []
        self.tracker = OrderTracker()
        self.activity = DailyActivity()
        self.currency = "USDT"
        self._scopes: dict[str, ScopeState] = {ACCOUNT: ScopeState(ACCOUNT)}
        self._next_expiry = math.inf
        self._held = False  # some scope is not ACTIVE
        self._checking = False
        self._started = False
        self._starting_equity = 0.0
        self._strategy_ids: list[str] = []
        self._ctx = RiskContext(cache, portfolio, self.tracker, self.activity, self.currency)
        self._rules: dict[tuple[str, str], RuleSet] = {}
        self._order_buckets: Buckets = {}  # scope -> (rate, bucket)
        self._modify_buckets: Buckets = {}
        self._equity_watches: dict[str, EquityWatch] = {}
        self._streaks: dict[str, StreakWatch] = {}
        self._trips_seen = 0
        self._flatten_seq = 0
        self._tracking = False
        self._watching_data = False
        self._watching_fills = False
        self._holders: dict[str, set[str]] = {}  # instrument -> who holds a position in it

    # -- lifecycle and configuration ------------------------------------------------------------
    def configure(self, config: RiskConfig | None) -> None:
        """Replace the limits (None: none). Validated first: on error nothing changes."""
        if config is not None:
            validate_risk(config)
        if self._started:
            self._install(config)
        else:
            self.config = config

    def update_limits(
        self,
        changes: dict[str, Any],
        *,
        strategy: str | None = None,
        instrument: str | None = None,
    ) -> None:
        """Change some limits of one scope at run time (``None`` removes a limit).

        ``update_limits({"max_order_qty": 2}, instrument="BTC/USDT@BINANCE")``. The result is
        validated as a whole; on error a :class:`ConfigError` is raised and nothing changes.
        """
        if strategy is not None and instrument is not None:
            raise ConfigError("update_limits: give a strategy or an instrument, not both")
        path: tuple[str, ...] = ()
        if strategy is not None:
            path = ("strategies", strategy)
        elif instrument is not None:
            path = ("instruments", instrument)
        self.configure(merge_limits(self.config or RiskConfig(), changes, path))

    def start(self, strategy_ids: Sequence[str], currency: str) -> None:
        """Resolve the limits against the strategies and instruments of the run."""
        self._strategy_ids = list(strategy_ids)
        self.currency = self._ctx.currency = currency
        self._starting_equity = self.portfolio.equity()  # what capital weights are shares of
        self._started = True
        self._install(self.config)

    def _install(self, config: RiskConfig | None) -> None:
        if config is not None:
            self._check_names(config)
            capitals = self._capitals(config)
        else:
            capitals = {}
        # everything that can fail is done: switch over
        self.config = config
        for sid in set(self.portfolio.capitals) - set(capitals):
            del self.portfolio.capitals[sid]
        for sid, capital in capitals.items():
            self.portfolio.allocate(sid, capital)
        self._rules.clear()
        now = self.cache.now()
        self._order_buckets = token_buckets(config, "order_rate", self._order_buckets, now)
        self._modify_buckets = token_buckets(config, "modify_rate", self._modify_buckets, now)
        self._install_gates(config, now)
        self._rewire()
        signatures = config is not None and (
            config.deny_duplicates or any(s.deny_duplicates for s in config.strategies.values())
        )
        resting = config is not None and config.self_trade != "off"
        if (signatures, resting) != (self.tracker.signatures, self.tracker.resting):
            self.tracker.track(
                signatures=signatures, resting=resting, orders=self.cache.open_orders()
            )

    def _check_names(self, config: RiskConfig) -> None:
        unknown = sorted(set(config.strategies) - set(self._strategy_ids))
        if unknown:
            raise ConfigError(
                f"risk.strategies: no strategy {unknown[0]!r} in this run "
                f"(strategies: {', '.join(self._strategy_ids) or 'none'})"
            )
        unknown = sorted(set(config.instruments) - set(self.cache.instruments))
        if unknown:
            raise ConfigError(
                f"risk.instruments: unknown instrument {unknown[0]!r} "
                f"(instruments: {', '.join(sorted(self.cache.instruments)) or 'none'})"
            )

    def _capitals(self, config: RiskConfig) -> dict[str, float]:
        equity = self._starting_equity
        capitals = {}
        for sid, limits in config.strategies.items():
            if limits.capital is not None:
                capitals[sid] = limits.capital
            elif limits.capital_weight is not None:
                capitals[sid] = limits.capital_weight * equity
        total = sum(capitals.values())
        if total > equity * (1.0 + 1e-9):
            raise ConfigError(
                f"risk.strategies: capital adds up to {total:,.2f}, more than the account's "
                f"starting equity of {equity:,.2f}"
            )
        return capitals

    def _install_gates(self, config: RiskConfig | None, now: int) -> None:
        watches: dict[str, EquityWatch] = {}
        streaks: dict[str, StreakWatch] = {}
        scopes: dict[str, BudgetLimits] = {}
        if config is not None:
            scopes = {ACCOUNT: config, **config.strategies}
        for scope, limits in scopes.items():
            equity_limits = EquityLimits(
                limits.max_daily_loss,
                limits.max_daily_loss_pct,
                limits.max_drawdown,
                limits.max_drawdown_pct,
            )
            if equity_limits.any:
                watch = self._equity_watches.get(scope)
                if watch is None:
                    watch = EquityWatch(
                        _budget_name(scope), equity_limits, self._equity(scope), now
                    )
                watch.limits = equity_limits
                watches[scope] = watch
            if limits.loss_streak is not None:
                where = "risk" if scope == ACCOUNT else f"risk.strategies.{scope}"
                cooldown = duration_ns(limits.loss_streak.cooldown, f"{where}.loss_streak.cooldown")
                old = self._streaks.get(scope)
                streak = StreakWatch(_budget_name(scope), limits.loss_streak.losses, cooldown)
                if old is not None:
                    streak.streak = old.streak
                streaks[scope] = streak
        if streaks and not self._streaks:  # count losing trades from now on
            self._trips_seen = len(self.cache.round_trips)
        for iid in self.cache.instruments:
            self._holders_of(iid)
        self._equity_watches = watches
        self._streaks = streaks

    def _rewire(self) -> None:
        """Subscribe to what the configured rules need, and nothing when nothing is set."""
        self._held = any(s.state is not TradingState.ACTIVE for s in self._scopes.values())
        self._checking = self.config is not None or self._held
        if self._checking and not self._tracking:
            self.tracker.rebuild(self.cache.open_orders())
            self.bus.subscribe("events.order.*", self._on_order_event, _FIRST)
            self._tracking = True
        fills = bool(self._equity_watches or self._streaks)
        if fills != self._watching_fills:
            if fills:
                self.bus.subscribe("events.order.*", self._on_fill_event, _LAST)
            else:
                self.bus.unsubscribe("events.order.*", self._on_fill_event)
            self._watching_fills = fills
        data = bool(self._equity_watches)
        if data != self._watching_data:
            handlers = (
                ("data.bars.*", self._on_bar),
                ("data.trades.*", self._on_tick),
                ("data.quotes.*", self._on_tick),
            )
            for topic, handler in handlers:
                if data:
                    self.bus.subscribe(topic, handler, _FIRST)
                else:
                    self.bus.unsubscribe(topic, handler)
            self._watching_data = data

    # -- commands -------------------------------------------------------------------------------
    def submit(self, orders: Sequence[Order]) -> None:
        """Check one order or a contingent list (all pass or all are denied), then send it."""
        if not self._checking:
            self.execution.submit(orders)
            return
        now = self.cache.now()
        if now >= self._next_expiry:
            self._expire(now)
        denial = self._check_submit(orders, now)
        if denial is not None:
            self._deny(orders, denial)
            return
        for order in orders:
            self.activity.order_sent(order.strategy_id, order.instrument_id, now)
        self.execution.submit(orders)

    def cancel(self, order: Order) -> None:
        """Never blocked. Counted towards the cancel limits unless the order is IOC/FOK."""
        if (
            self._checking
            and order.time_in_force not in _NOT_COUNTED_AS_CANCELS
            and can_apply(order.status, OrderPendingCancel)
        ):
            self.activity.cancel_sent(order.strategy_id, order.instrument_id, self.cache.now())
        self.execution.cancel(order)

    def modify(
        self,
        order: Order,
        quantity: float | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
    ) -> None:
        if self._checking and can_apply(order.status, OrderPendingUpdate):
            now = self.cache.now()
            if now >= self._next_expiry:
                self._expire(now)
            denial = self._check_modify(
                order, _Modified(order, quantity, price, trigger_price), now
            )
            if denial is not None:
                self.modify_denials[denial[0]] += 1
                self.execution.reject_modify(order, *denial)
                return
        self.execution.modify(order, quantity, price, trigger_price)

    # -- checks ---------------------------------------------------------------------------------
    def _check_submit(self, orders: Sequence[Order], now: int) -> Denial | None:
        config = self.config
        for order in orders:
            self._ctx.new_check()
            if self._held and (denial := self._state_denial(order, None)) is not None:
                return denial
            if config is None:
                continue
            rules = self._rules_for(order.strategy_id, order.instrument_id)
            for rule in rules.order:
                if (denial := rule(order)) is not None:
                    return denial
            for rule in rules.new_order:
                if (denial := rule(order)) is not None:
                    return denial
        if config is None:
            return None
        for batch_rule in rules.batch:
            if (denial := batch_rule(orders)) is not None:
                return denial
        return take_tokens(rules.order_buckets, len(orders), now, RiskRule.ORDER_RATE)

    def _check_modify(self, order: Order, intent: _Modified, now: int) -> Denial | None:
        self._ctx.new_check()
        denial = self._state_denial(intent, order) if self._held else None
        if denial is not None or self.config is None:
            return denial
        rules = self._rules_for(order.strategy_id, order.instrument_id)
        for rule in rules.order:
            if (denial := rule(intent)) is not None:
                return denial
        return take_tokens(rules.modify_buckets, 1, now, RiskRule.MODIFY_RATE)

    def _state_denial(self, order: OrderLike, original: Order | None) -> Denial | None:
        """Why the trading state stops ``order`` (for a modify: ``original`` as modified)."""
        account = self._scopes[ACCOUNT]
        own = self._scopes.get(order.strategy_id)
        state = account.state if own is None else more_severe(account.state, own.state)
        if state is TradingState.ACTIVE:
            return None
        scope = account if account.state is state or own is None else own
        hold = scope.decisive()
        why = f"{hold.rule}: {hold.message}" if hold is not None else "no reason recorded"
        whose = "the account" if scope.scope == ACCOUNT else f"strategy {scope.scope}"
        if state is TradingState.HALTED:
            return RiskRule.TRADING_HALTED, f"trading halted for {whose} ({why})"
        if order.reduce_only or self._reduces(order):
            return None
        if original is not None and order.quantity <= original.quantity:
            return None  # a modify that does not add to the order
        return RiskRule.TRADING_REDUCING, (
            f"trading reducing for {whose}: only orders that reduce the position pass ({why})"
        )

    def _reduces(self, order: OrderLike) -> bool:
        """The strategy's position shrinks without flipping even if its same-side orders fill."""
        pos, projected = self._ctx.projected(order.strategy_id, order)
        return (
            pos != 0.0
            and (projected == 0.0 or (projected > 0.0) == (pos > 0.0))
            and (abs(projected) < abs(pos))
        )

    def _rules_for(self, strategy_id: str, instrument_id: str) -> RuleSet:
        key = (strategy_id, instrument_id)
        rules = self._rules.get(key)
        if rules is None:
            assert self.config is not None
            rules = self._rules[key] = build_rules(
                self.config,
                strategy_id,
                instrument_id,
                self._ctx,
                self._order_buckets,
                self._modify_buckets,
            )
        return rules

    # -- outcomes -------------------------------------------------------------------------------
    def _deny(self, orders: Sequence[Order], denial: Denial) -> None:
        code, message = denial
        self.denials[code] += len(orders)
        for event in self.execution.deny(orders, code, message):
            self.bus.publish(DENIED_TOPIC, event)

    # -- trading states -------------------------------------------------------------------------
    def state(self, strategy_id: str | None = None) -> TradingState:
        """The state an order of ``strategy_id`` meets (the account's when None)."""
        now = self.cache.now()
        if now >= self._next_expiry:
            self._expire(now)
        account = self._scopes[ACCOUNT].state
        own = self._scopes.get(strategy_id) if strategy_id is not None else None
        return account if own is None else more_severe(account, own.state)

    def holds(self, strategy_id: str | None = None) -> list[Hold]:
        scope = self._scopes.get(strategy_id or ACCOUNT)
        return [] if scope is None else scope.holds()

    def halt(
        self, reason: str = "manual", *, strategy_id: str | None = None, flatten: bool | None = None
    ) -> None:
        """Kill switch: HALTED now, every open order of the scope canceled in this same call.

        ``flatten`` (default: the config's ``flatten_on_halt``) also closes the scope's positions
        with market orders. Stays until :meth:`resume`.
        """
        self._hold(
            strategy_id or ACCOUNT,
            Hold(KILL_SWITCH, TradingState.HALTED, None, f"kill switch: {reason}"),
            flatten,
        )

    def reduce_only(self, reason: str = "manual", *, strategy_id: str | None = None) -> None:
        """REDUCING until :meth:`resume`: only orders that reduce a position pass."""
        self._hold(
            strategy_id or ACCOUNT,
            Hold(MANUAL_REDUCING, TradingState.REDUCING, None, f"reducing: {reason}"),
            None,
        )

    def resume(self, *, strategy_id: str | None = None) -> None:
        """Lift every hold on the scope (kill switch, loss gates) and restart its loss gates.

        The peak and the day's start become the current equity, so a resumed drawdown gate
        measures from here rather than halting again at the next price.
        """
        name = strategy_id or ACCOUNT
        scope = self._scopes.get(name)
        if scope is None:
            return
        before = scope.state
        scope.clear()
        watch = self._equity_watches.get(name)
        if watch is not None:
            watch.restart(self._equity(name))
        self._changed(scope, before, "RESUMED", "resumed", None)

    def _scope(self, name: str) -> ScopeState:
        scope = self._scopes.get(name)
        if scope is None:
            if name not in self._strategy_ids and self._started:
                raise ConfigError(
                    f"no strategy {name!r} in this run "
                    f"(strategies: {', '.join(self._strategy_ids) or 'none'})"
                )
            scope = self._scopes[name] = ScopeState(name)
        return scope

    def _hold(self, name: str, hold: Hold, flatten: bool | None) -> None:
        scope = self._scope(name)
        before = scope.state
        if scope.put(hold):
            self._next_expiry = min(self._next_expiry, scope.next_expiry)
            self._changed(scope, before, hold.rule, hold.message, flatten)

    def _expire(self, now: int) -> None:
        for scope in self._scopes.values():
            if scope.next_expiry <= now:
                before = scope.state
                gone = scope.expire(now)
                message = "; ".join(f"{h.rule} ended" for h in gone)
                self._changed(scope, before, "EXPIRED", message, None)
        self._next_expiry = min(s.next_expiry for s in self._scopes.values())

    def _changed(
        self, scope: ScopeState, before: TradingState, rule: str, message: str, flatten: bool | None
    ) -> None:
        if scope.state is before:
            return
        event = TradingStateChanged(
            scope=scope.scope,
            state=scope.state,
            previous=before,
            rule=rule,
            message=message,
            ts_event=self.cache.now(),
        )
        self.state_changes.append(event)
        self._rewire()
        if scope.state is TradingState.HALTED:
            strategy_id = None if scope.scope == ACCOUNT else scope.scope
            for order in self.cache.open_orders(strategy_id):
                self.execution.cancel(order)
            if flatten if flatten is not None else (self.config and self.config.flatten_on_halt):
                self._flatten(strategy_id, rule)
        self.bus.publish(STATE_TOPIC, event)

    def _flatten(self, strategy_id: str | None, rule: str) -> None:
        """Close the scope's positions with market orders that bypass the checks."""
        now = self.cache.now()
        for pos in self.cache.open_positions(strategy_id):
            inst = pos.instrument
            qty = inst.round_quantity(abs(pos.quantity))
            if qty <= 0.0:
                continue
            self._flatten_seq += 1
            order = Order(
                client_order_id=f"{pos.strategy_id}-risk-{self._flatten_seq}",
                strategy_id=pos.strategy_id,
                instrument_id=inst.id,
                side=OrderSide.SELL if pos.quantity > 0 else OrderSide.BUY,
                order_type=OrderType.MARKET,
                quantity=qty,
                exit_reason=rule.lower(),
                ts_init=now,
            )
            self.execution.submit([order])

    # -- event handlers -------------------------------------------------------------------------
    def _on_order_event(self, event: OrderEvent) -> None:
        order = self.cache.order(event.client_order_id)
        if order is not None:
            self.tracker.update(order)

    def _on_fill_event(self, event: OrderEvent) -> None:
        if type(event) is not OrderFilled:
            return
        self._holders_of(event.instrument_id)
        now = self.cache.now()
        if self._streaks:
            trips = self.cache.round_trips
            for trip in trips[self._trips_seen :]:
                for name in (ACCOUNT, trip.strategy_id):
                    streak = self._streaks.get(name)
                    if streak is not None and (breach := streak.observe(trip.pnl, now)):
                        self._breach(name, breach)
            self._trips_seen = len(trips)
        if self._equity_watches:
            self._watch_equity(now, None)

    def _holders_of(self, instrument_id: str) -> None:
        """Note who holds a position in the instrument (after a fill changed it)."""
        owners = {
            sid
            for (sid, iid), p in self.cache.positions.items()
            if iid == instrument_id and p.quantity
        }
        if owners:
            self._holders[instrument_id] = owners
        else:
            self._holders.pop(instrument_id, None)

    def _on_bar(self, bar: Bar) -> None:
        self._on_price(bar.bar_type.instrument_id)

    def _on_tick(self, tick: TradeTick | QuoteTick) -> None:
        self._on_price(tick.instrument_id)

    def _on_price(self, instrument_id: str) -> None:
        """A price moved: only the equity of who holds the instrument can have changed."""
        now = self.cache.now()
        if now >= self._next_expiry:
            self._expire(now)
        holders = self._holders.get(instrument_id)
        if holders:
            self._watch_equity(now, holders)

    def _watch_equity(self, now: int, holders: set[str] | None) -> None:
        """Sample the equity of the account and of the strategies among ``holders`` (all when
        None) and act on a breach."""
        if now >= self._next_expiry:
            self._expire(now)
        for name, watch in self._equity_watches.items():
            if holders is not None and name != ACCOUNT and name not in holders:
                continue
            breach = watch.observe(now, self._equity(name))
            if breach is not None:
                scope = self._scopes.get(name)
                if scope is None or not scope.has(breach.rule):
                    self._breach(name, breach)

    def _breach(self, name: str, breach: Breach) -> None:
        state = TradingState.REDUCING
        if breach.rule != LossRule.LOSS_STREAK and (
            self.config is None or self.config.on_loss_limit == "halt"
        ):
            state = TradingState.HALTED
        self._hold(name, Hold(breach.rule, state, breach.until_ns, breach.message), None)

    def _equity(self, name: str) -> float:
        """The account's equity, or a strategy's capital plus its PnL."""
        if name == ACCOUNT:
            return self.portfolio.equity()
        return self.portfolio.capital(name) + self.portfolio.strategy_pnl(name)

    # -- records --------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """What the risk engine did, for results.json and reports."""
        return {
            "configured": self.config is not None,
            "denials": dict(sorted(self.denials.items())),
            "modify_denials": dict(sorted(self.modify_denials.items())),
            "states": {name: s.state.value for name, s in self._scopes.items()},
            "state_changes": [
                {
                    "ts": e.ts_event,
                    "scope": e.scope,
                    "state": e.state.value,
                    "previous": e.previous.value,
                    "rule": e.rule,
                    "message": e.message,
                }
                for e in self.state_changes
            ],
        }


def _budget_name(scope: str) -> str:
    return "the account" if scope == ACCOUNT else f"strategy {scope}"
