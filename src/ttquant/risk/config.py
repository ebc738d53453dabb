"""The ``[risk]`` configuration: limits for the account, for each strategy, for each instrument.

One set of limit names serves every scope; a scope holds the limits that make sense for it:

```toml
[risk]                                   # the account: every strategy together
max_order_notional = 50_000              # per order, in the account currency
price_band_pct = 5                       # limit prices within 5 % of the mid/last price
max_gross_exposure = 200_000
order_rate = { limit = 20, per = "1s" }  # token bucket: 20 per second, bursts of 20
max_daily_loss_pct = 3                   # of the day's starting equity: halted until midnight UTC
max_drawdown_pct = 10                    # from peak equity: halted until resumed
self_trade = "account"                   # never cross our own resting orders

[risk.strategies.trend]                  # one strategy: its capital and its risk budget
capital_weight = 0.5                     # or capital = 50_000
max_drawdown_pct = 8
loss_streak = { losses = 4, cooldown = "6h" }

[risk.instruments."BTC/USDT@BINANCE"]    # one instrument, whichever strategy trades it
max_position_qty = 2
max_daily_cancels = 400
```

Validation here covers what the values alone decide (signs, ranges, durations); the names of
strategies and instruments are checked when the engine knows them (:mod:`ttquant.risk.engine`).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import msgspec

from ttquant.core.errors import ConfigError
from ttquant.model.data import parse_step


class Rate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """A token bucket: ``limit`` actions per ``per``, in bursts of at most ``burst``."""

    limit: int
    per: str = "1s"
    burst: int | None = None  # bucket capacity; default ``limit``


class LossStreak(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """After ``losses`` losing trades in a row, only position-reducing orders for ``cooldown``."""

    losses: int
    cooldown: str


class Limits(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Limits valid in every scope. Position and cancel limits count per instrument."""

    max_order_qty: float | None = None
    max_order_notional: float | None = None
    price_band_pct: float | None = None
    max_position_qty: float | None = None
    max_position_notional: float | None = None
    max_open_orders: int | None = None
    max_daily_cancels: int | None = None
    max_cancel_ratio: float | None = None  # canceled / submitted orders today


class BudgetLimits(Limits, kw_only=True, omit_defaults=True):
    """Limits of a budget holder: the account, or one strategy within it."""

    max_gross_exposure: float | None = None
    max_net_exposure: float | None = None
    order_rate: Rate | None = None
    modify_rate: Rate | None = None
    deny_duplicates: bool = False
    max_daily_loss: float | None = None
    max_daily_loss_pct: float | None = None
    max_drawdown: float | None = None
    max_drawdown_pct: float | None = None
    loss_streak: LossStreak | None = None


class StrategyRisk(BudgetLimits, kw_only=True, omit_defaults=True):
    """One strategy's capital allocation (an amount or a weight of the account) and limits."""

    capital: float | None = None
    capital_weight: float | None = None


class RiskConfig(BudgetLimits, kw_only=True, omit_defaults=True):
    """The whole ``[risk]`` section; its own limits apply to the account."""

    self_trade: Literal["off", "strategy", "account"] = "off"
    on_loss_limit: Literal["halt", "reduce"] = "halt"
    flatten_on_halt: bool = False
    cancel_ratio_min_orders: int = 20  # the cancel ratio is judged from this many orders a day
    strategies: dict[str, StrategyRisk] = msgspec.field(default_factory=dict)
    instruments: dict[str, Limits] = msgspec.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result


_AMOUNTS = (
    "max_order_qty",
    "max_order_notional",
    "max_position_qty",
    "max_position_notional",
    "max_gross_exposure",
    "max_net_exposure",
    "max_daily_loss",
    "max_drawdown",
    "capital",
)
_PERCENTS = ("max_daily_loss_pct", "max_drawdown_pct")
_COUNTS = ("max_open_orders", "max_daily_cancels")


