"""Strategies' vectorized forms: how the research engine runs a strategy over whole arrays.

A strategy class has a vectorized form when it defines the classmethod
``vectorized_signals(bars, params, cache) -> {"long_entries", "long_exits", "short_entries",
"short_exits", "size"}`` (boolean arrays read at each bar's close, the order size in units);
``cache`` is shared by every parameter set of one run so each indicator is computed once.
:class:`ttquant.strategy.library.ma_cross.MACross` and its subclasses have a faster, fused
form: their averages and cross are computed inside the portfolio kernel's loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from ttquant.core.errors import ConfigError
from ttquant.data.bars import OHLCV, infer_step_ns
from ttquant.engine.config import BacktestConfig
from ttquant.model.instruments import instrument_from_symbol
from ttquant.research.vectorized import layout
from ttquant.research.vectorized.portfolio import (
    Batch,
    Columns,
    Market,
    VenueSettings,
    run_ma_cross,
    run_signals,
)
from ttquant.strategy.library.ma_cross import MACross
from ttquant.strategy.strategy import Strategy

__all__ = [
    "VectorizedForm",
    "market_of",
    "unsupported_reason",
    "vectorized_form",
    "venue_settings",
]

_SIGNAL_KEYS = (
    ("long_entries", layout.LONG_ENTRY),
    ("long_exits", layout.LONG_EXIT),
    ("short_entries", layout.SHORT_ENTRY),
    ("short_exits", layout.SHORT_EXIT),
)


class VectorizedForm(Protocol):
    """Runs many parameter sets of one strategy as the columns of one kernel call."""

    def run(
        self,
        market: Market,
        bars: OHLCV,
        venue: VenueSettings,
        param_sets: Sequence[Mapping[str, Any]],
        *,
        full_curve: bool = False,
    ) -> Batch: ...


class MACrossForm:
    """``MACross``: averages, cross and portfolio fused in one pass of the kernel per column."""

    def __init__(self, cls: type[MACross]) -> None:
        self.cls = cls

    def run(
        self,
        market: Market,
        bars: OHLCV,
        venue: VenueSettings,
        param_sets: Sequence[Mapping[str, Any]],
        *,
        full_curve: bool = False,
    ) -> Batch:
        for params in param_sets:
            self.cls.check_params(params)
        columns = Columns.make(
            len(param_sets),
            size=[float(p["size"]) for p in param_sets],
            direction=["long" if p["long_only"] else "both" for p in param_sets],
        )
        return run_ma_cross(
            market,
            [int(p["fast"]) for p in param_sets],
            [int(p["slow"]) for p in param_sets],
            columns,
            venue,
            kind=[p["ma"] for p in param_sets],
            full_curve=full_curve,
        )


class SignalForm:
    """A strategy's ``vectorized_signals`` per parameter set, simulated as columns."""

    def __init__(self, cls: type[Strategy]) -> None:
        self.cls = cls

    def run(
        self,
        market: Market,
        bars: OHLCV,
        venue: VenueSettings,
        param_sets: Sequence[Mapping[str, Any]],
        *,
        full_curve: bool = False,
    ) -> Batch:
        cache: dict[Any, Any] = {}
        flags = np.zeros((len(param_sets), market.n_bars, 1), dtype=np.uint8)
        sizes = np.empty(len(param_sets))
        produce = self.cls.vectorized_signals  # type: ignore[attr-defined]
        for c, params in enumerate(param_sets):
            out = produce(bars, params, cache)
            for key, bit in _SIGNAL_KEYS:
                values = np.asarray(out[key], dtype=np.bool_)
                if values.shape != (market.n_bars,):
                    raise ConfigError(
                        f"strategy {self.cls.name!r}: vectorized_signals gave {key} of shape "
                        f"{values.shape}, expected ({market.n_bars},)"
                    )
                flags[c, :, 0] |= values.astype(np.uint8) * np.uint8(bit)
            sizes[c] = float(out["size"])
        columns = Columns.make(len(param_sets), size=sizes, direction="both")
        return run_signals(market, flags, columns, venue, full_curve=full_curve)


def vectorized_form(cls: type[Strategy]) -> VectorizedForm | None:
    """The fastest vectorized form of ``cls``, or None when it has none."""
    if issubclass(cls, MACross):
        return MACrossForm(cls)
    if callable(getattr(cls, "vectorized_signals", None)):
        return SignalForm(cls)
    return None


def unsupported_reason(config: BacktestConfig) -> str:
    """Why the vectorized engine cannot reproduce ``config``'s backtest ("" when it can)."""
    v = config.venue
    if len(config.data) != 1:
        return "it runs one data file per sweep"
    if v.market_fill != "next_open":
        return "it fills at the next open only (market_fill = next_open)"
    if v.volume_limit is not None:
        return "it has no volume limit"
    if getattr(config, "risk", None) is not None:
        return "it has no pre-trade risk engine ([risk] table)"
    return ""


def venue_settings(config: BacktestConfig) -> VenueSettings:
    """The config's venue as the kernel's settings (fees in bps become fractions)."""
    v = config.venue
    maker = v.maker_fee_bps if v.maker_fee_bps is not None else v.fee_bps
    taker = v.taker_fee_bps if v.taker_fee_bps is not None else v.fee_bps
    return VenueSettings(
        cash=v.cash,
        leverage=v.leverage,
        account=v.account,
        maker_fee=None if maker is None else maker * 1e-4,
        taker_fee=None if taker is None else taker * 1e-4,
        slippage_ticks=v.slippage_ticks,
        slippage_bps=v.slippage_bps,
    )


def market_of(config: BacktestConfig, bars: OHLCV) -> Market:
    """The config's (single) instrument with its bars, built as ``ttq backtest`` builds it."""
    spec = config.data[0]
    if spec.price_increment is None or not math.isfinite(spec.price_increment):
        raise ConfigError(f"{spec.file}: the price increment must be known (load_dataset)")
    instrument = instrument_from_symbol(
        spec.symbol,
        config.venue.name,
        price_increment=spec.price_increment,
        size_increment=spec.size_increment,
        min_quantity=spec.min_quantity,
        min_notional=spec.min_notional,
    )
    return Market.from_ohlcv([bars], [instrument], infer_step_ns(bars.ts))
