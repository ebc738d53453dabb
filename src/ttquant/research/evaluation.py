"""One strategy, one data set, many parameter sets: event-driven backtests for research runs.

A research run evaluates the same strategy hundreds of times on the same bars, so the bars are
read once into a :class:`Dataset` (which a distributed run puts into the object store once) and
each evaluation slices them for its time window, as views. Instrument rules inferred from the
files (the price increment) are fixed at load time from all the bars, so that every window
trades under the same rules as the full run.

Each window is an independent backtest: the strategy starts flat with fresh indicators at the
window's first bar, and positions still open at its end are valued at the last close.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from ttquant.analytics.statistics import StatisticValue
from ttquant.core.errors import ConfigError, DataError, StrategyError
from ttquant.data.bars import OHLCV, infer_price_increment, infer_step_ns, load_ohlcv
from ttquant.data.timerange import parse_timerange
from ttquant.engine.config import BacktestConfig, StrategyConfig
from ttquant.engine.runner import BacktestResult, run_backtest
from ttquant.strategy.registry import load_strategy_class
from ttquant.strategy.strategy import Strategy

__all__ = ["Dataset", "Outcome", "evaluate", "load_dataset", "run", "with_params"]

Statistics = dict[str, StatisticValue]


@dataclass(frozen=True, slots=True, eq=False)
class Dataset:
    """A one-strategy backtest config with its bars in memory (keyed by data file)."""

    config: BacktestConfig
    bars: Mapping[str, OHLCV]

    @property
    def strategy(self) -> StrategyConfig:
        return self.config.strategies[0]

    @property
    def strategy_class(self) -> type[Strategy]:
        return load_strategy_class(self.strategy.name)

    def span(self) -> tuple[int, int]:
        """First bar open and the end of the last bar (exclusive), over every instrument."""
        first = min(int(b.ts[0]) for b in self.bars.values())
        end = max(int(b.ts[-1]) + infer_step_ns(b.ts) for b in self.bars.values())
        return first, end

    def n_bars(self, start: int | None = None, end: int | None = None) -> int:
        return sum(len(b.slice_time(start, end)) for b in self.bars.values())


@dataclass(frozen=True, slots=True)
class Outcome:
    """Statistics of one evaluation, or why the strategy refused its parameters."""

    statistics: Statistics | None
    refused: str = ""


def load_dataset(config: BacktestConfig) -> Dataset:
    """Read every data file once and resolve what later runs must share.

    The config's ``timerange`` is applied here (so windows are cut from it) and dropped from the
    stored config; inferred price increments are written into it.
    """
    if len(config.strategies) != 1:
        raise ConfigError(
            f"a research run takes exactly one strategy, the config has {len(config.strategies)}"
        )
    if not config.data:
        raise ConfigError("no data: give --data FILE or a [[data]] table in the config")
    load_strategy_class(config.strategies[0].name)  # an unknown strategy fails before any work
    start, end = parse_timerange(config.timerange) if config.timerange else (None, None)
    bars: dict[str, OHLCV] = {}
    data = []
    for spec in config.data:
        full = load_ohlcv(spec.file)
        increment = spec.price_increment or infer_price_increment(full)
        bars[spec.file] = full.slice_time(start, end)
        if len(bars[spec.file]) < 2:
            raise DataError(f"{spec.file}: fewer than 2 bars in the time range {config.timerange}")
        data.append(msgspec.structs.replace(spec, price_increment=increment))
    resolved = msgspec.structs.replace(config, data=data, timerange=None)
    return Dataset(resolved, bars)


def with_params(config: BacktestConfig, params: Mapping[str, Any]) -> BacktestConfig:
    """``config`` with ``params`` over its (one) strategy's configured parameters."""
    strategy = config.strategies[0]
    best = msgspec.structs.replace(strategy, params={**strategy.params, **params})
    return msgspec.structs.replace(config, strategies=[best])


def run(
    dataset: Dataset,
    params: Mapping[str, Any],
    start: int | None = None,
    end: int | None = None,
) -> BacktestResult:
    """A full backtest of ``params`` (over the strategy's configured ones) on ``[start, end)``."""
    config = with_params(dataset.config, params)
    bars = {file: b.slice_time(start, end) for file, b in dataset.bars.items()}
    short = [file for file, b in bars.items() if len(b) < 2]
    if short:
        raise DataError(f"{short[0]}: fewer than 2 bars in the evaluated window")
    return run_backtest(config, loaded=bars)


def evaluate(
    dataset: Dataset,
    params: Mapping[str, Any],
    start: int | None = None,
    end: int | None = None,
) -> Outcome:
    """The statistics of ``params`` on ``[start, end)``; refused parameters are an outcome too.

    A strategy refuses a parameter set by raising :class:`ConfigError` (at construction or in
    ``on_start``, e.g. ``fast >= slow``); a search must score that set and go on. Any other
    error is a real failure and propagates.
    """
    try:
        result = run(dataset, params, start, end)
    except StrategyError as exc:
        if isinstance(exc.__cause__, ConfigError):
            return Outcome(None, str(exc.__cause__))
        raise
    except ConfigError as exc:
        return Outcome(None, str(exc))
    return Outcome(result.statistics)
