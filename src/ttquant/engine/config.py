"""Backtest configuration: one TOML file (or CLI flags) describing a whole run.

```toml
timerange = "20240101-20240301"      # optional, freqtrade style
out = "results/demo"

[venue]
name = "BINANCE"
account = "margin"                   # or "cash" (spot wallet, no shorting)
base_currency = "USDT"
cash = 100000
fee_bps = 10                         # both maker and taker; or maker_fee_bps / taker_fee_bps
slippage_bps = 0                     # or slippage_ticks
market_fill = "next_open"            # or "close"

[[data]]
file = "examples/data/BTCUSDT-1m-2024-01.csv.gz"
symbol = "BTC/USDT"

[[strategies]]
name = "sma_cross"                   # or "path/to/file.py:ClassName"
params = { fast = 10, slow = 30 }

[risk]                               # optional: pre-trade limits, loss gates, capital per strategy
max_order_notional = 50000           # (see ttquant.risk.config and docs/backtesting.md)
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import msgspec

from ttquant.core.errors import ConfigError
from ttquant.risk.config import RiskConfig


class VenueConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str = "SIM"
    account: Literal["cash", "margin"] = "margin"
    base_currency: str = "USDT"
    cash: float = 100_000.0
    leverage: float = 1.0
    fee_bps: float | None = None
    maker_fee_bps: float | None = None
    taker_fee_bps: float | None = None
    slippage_bps: float = 0.0
    slippage_ticks: int = 0
    market_fill: Literal["next_open", "close"] = "next_open"
    volume_limit: float | None = None


class DataConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    file: str = ""  # an OHLCV file; or leave it out and give a catalog
    symbol: str = "BTC/USDT"
    catalog: str | None = None  # a catalog folder: the symbol's bars of `timeframe` from it
    timeframe: str = "1m"
    catalog_venue: str | None = None  # the venue folder in the catalog; default: [venue] name
    price_increment: float | None = None  # None: inferred from the prices in the file
    size_increment: float = 1e-8
    min_quantity: float = 0.0
    min_notional: float = 0.0


class StrategyConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    id: str | None = None
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    instruments: list[str] = msgspec.field(default_factory=list)


class BacktestConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    data: list[DataConfig] = msgspec.field(default_factory=list)
    strategies: list[StrategyConfig] = msgspec.field(default_factory=list)
    venue: VenueConfig = msgspec.field(default_factory=VenueConfig)
    timerange: str | None = None
    out: str | None = None
    risk_free_rate: float = 0.0
    risk: RiskConfig | None = None

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result


def load_config(path: str | Path) -> BacktestConfig:
    """Read and validate a TOML config; every problem is one line naming file and field."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file ({exc.strerror})") from None
    try:
        return msgspec.toml.decode(raw, type=BacktestConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{p}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None


def dump_config(config: BacktestConfig) -> str:
    """The TOML text that :func:`load_config` reads back as ``config``.

    TOML has no null: unset options (``None``) are left out, which is how a config file says
    "default"; a strategy parameter set to ``None`` is written as ``"none"``, which the
    parameter's validation reads back as ``None``.
    """
    document = config.to_dict()
    for strategy in document["strategies"]:
        strategy["params"] = {k: "none" if v is None else v for k, v in strategy["params"].items()}
    return msgspec.toml.encode(_without_none(document)).decode()


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value
