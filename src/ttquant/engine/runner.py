"""Run a backtest described by a :class:`BacktestConfig` and collect everything it produced."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from ttquant.analytics.statistics import TradeArrays, compute_statistics
from ttquant.core.errors import ConfigError
from ttquant.data.bars import OHLCV, infer_price_increment, infer_step_ns, load_ohlcv
from ttquant.data.catalog import Catalog
from ttquant.data.timerange import parse_timerange
from ttquant.engine.attribution import StrategyResult, strategy_results
from ttquant.engine.backtest import BacktestEngine, EquityCurve
from ttquant.engine.config import BacktestConfig, DataConfig
from ttquant.model.data import BarType
from ttquant.model.enums import AccountType
from ttquant.model.events import OrderFilled
from ttquant.model.instruments import Instrument, instrument_from_symbol, instrument_id
from ttquant.model.orders import Order
from ttquant.model.position import Position, RoundTrip
from ttquant.risk.config import RiskConfig
from ttquant.strategy.registry import load_strategy_class
from ttquant.venues.sim.models import (
    BpsSlippage,
    FeeModel,
    FillModel,
    FixedTickSlippage,
    SlippageModel,
)


@dataclass(slots=True)
class BacktestResult:
    config: BacktestConfig
    curve: EquityCurve
    statistics: dict[str, float | int | str | None]
    round_trips: list[RoundTrip]
    orders: list[Order]
    fills: list[OrderFilled]
    open_positions: list[Position]
    instruments: dict[str, Instrument]
    bars: dict[str, OHLCV]
    results_hash: str
    strategy_ids: list[str] = field(default_factory=list)
    strategies: list[StrategyResult] = field(default_factory=list)  # per-strategy breakdown
    risk_engine: dict[str, Any] = field(default_factory=dict)  # RiskEngine.summary()

    @property
    def final_equity(self) -> float:
        return float(self.curve.equity[-1])


def build_engine(
    config: BacktestConfig, loaded: Mapping[str, OHLCV] | None = None
) -> tuple[BacktestEngine, dict[str, OHLCV]]:
    """An engine with the config's venue, instruments, data and strategies added.

    ``loaded`` maps a data spec's ``file`` to bars already in memory, so that research runs
    evaluating many parameter sets read each file once instead of once per run.
    """
    if not config.data:
        raise ConfigError("no data: give --data FILE or a [[data]] table in the config")
    if not config.strategies:
        raise ConfigError("no strategy: give --strategy NAME or a [[strategies]] table")
    v = config.venue
    engine = BacktestEngine()
    maker = v.maker_fee_bps if v.maker_fee_bps is not None else v.fee_bps
    taker = v.taker_fee_bps if v.taker_fee_bps is not None else v.fee_bps
    slippage: SlippageModel = SlippageModel()
    if v.slippage_bps and v.slippage_ticks:
        raise ConfigError("give slippage_bps or slippage_ticks, not both")
    if v.slippage_bps:
        slippage = BpsSlippage(v.slippage_bps)
    elif v.slippage_ticks:
        slippage = FixedTickSlippage(v.slippage_ticks)
    if not math.isfinite(v.cash) or v.cash <= 0:
        raise ConfigError(f"venue cash must be a positive number, got {v.cash}")
    if not math.isfinite(v.leverage) or v.leverage <= 0:
        raise ConfigError(f"venue leverage must be a positive number, got {v.leverage}")
    engine.add_venue(
        v.name,
        account_type=AccountType.CASH if v.account == "cash" else AccountType.MARGIN,
        base_currency=v.base_currency,
        starting_balances={v.base_currency: v.cash},
        leverage=v.leverage,
        fill_model=FillModel(v.market_fill, v.volume_limit),
        fee_model=FeeModel(
            None if maker is None else maker * 1e-4, None if taker is None else taker * 1e-4
        ),
        slippage_model=slippage,
    )
    bars: dict[str, OHLCV] = {}
    for spec in config.data:
        ohlcv = loaded[spec.file] if loaded and spec.file in loaded else _load_bars(spec, v.name)
        increment = spec.price_increment or infer_price_increment(ohlcv)
        instrument = instrument_from_symbol(
            spec.symbol,
            v.name,
            price_increment=increment,
            size_increment=spec.size_increment,
            min_quantity=spec.min_quantity,
            min_notional=spec.min_notional,
        )
        if instrument.id in bars:
            raise ConfigError(f"data for {instrument.id} is given twice")
        engine.add_instrument(instrument)
        step = infer_step_ns(ohlcv.ts)
        engine.add_ohlcv(BarType(instrument.id, step), ohlcv)
        bars[instrument.id] = ohlcv
    for s in config.strategies:
        cls = load_strategy_class(s.name)
        instruments = [i if "@" in i else f"{i}@{v.name.upper()}" for i in s.instruments]
        engine.add_strategy(cls(strategy_id=s.id, instruments=instruments, **s.params))
    if config.risk is not None:
        engine.risk.configure(_with_venue(config.risk, v.name))
    return engine, bars


def _load_bars(spec: DataConfig, venue: str) -> OHLCV:
    """The bars of a ``[[data]]`` entry: its file, or its symbol's bars in a catalog."""
    if spec.catalog is None:
        if not spec.file:
            raise ConfigError(f"[[data]] {spec.symbol}: give file = PATH or catalog = FOLDER")
        return load_ohlcv(spec.file)
    if spec.file:
        raise ConfigError(f"[[data]] {spec.symbol}: give a file or a catalog, not both")
    iid = instrument_id(spec.symbol, spec.catalog_venue or venue)
    return Catalog(spec.catalog).load_ohlcv(iid, spec.timeframe)


