"""Walk-forward analysis: windows, the stitched out-of-sample curve and what it says.

Windows
-------
Each window has an in-sample (IS) range where parameters are optimized and the out-of-sample
(OOS) range right after it where the chosen parameters are evaluated. Ranges are half-open
``[start, end)`` in bar-open time, so an IS range and its OOS range never share a bar. Rolling
windows keep the IS length and slide by ``step``; anchored windows keep the IS start and grow.
``step`` must be at least the OOS length so that OOS ranges never overlap each other; with
``step`` equal to it (the default) they tile the period and the stitched curve has no holes.
When the lengths are whole days, windows start at the first UTC midnight of the data. Only
windows whose OOS range ends within the data are made.

Stitching
---------
Every OOS range is an independent backtest starting flat with the starting cash. The stitched
curve carries the account over: each segment's equity changes are added to where the previous
segment ended (as an account trading fixed quantities would), so the stitched profit is the sum
of the segments' profits and its trades are the segments' trades. A window without a feasible
parameter set stays out of the market (flat equity over its OOS range).

Measures
--------
Walk-forward efficiency (Pardo): annualized OOS return over annualized IS return of the chosen
parameters, per window, and overall as the stitched curve's annualized return over the mean IS
one; undefined when the IS return is not positive. Parameter stability: for each searched
parameter, the chosen values across windows, their spread relative to the searched range and
the share of windows that chose the most common value. The deflated Sharpe ratio of the
stitched OOS daily returns counts every IS trial of every window as a trial, with the variance
of those trials' Sharpe ratios (a conservative count: the windows' searches are not
independent).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ttquant.analytics.daily import infer_periods_per_year, last_sample_of_each_day, simple_returns
from ttquant.core.errors import ConfigError
from ttquant.core.time import NANOS_PER_DAY, ns_to_iso
from ttquant.research.deflated_sharpe import DeflatedSharpe, deflated_sharpe, return_moments
from ttquant.research.space import Dimension

__all__ = [
    "ParamStability",
    "Segment",
    "StitchedCurve",
    "Window",
    "make_windows",
    "parameter_stability",
    "stitch",
    "trials_deflated_sharpe",
    "walk_forward_efficiency",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Window:
    index: int
    is_start: int
    is_end: int
    oos_start: int
    oos_end: int

    def describe(self) -> str:
        return (
            f"window {self.index}: IS {ns_to_iso(self.is_start)[:16]} → "
            f"{ns_to_iso(self.is_end)[:16]}, OOS → {ns_to_iso(self.oos_end)[:16]}"
        )


def make_windows(
    first_ns: int, end_ns: int, is_len: int, oos_len: int, step: int | None, anchored: bool
) -> list[Window]:
    """The windows over data from ``first_ns`` to ``end_ns`` (exclusive); see the module doc."""
    step = oos_len if step is None else step
    for flag, value in (("--in-sample", is_len), ("--out-of-sample", oos_len), ("--step", step)):
        if value <= 0:
            raise ConfigError(f"{flag} must be a positive duration")
    if step < oos_len:
        raise ConfigError(
            "--step must be at least --out-of-sample, otherwise out-of-sample ranges overlap "
            "and cannot be stitched"
        )
    origin = first_ns
    if all(x % NANOS_PER_DAY == 0 for x in (is_len, oos_len, step)):
        origin = -(-first_ns // NANOS_PER_DAY) * NANOS_PER_DAY  # the first midnight at or after
    windows: list[Window] = []
    while True:
        shift = origin + len(windows) * step
        is_end = shift + is_len
        oos_end = is_end + oos_len
        if oos_end > end_ns:
            break
        windows.append(Window(len(windows), origin if anchored else shift, is_end, is_end, oos_end))
    if not windows:
        raise ConfigError(
            f"the data ({ns_to_iso(first_ns)[:10]} to {ns_to_iso(end_ns)[:10]}) is too short for "
            "one in-sample plus one out-of-sample range"
        )
    return windows


@dataclass(frozen=True, slots=True)
class Segment:
    """The OOS backtest of one window: its curve from its own starting cash."""

    window: Window
    ts: I64  # curve times (bar closes), strictly increasing
    equity: F64
    in_market: npt.NDArray[np.bool_]
    benchmark: F64  # the first instrument's price at each time
    cash: float


@dataclass(frozen=True, slots=True)
class StitchedCurve:
    ts: I64
    equity: F64
    in_market: npt.NDArray[np.bool_]
    benchmark: F64
    seams: list[int]  # index of each segment's first sample


def stitch(segments: Sequence[Segment]) -> StitchedCurve:
    """One curve from consecutive OOS segments, the account carried over (module doc)."""
    if not segments:
        raise ConfigError("walk-forward: no out-of-sample segment to stitch")
    level = segments[0].cash
    parts: list[F64] = []
    seams = []
    offset = 0
    last_ts: int | None = None
    for seg in segments:
        if seg.ts.size == 0:
            raise ConfigError(f"walk-forward: {seg.window.describe()} has no bars out of sample")
        if last_ts is not None and seg.ts[0] <= last_ts:
            raise ConfigError(f"walk-forward: {seg.window.describe()} overlaps the previous one")
        seams.append(offset)
        parts.append(seg.equity - seg.cash + level)
        level = float(parts[-1][-1])
        last_ts = int(seg.ts[-1])
        offset += seg.ts.size
    return StitchedCurve(
        ts=np.concatenate([s.ts for s in segments]),
        equity=np.concatenate(parts),
        in_market=np.concatenate([s.in_market for s in segments]),
        benchmark=np.concatenate([s.benchmark for s in segments]),
        seams=seams,
    )


def walk_forward_efficiency(oos_annual: float | None, is_annual: float | None) -> float | None:
    """Annualized OOS return over annualized IS return; None unless the IS return is positive."""
    if oos_annual is None or is_annual is None or not is_annual > 0:
        return None
    return oos_annual / is_annual


@dataclass(frozen=True, slots=True)
class ParamStability:
    name: str
    values: list[Any]  # chosen per window (None where nothing was chosen)
    mean: float | None
    std: float | None
    relative_spread: float | None  # std over the searched range's width
    mode: Any
    mode_share: float  # windows choosing the most common value / windows that chose


def parameter_stability(
    dimensions: Sequence[Dimension], chosen: Sequence[Mapping[str, Any] | None]
) -> list[ParamStability]:
    result = []
    for dim in dimensions:
        values = [None if c is None else c.get(dim.name) for c in chosen]
        present = [v for v in values if v is not None]
        mode, count = Counter(map(repr, present)).most_common(1)[0] if present else (None, 0)
        mode_value = next((v for v in present if repr(v) == mode), None)
        mean = std = spread = None
        if dim.kind != "categorical" and present:
            numbers = np.array(present, dtype=np.float64)
            mean, std = float(numbers.mean()), float(numbers.std())
            width = dim.high - dim.low
            spread = std / width if width > 0 else None
        share = count / len(present) if present else 0.0
        result.append(ParamStability(dim.name, values, mean, std, spread, mode_value, share))
    return result


def trials_deflated_sharpe(
    ts: I64, equity: F64, trial_sharpes: Sequence[float], n_trials: int
) -> DeflatedSharpe | None:
    """DSR of a curve's daily returns against ``n_trials`` trials with these annual Sharpes.

    None when the curve has fewer than 3 daily returns, flat returns, or non-positive equity.
    """
    days, last = last_sample_of_each_day(ts)
    returns = simple_returns(equity, last)
    if returns is None or returns.size < 3 or float(np.std(returns)) == 0.0:
        return None
    ppy = infer_periods_per_year(days)
    sharpe, skew, kurtosis = return_moments(returns)
    per_period = np.array([s for s in trial_sharpes if math.isfinite(s)]) / math.sqrt(ppy)
    variance = float(per_period.var(ddof=1)) if per_period.size > 1 else 0.0
    try:
        return deflated_sharpe(sharpe, returns.size, skew, kurtosis, max(n_trials, 1), variance)
    except ConfigError:
        return None  # moments leave the PSR denominator undefined: no meaningful DSR