def validate_risk(config: RiskConfig) -> None:
    """Raise :class:`ConfigError` naming the first invalid value (``risk.<scope>.<field>``)."""
    _validate_scope(config, "risk")
    if config.cancel_ratio_min_orders < 1:
        raise ConfigError(
            f"risk.cancel_ratio_min_orders must be at least 1, got {config.cancel_ratio_min_orders}"
        )
    weights = 0.0
    for sid, limits in config.strategies.items():
        where = f"risk.strategies.{sid}"
        _validate_scope(limits, where)
        if limits.capital is not None and limits.capital_weight is not None:
            raise ConfigError(f"{where}: give capital or capital_weight, not both")
        if limits.capital_weight is not None:
            w = limits.capital_weight
            if not (math.isfinite(w) and 0.0 < w <= 1.0):
                raise ConfigError(f"{where}.capital_weight must be in (0, 1], got {w}")
            weights += w
        has_capital = limits.capital is not None or limits.capital_weight is not None
        for name in _PERCENTS:
            if getattr(limits, name) is not None and not has_capital:
                raise ConfigError(
                    f"{where}.{name} is a percentage of the strategy's capital: "
                    "give it capital or capital_weight"
                )
    if weights > 1.0 + 1e-9:
        raise ConfigError(f"risk.strategies: capital weights add up to {weights:g}, more than 1")
    for iid, instrument_limits in config.instruments.items():
        _validate_scope(instrument_limits, f"risk.instruments.{iid!r}")


def _validate_scope(limits: Limits, where: str) -> None:
    for name in _AMOUNTS:
        value = getattr(limits, name, None)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{where}.{name} must be a positive number, got {value}")
    for name in _PERCENTS:
        value = getattr(limits, name, None)
        if value is not None and not (math.isfinite(value) and 0 < value <= 100):
            raise ConfigError(f"{where}.{name} must be a percentage in (0, 100], got {value}")
    for name in _COUNTS:
        value = getattr(limits, name)
        if value is not None and value < 1:
            raise ConfigError(f"{where}.{name} must be at least 1, got {value}")
    band = limits.price_band_pct
    if band is not None and not (math.isfinite(band) and band > 0):
        raise ConfigError(f"{where}.price_band_pct must be a positive percentage, got {band}")
    ratio = limits.max_cancel_ratio
    if ratio is not None and not (math.isfinite(ratio) and 0 < ratio <= 1):
        raise ConfigError(f"{where}.max_cancel_ratio must be in (0, 1], got {ratio}")
    if isinstance(limits, BudgetLimits):
        for name in ("order_rate", "modify_rate"):
            rate = getattr(limits, name)
            if rate is not None:
                rate_window_ns(rate, f"{where}.{name}")
        if limits.loss_streak is not None:
            streak = limits.loss_streak
            if streak.losses < 1:
                raise ConfigError(
                    f"{where}.loss_streak.losses must be at least 1, got {streak.losses}"
                )
            duration_ns(streak.cooldown, f"{where}.loss_streak.cooldown")


def rate_window_ns(rate: Rate, where: str) -> int:
    """The bucket's refill window in ns, after checking the rate's numbers."""
    if rate.limit < 1:
        raise ConfigError(f"{where}.limit must be at least 1, got {rate.limit}")
    if rate.burst is not None and rate.burst < 1:
        raise ConfigError(f"{where}.burst must be at least 1, got {rate.burst}")
    return duration_ns(rate.per, f"{where}.per")


def duration_ns(text: str, where: str) -> int:
    try:
        return parse_step(text)
    except ConfigError:
        raise ConfigError(
            f"{where}: {text!r} is not a duration such as 500ms, 1s, 5m, 1h or 1d"
        ) from None


def merge_limits(config: RiskConfig, changes: dict[str, Any], path: tuple[str, ...]) -> RiskConfig:
    """A new, validated config with ``changes`` applied to the scope at ``path``.

    ``path`` is ``()`` for the account, ``("strategies", id)`` or ``("instruments", id)``. A
    change to ``None`` removes that limit. Raises :class:`ConfigError`; ``config`` is untouched.
    """
    raw = config.to_dict()
    scope = raw
    for key in path:
        scope = scope.setdefault(key, {})
    for key, value in changes.items():
        if value is None:
            scope.pop(key, None)
        else:
            scope[key] = value
    where = ".".join(("risk", *path))
    try:
        merged = msgspec.convert(raw, RiskConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    validate_risk(merged)
    return merged
