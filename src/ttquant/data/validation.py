"""Data quality checks on catalog frames: what is wrong, and when.

Loading refuses a file at its first defect (:func:`ttquant.data.bars.load_ohlcv`); validation
instead lists every defect with its timestamp, so a user can judge a data set before trusting it:
gaps, duplicates, rows out of time order, OHLC bars whose high and low do not enclose the open
and close, non-positive or non-finite prices, and spikes.

A spike is a jump that reverses at once: a log return both larger than ``spike_min_move`` and
``spike_threshold`` times the typical recent move (the rolling median absolute return, scaled to
a standard deviation), followed by a return of the opposite sign that takes back at least half of
it. A crash that stays down is a market event, not a data error, and is not reported; the floor
keeps ordinary noise between trades at one price (a typical move of zero) from counting.

:func:`repair` fixes only what can be fixed without inventing data: it drops duplicates (the last
copy wins, as on catalog writes) and sorts; gaps are returned for the catalog to record.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from ttquant.core.time import ns_to_iso
from ttquant.data.schema import DataType

__all__ = ["GAP_SCHEMA", "Issue", "ValidationReport", "find_gaps", "repair", "validate"]

GAP_SCHEMA: Final = pl.Schema({"start": pl.Int64, "end": pl.Int64, "missing": pl.Int64})
_SPIKE_SIGMAS: Final = 1.4826  # median absolute deviation to standard deviation (normal data)


@dataclass(frozen=True, slots=True)
class Issue:
    kind: str  # gap, duplicate, order, ohlc, price, spike
    ts: int  # ns: the row at fault, or for a gap the first missing time
    detail: str

    def __str__(self) -> str:
        return f"{ns_to_iso(self.ts)} {self.kind}: {self.detail}"


@dataclass(slots=True)
class ValidationReport:
    rows: int
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues

    def counts(self) -> dict[str, int]:
        return dict(Counter(issue.kind for issue in self.issues))


def validate(
    frame: pl.DataFrame,
    data_type: DataType,
    *,
    spike_threshold: float = 10.0,
    spike_min_move: float = 0.05,
    spike_window: int = 100,
) -> ValidationReport:
    """Every defect of ``frame`` (catalog columns of ``data_type``), in time order per kind."""
    report = ValidationReport(frame.height)
    if frame.height == 0:
        return report
    ts = frame["ts_event"].to_numpy()
    issues = report.issues
    backwards = np.flatnonzero(np.diff(ts) < 0) + 1
    issues += [
        Issue("order", int(ts[i]), f"earlier than the row before ({ns_to_iso(int(ts[i - 1]))})")
        for i in backwards
    ]
    issues += _duplicates(frame, data_type)
    if data_type.kind == "bars":
        issues += _gap_issues(find_gaps(np.sort(ts), data_type.step))
        issues += _price_issues(frame, ("open", "high", "low", "close"))
        issues += _ohlc_issues(frame)
        series = frame["close"].to_numpy()
    elif data_type.kind == "trades":
        issues += _trade_id_gaps(frame)
        issues += _price_issues(frame, ("price", "size"))
        series = frame["price"].to_numpy()
    else:
        issues += _price_issues(frame, ("bid_price", "ask_price"))
        series = (frame["bid_price"].to_numpy() + frame["ask_price"].to_numpy()) / 2.0
    issues += _spikes(ts, series, spike_threshold, spike_min_move, spike_window)
    return report


def repair(frame: pl.DataFrame, data_type: DataType) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(frame without duplicates, sorted by time; the gaps of bars)``."""
    key = data_type.row_key(frame)
    fixed = frame.unique(subset=key, keep="last", maintain_order=True).sort(
        "ts_event", maintain_order=True
    )
    if data_type.kind != "bars":
        return fixed, pl.DataFrame(schema=GAP_SCHEMA)
    return fixed, find_gaps(fixed["ts_event"].to_numpy(), data_type.step)


