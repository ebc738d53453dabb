"""Command-line flags applied to a backtest config: one place for every command that runs one.

``ttq backtest``, ``sweep``, ``optimize`` and ``walkforward`` all start from an optional config
file and let flags override parts of it; they must read the same flags the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ttquant.engine.config import BacktestConfig

_CHOICES = {"account": ("cash", "margin"), "market_fill": ("next_open", "close")}


def config_from_flags(
    config: Path | None,
    *,
    strategy: str | None = None,
    data: list[Path] | None = None,
    symbol: list[str] | None = None,
    timerange: str | None = None,
    params: Mapping[str, Any] | None = None,
    venue: Mapping[str, object | None] | None = None,
) -> BacktestConfig:
    """The config file (or the defaults), changed by the flags that were given.

    ``params`` set the strategy parameters (of ``strategy``, else of every configured
    strategy); ``venue`` maps venue fields to values, ``None`` meaning "not given".
    """
    from ttquant.core.errors import ConfigError
    from ttquant.engine.config import BacktestConfig, DataConfig, StrategyConfig, load_config

    cfg = load_config(config) if config else BacktestConfig()
    symbols = symbol or []
    if data:
        if len(symbols) > len(data):
            raise ConfigError("more --symbol than --data values")
        default = symbols[-1] if len(data) == 1 and symbols else "BTC/USDT"
        cfg.data = [
            DataConfig(file=str(f), symbol=symbols[i] if i < len(symbols) else default)
            for i, f in enumerate(data)
        ]
    elif symbols:
        raise ConfigError("--symbol needs --data")
    params = dict(params or {})
    if strategy:
        cfg.strategies = [StrategyConfig(name=strategy, params=params)]
    elif params:
        if not cfg.strategies:
            raise ConfigError("--set and --size need a strategy (--strategy or config)")
        for s in cfg.strategies:
            s.params = {**s.params, **params}
    for field, value in (venue or {}).items():
        if value is None:
            continue
        choices = _CHOICES.get(field)
        if choices is not None:
            choice(value, choices, "--" + field.replace("_", "-"))
        setattr(cfg.venue, field, value)
    if timerange is not None:
        cfg.timerange = timerange
    return cfg


def choice(value: object, allowed: tuple[str, ...], flag: str) -> Any:
    """``value`` if it is one of ``allowed`` (typed as the caller's Literal), else a clear error."""
    from ttquant.core.errors import ConfigError

    if value not in allowed:
        names = f"{', '.join(allowed[:-1])} or {allowed[-1]}"
        raise ConfigError(f"{flag} must be {names}, got {value!r}")
    return value