def _with_venue(risk: RiskConfig, venue: str) -> RiskConfig:
    """Instrument keys given without a venue (``"BTC/USDT"``) are on the run's venue."""
    instruments = {
        (iid if "@" in iid else f"{iid}@{venue.upper()}"): limits
        for iid, limits in risk.instruments.items()
    }
    return msgspec.structs.replace(risk, instruments=instruments)


def run_backtest(
    config: BacktestConfig,
    progress: Callable[[int, int], None] | None = None,
    loaded: Mapping[str, OHLCV] | None = None,
) -> BacktestResult:
    engine, bars = build_engine(config, loaded)
    start, end = parse_timerange(config.timerange) if config.timerange else (None, None)
    curve = engine.run(start, end, progress)
    trips = list(engine.cache.round_trips)
    statistics = compute_statistics(
        curve.ts,
        curve.equity,
        trade_arrays(trips),
        in_market=curve.in_market,
        benchmark=_buy_and_hold(curve.marks[next(iter(bars))]),
        risk_free_rate=config.risk_free_rate,
    )
    return BacktestResult(
        config=config,
        curve=curve,
        statistics=statistics,
        round_trips=trips,
        orders=list(engine.cache.orders.values()),
        fills=list(engine.execution.fills),
        open_positions=list(engine.cache.open_positions()),
        instruments=dict(engine.cache.instruments),
        bars=bars,
        results_hash=engine.results_hash(curve),
        strategy_ids=[s.id for s in engine.strategies],
        strategies=strategy_results(engine, curve),
        risk_engine=engine.risk.summary(),
    )


def trade_arrays(trips: list[RoundTrip]) -> TradeArrays:
    if not trips:
        return TradeArrays.empty()
    return TradeArrays(
        entry_ns=np.array([t.entry_ns for t in trips], dtype=np.int64),
        exit_ns=np.array([t.exit_ns for t in trips], dtype=np.int64),
        pnl=np.array([t.pnl for t in trips]),
        return_pct=np.array([t.return_pct for t in trips]),
        fees=np.array([t.fees for t in trips]),
    )


def _buy_and_hold(marks: np.ndarray) -> np.ndarray:
    """The first instrument's price as a benchmark, held from its first known price.

    With several instruments the curve starts with the earliest bar of any of them; before the
    first instrument's first price the benchmark stays at that price (a flat start).
    """
    known = np.flatnonzero(~np.isnan(marks))
    if len(known) == 0:
        return np.ones_like(marks)
    filled = marks.copy()
    filled[: known[0]] = marks[known[0]]
    return filled
