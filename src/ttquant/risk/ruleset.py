"""The rules that apply to one (strategy, instrument) pair, assembled from the scopes that set
them: order limits take the tightest of the account's, the strategy's and the instrument's; the
account's and the instrument's position and cancel limits bound the same account-wide figures;
the strategy's bound its own. Built once per pair and kept until the limits change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ttquant.risk.config import BudgetLimits, Limits, Rate, RiskConfig, rate_window_ns
from ttquant.risk.rules import (
    CancelLimits,
    Denial,
    DuplicateOrder,
    ExposureLimit,
    ListRule,
    MaxOpenOrders,
    MaxOrderNotional,
    MaxOrderQty,
    PositionLimit,
    PriceBand,
    RiskContext,
    RiskRule,
    Rule,
    SelfTrade,
)
from ttquant.risk.state import ACCOUNT
from ttquant.risk.throttle import TokenBucket

Buckets = dict[str, tuple[Rate, TokenBucket]]  # scope -> (its rate, its bucket)


@dataclass(slots=True)
class RuleSet:
    """The rules for one (strategy, instrument) pair, cheapest first."""

    order: list[Rule] = field(default_factory=list)  # submits and modifies
    new_order: list[Rule] = field(default_factory=list)  # submits only
    batch: list[ListRule] = field(default_factory=list)
    # the token buckets an order and a modify draw from: the account's, the strategy's
    order_buckets: list[tuple[str, Rate, TokenBucket]] = field(default_factory=list)
    modify_buckets: list[tuple[str, Rate, TokenBucket]] = field(default_factory=list)


def build_rules(
    cfg: RiskConfig,
    sid: str,
    iid: str,
    ctx: RiskContext,
    order_buckets: Buckets,
    modify_buckets: Buckets,
) -> RuleSet:
    """The rules for strategy ``sid`` trading ``iid``, from every scope that sets them."""
    strategy = cfg.strategies.get(sid)
    instrument = cfg.instruments.get(iid)
    scopes: list[tuple[Limits, str]] = [(cfg, "set for the account")]
    if strategy is not None:
        scopes.append((strategy, f"set for strategy {sid}"))
    if instrument is not None:
        scopes.append((instrument, f"set for {iid}"))
    rules = RuleSet()
    for bucket_scope in (ACCOUNT, sid):
        if (pair := order_buckets.get(bucket_scope)) is not None:
            rules.order_buckets.append((bucket_scope, *pair))
        if (pair := modify_buckets.get(bucket_scope)) is not None:
            rules.modify_buckets.append((bucket_scope, *pair))
    if tight := _tightest(scopes, "max_order_qty"):
        rules.order.append(MaxOrderQty(*tight))
    if tight := _tightest(scopes, "max_order_notional"):
        rules.order.append(MaxOrderNotional(ctx, *tight))
    if tight := _tightest(scopes, "price_band_pct"):
        rules.order.append(PriceBand(ctx, *tight))
    if cfg.deny_duplicates or (strategy is not None and strategy.deny_duplicates):
        where = "set for the account" if cfg.deny_duplicates else f"set for strategy {sid}"
        rules.order.append(DuplicateOrder(ctx, where))
    if cfg.self_trade != "off":
        rules.order.append(SelfTrade(ctx, cfg.self_trade == "strategy"))
    # the account's and the instrument's limits bound the same (account-wide) figures
    account_wide = [(lim, where) for lim, where in scopes if lim is not strategy]
    own: list[tuple[Limits, str]] = []
    if strategy is not None:
        own.append((strategy, scopes[1][1]))
    for group, per_strategy in ((account_wide, False), (own, True)):
        daily = _tightest(group, "max_daily_cancels")
        ratio = _tightest(group, "max_cancel_ratio")
        if daily or ratio:
            rules.new_order.append(
                CancelLimits(ctx, daily, ratio, cfg.cancel_ratio_min_orders, per_strategy)
            )
        qty = _tightest(group, "max_position_qty")
        notional = _tightest(group, "max_position_notional")
        if qty or notional:
            rules.order.append(PositionLimit(ctx, qty, notional, per_strategy))
    for budget, where in scopes[: 2 if strategy is not None else 1]:
        assert isinstance(budget, BudgetLimits)
        if budget.max_gross_exposure is not None or budget.max_net_exposure is not None:
            rules.order.append(
                ExposureLimit(
                    ctx,
                    budget.max_gross_exposure,
                    budget.max_net_exposure,
                    where,
                    budget is strategy,
                )
            )
    open_limits = (
        cfg.max_open_orders,
        None if strategy is None else strategy.max_open_orders,
        None if instrument is None else instrument.max_open_orders,
    )
    if any(x is not None for x in open_limits):
        rules.batch.append(MaxOpenOrders(ctx, *open_limits))
    return rules


def token_buckets(
    config: RiskConfig | None,
    name: str,
    current: Buckets,
    now: int,
) -> Buckets:
    """Token buckets per scope; one whose rate did not change keeps its level."""
    if config is None:
        return {}
    scopes: dict[str, BudgetLimits] = {ACCOUNT: config, **config.strategies}
    out = {}
    for scope, limits in scopes.items():
        rate: Rate | None = getattr(limits, name)
        if rate is None:
            continue
        old = current.get(scope)
        if old is not None and old[0] == rate:
            out[scope] = old
            continue
        where = "risk" if scope == ACCOUNT else f"risk.strategies.{scope}"
        window = rate_window_ns(rate, f"{where}.{name}")
        out[scope] = (rate, TokenBucket(rate.limit, window, rate.burst or rate.limit, now))
    return out


def take_tokens(
    buckets: list[tuple[str, Rate, TokenBucket]], n: int, now: int, code: str
) -> Denial | None:
    """Take ``n`` tokens from every bucket, or from none when one of them is short."""
    for scope, rate, bucket in buckets:
        bucket.refill(now)
        if not bucket.has(n):
            name = "order_rate" if code == RiskRule.ORDER_RATE else "modify_rate"
            whose = "the account" if scope == ACCOUNT else f"strategy {scope}"
            return code, (
                f"{name}: {rate.limit} per {rate.per} (burst {bucket.capacity}) used up for "
                f"{whose}; {n} requested, {bucket.tokens:.2f} available"
            )
    for _, _, bucket in buckets:
        bucket.take(n)
    return None


def _tightest(scopes: list[tuple[Limits, str]], name: str) -> tuple[Any, str] | None:
    """The smallest value of limit ``name`` over the scopes that set it, with its scope."""
    best: tuple[Any, str] | None = None
    for limits, where in scopes:
        value = getattr(limits, name)
        if value is not None and (best is None or value < best[0]):
            best = (value, where)
    return best