def find_gaps(ts: npt.NDArray[np.int64], step: int) -> pl.DataFrame:
    """Missing bars between sorted open times ``ts``: ``start`` (first missing open),
    ``end`` (the next bar's open) and ``missing`` (how many bars)."""
    diffs = np.diff(ts)
    at = np.flatnonzero(diffs > step)
    return pl.DataFrame(
        {"start": ts[at] + step, "end": ts[at + 1], "missing": diffs[at] // step - 1},
        schema=GAP_SCHEMA,
    )


def _duplicates(frame: pl.DataFrame, data_type: DataType) -> list[Issue]:
    key = data_type.row_key(frame) or frame.columns
    dup = frame.select(pl.struct(key).is_duplicated().alias("d"), "ts_event").filter("d")
    what = "" if key == frame.columns else f" {', '.join(key)}"
    return [
        Issue("duplicate", int(t), f"same{what} as another row") for t in dup["ts_event"].to_numpy()
    ]


def _gap_issues(gaps: pl.DataFrame) -> list[Issue]:
    return [
        Issue("gap", int(s), f"{int(m)} bar(s) missing until {ns_to_iso(int(e))}")
        for s, e, m in gaps.iter_rows()
    ]


def _trade_id_gaps(frame: pl.DataFrame) -> list[Issue]:
    """Venues that number trades consecutively (Binance) reveal lost trades by their ids."""
    ids = frame["trade_id"].cast(pl.Int64, strict=False)
    if ids.null_count():
        return []
    values = np.sort(ids.to_numpy())
    order = np.argsort(ids.to_numpy(), kind="stable")
    ts = frame["ts_event"].to_numpy()[order]
    jumps = np.flatnonzero(np.diff(values) > 1)
    return [
        Issue(
            "gap",
            int(ts[i + 1]),
            f"trade ids {values[i] + 1}..{values[i + 1] - 1} missing "
            f"({values[i + 1] - values[i] - 1} trades)",
        )
        for i in jumps
    ]


def _price_issues(frame: pl.DataFrame, columns: tuple[str, ...]) -> list[Issue]:
    ts = frame["ts_event"].to_numpy()
    out = []
    for name in columns:
        values = frame[name].to_numpy()
        for i in np.flatnonzero(~(np.isfinite(values) & (values > 0))):
            out.append(Issue("price", int(ts[i]), f"{name} {values[i]} is not a positive number"))
    return out


def _ohlc_issues(frame: pl.DataFrame) -> list[Issue]:
    ts = frame["ts_event"].to_numpy()
    o, h, lo, c = (frame[n].to_numpy() for n in ("open", "high", "low", "close"))
    bad_high = h < np.maximum(o, c)
    bad_low = lo > np.minimum(o, c)
    return [
        Issue(
            "ohlc",
            int(ts[i]),
            f"high {h[i]} < max(open, close)" if bad_high[i] else f"low {lo[i]} > min(open, close)",
        )
        for i in np.flatnonzero(bad_high | bad_low)
    ]


def _spikes(
    ts: npt.NDArray[np.int64],
    prices: npt.NDArray[np.float64],
    threshold: float,
    min_move: float,
    window: int,
) -> list[Issue]:
    valid = np.isfinite(prices) & (prices > 0)
    if valid.sum() < window + 2:
        return []
    index = np.flatnonzero(valid)
    r = np.diff(np.log(prices[valid]))
    typical = (
        pl.Series(np.abs(r)).rolling_median(window, min_samples=window).shift(1).to_numpy()
        * _SPIKE_SIGMAS
    )
    nxt = np.append(r[1:], 0.0)
    jump = (np.abs(r) > threshold * typical) & (np.abs(r) > min_move)
    reverts = (np.sign(nxt) == -np.sign(r)) & (np.abs(nxt) >= 0.5 * np.abs(r))
    hits = np.flatnonzero(jump & reverts)
    return [
        Issue(
            "spike",
            int(ts[index[i + 1]]),
            f"{r[i]:+.2%} then {nxt[i]:+.2%} (typical move {typical[i]:.3%})",
        )
        for i in hits
    ]
