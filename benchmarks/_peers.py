"""Peer engines running ttquant's reference strategy, for the bar benchmark and the parity test.

The reference strategy is an SMA(fast)/SMA(slow) crossover on close, long-only, 1 unit, market
orders filled at the next bar's open, starting cash 1,000,000, no leverage, positions still open at
the end left open and valued at the last close. The two peers must produce *identical* trades, so
every place where the libraries' defaults disagree is pinned down here:

* Crossover is backtesting.py's ``crossover``: strict on both sides,
  ``fast[i-1] < slow[i-1] and fast[i] > slow[i]``, with averages within 1e-12 (relative) of each
  other counted as equal (:func:`crossed`), as ttquant's ``ma_cross`` does. Prices in cents make
  an exact tie a difference of 0 and any real difference at least 0.01/30, so the tolerance only
  removes rounding noise, which otherwise decides a handful of trades per million bars
  differently in every engine (pandas' Kahan sums, ``math.fsum``, running sums).
  backtrader's ``CrossOver`` instead compares the *last non-zero* difference, so it also fires
  when the previous bar was an exact tie; the backtrader strategy therefore evaluates the rule
  itself in ``next()``.
* The SMA values are pandas' ``rolling(n).mean()`` in both engines. That is what backtesting.py's
  usual ``self.I(lambda x: pd.Series(x).rolling(n).mean(), ...)`` computes, whereas
  ``bt.indicators.SMA`` computes ``math.fsum(window) / n``. The two differ in the last bit on about
  a fifth of the bars, which is harmless except at *exact* ties (``3 * sum10 == sum30`` in cents):
  BTCUSDT 1m 2022-2024 has 51 of them. The two roundings give different signs on 3 of them, which
  flips 4 crossover signals (the first at bar 772,261, 2023-06-21 08:21 UTC, inside the default
  1,000,000 rows), and the trade lists diverge. :class:`_PandasSMA` feeds backtrader the pandas
  values instead. Any engine that must match backtesting.py trade for trade has to reproduce
  pandas' rounding too: a running sum that per bar first removes the value leaving the window,
  then adds the new one, each with Kahan compensation (separate terms for removals and
  additions), divided by n; a window of n identical values yields that value exactly.

Only the engine's own work is timed: building its objects from an already-loaded DataFrame, the
bar loop and its result extraction. Loading the CSV is not part of any engine's wall time.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from backtesting import Backtest, Strategy

from ttquant.core.errors import DataError

#: (entry_time_ns, exit_time_ns, entry_price, exit_price, size, pnl); pnl is net of commissions.
Trade = tuple[int, int, float, float, float, float]

STARTING_CASH = 1_000_000.0
_CSV_COLUMNS = {"open": "Open", "high": "High", "low": "Low", "close": "Close", "volume": "Volume"}

_T = TypeVar("_T")


@dataclass(frozen=True)
class PeerResult:
    """What one engine did with the reference strategy, in engine-neutral units."""

    engine: str
    trades: list[Trade]  # closed round trips only; an open position shows up in final_equity
    final_equity: float
    n_bars: int
    wall_s: float
    peak_rss_mb: float | None  # process high-water mark during the run (None if not measurable)

    @property
    def bars_per_s(self) -> float:
        return self.n_bars / self.wall_s


@dataclass(frozen=True)
class TradeMismatch:
    """The first place where two trade lists differ (``None`` on the side that ran out)."""

    index: int
    field: str
    a: Trade | None
    b: Trade | None

    def __str__(self) -> str:
        return f"trade #{self.index} differs in {self.field}: {_show(self.a)} != {_show(self.b)}"


def _show(trade: Trade | None) -> str:
    if trade is None:
        return "(no trade)"
    entry, exit_ = (pd.Timestamp(ns, tz="UTC").isoformat() for ns in trade[:2])
    return (
        f"[{entry} @ {trade[2]!r} -> {exit_} @ {trade[3]!r}, size {trade[4]!r}, pnl {trade[5]!r}]"
    )


_TRADE_FIELDS = ("entry_time_ns", "exit_time_ns", "entry_price", "exit_price", "size", "pnl")


def compare_trades(
    a: list[Trade], b: list[Trade], *, rel_tol: float = 1e-9, abs_tol: float = 1e-9
) -> TradeMismatch | None:
    """Return the first differing trade, or None if the lists agree.

    Times are compared exactly; prices, size and pnl within a tolerance, because engines that
    charge commission add the entry and exit fees in different orders.
    """
    for index in range(max(len(a), len(b))):
        if index >= len(a) or index >= len(b):
            ta = a[index] if index < len(a) else None
            tb = b[index] if index < len(b) else None
            return TradeMismatch(index, "count", ta, tb)
        ta, tb = a[index], b[index]
        for pos, name in enumerate(_TRADE_FIELDS):
            va, vb = ta[pos], tb[pos]
            same = va == vb if pos < 2 else math.isclose(va, vb, rel_tol=rel_tol, abs_tol=abs_tol)
            if not same:
                return TradeMismatch(index, name, ta, tb)
    return None


def load_bars_pandas(path: Path | str, n_rows: int | None) -> pd.DataFrame:
    """Read the first ``n_rows`` bars of a shared ``ts,open,high,low,close,volume`` CSV.

    The index is made nanosecond-resolution explicitly: pandas 3 gives ``datetime64[us, UTC]``
    for ``unit="ms"``, and the trade times of every engine are reported in epoch ns.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: bar file not found")
    raw = pd.read_csv(path, nrows=n_rows)
    missing = {"ts", *_CSV_COLUMNS} - set(raw.columns)
    if missing:
        need = ",".join(["ts", *_CSV_COLUMNS])
        raise DataError(f"{path}: missing column(s) {sorted(missing)}; need {need}")
    index = pd.DatetimeIndex(pd.to_datetime(raw["ts"], unit="ms", utc=True)).as_unit("ns")
    bars = raw[list(_CSV_COLUMNS)].rename(columns=_CSV_COLUMNS).astype("float64")
    bars.index = index.rename("time")
    return bars


def _epoch_ns(df: pd.DataFrame) -> npt.NDArray[np.int64]:
    return df.index.to_numpy(dtype="datetime64[ns]").view(np.int64)  # UTC, any resolution


def _rolling_mean(values: npt.ArrayLike, n: int) -> pd.Series:
    return pd.Series(values).rolling(n).mean()


TIE = 1e-12


def crossed(prev_fast: float, prev_slow: float, fast: float, slow: float) -> int:
    """+1 on a cross up, -1 on a cross down, 0 otherwise; near-equal averages are a tie."""
    prev = prev_fast - prev_slow
    if abs(prev) <= TIE * abs(prev_slow):
        prev = 0.0
    diff = fast - slow
    tie = TIE * abs(slow)
    if prev < 0.0 and diff > tie:
        return 1
    if prev > 0.0 and diff < -tie:
        return -1
    return 0


class SmaCross(Strategy):  # type: ignore[misc]  # backtesting ships no type hints
    """The reference strategy written the way backtesting.py's own docs write it."""

    fast = 10
    slow = 30

    def init(self) -> None:
        self.sma_fast = self.I(_rolling_mean, self.data.Close, self.fast)
        self.sma_slow = self.I(_rolling_mean, self.data.Close, self.slow)

    def next(self) -> None:
        fast, slow = self.sma_fast, self.sma_slow
        signal = crossed(fast[-2], slow[-2], fast[-1], slow[-1])
        if signal > 0:
            if not self.position:
                self.buy(size=1)
        elif signal < 0 and self.position:
            self.position.close()


def make_backtest(df: pd.DataFrame, commission: float) -> Backtest:
    """backtesting.py 0.6.6 configured for the reference strategy.

    How 0.6.6 charges ``commission`` (read from ``backtesting/backtesting.py``): a float is the
    relative rate of ``(fixed=0, relative=commission)``; each fill costs
    ``fixed + |size| * fill_price * relative`` in cash. It is charged at trade **entry**
    (``_open_trade``: cash -= fee) and again at **exit** (``_close_trade``: cash += gross pl - fee),
    on the notional at the (unadjusted) fill price. It does *not* move the fill price:
    ``EntryPrice``/``ExitPrice`` are the raw opens (only ``spread`` adjusts prices). The trade's
    ``PnL`` is ``size * (exit - entry) - (entry fee + exit fee)`` and its ``Commission`` column
    holds that fee sum. Before placing an entry the broker also checks cash covers
    ``|size| * (price + fee / |size|)``, irrelevant here with 1,000,000 of cash for 1 unit.
    """
    return Backtest(
        df,
        SmaCross,
        cash=STARTING_CASH,
        commission=commission,
        trade_on_close=False,
        exclusive_orders=False,
        finalize_trades=False,
    )


def run_backtesting_py(
    df: pd.DataFrame, fast: int = 10, slow: int = 30, commission: float = 0.0
) -> PeerResult:
    """Run backtesting.py 0.6.6 on ``df``.

    Observed semantics: ``next()`` is first called on bar index ``slow`` (0-based; 30 for
    SMA30), because ``run`` starts at ``1 + index of the first non-NaN value of the slowest
    indicator``. A market order placed in ``next()`` on bar i fills at bar i+1's Open and that
    bar's time is the trade's ``EntryTime``/``ExitTime``. With ``finalize_trades=False`` a position
    still open at the end is left out of ``_trades`` but counted in ``Equity Final [$]`` at the
    last close.
    """
    backtest = make_backtest(df, commission)
    (stats, wall_s), peak = measured(lambda: backtest.run(fast=fast, slow=slow))
    times = _epoch_ns(df)
    trades: list[Trade] = [
        (int(times[eb]), int(times[xb]), float(ep), float(xp), float(size), float(pnl))
        for eb, xb, ep, xp, size, pnl in stats["_trades"][
            ["EntryBar", "ExitBar", "EntryPrice", "ExitPrice", "Size", "PnL"]
        ].itertuples(index=False)
    ]
    return PeerResult(
        "backtesting.py", trades, float(stats["Equity Final [$]"]), len(df), wall_s, peak
    )


def run_backtrader(
    df: pd.DataFrame, fast: int = 10, slow: int = 30, commission: float = 0.0
) -> PeerResult:
    """Run backtrader on ``df`` with its default broker (market orders fill at the next open).

    ``setcommission(commission=c)`` with no margin is backtrader's stock-like percentage scheme
    with ``percabs=True``: each fill costs ``|size| * price * c`` in cash, on entry and on exit,
    like backtesting.py. Cheat-on-open is off (the default).
    """
    import backtrader as bt

    def run() -> tuple[list[Trade], float]:
        cerebro = bt.Cerebro(stdstats=False, runonce=True, preload=True, cheat_on_open=False)
        # backtrader wants naive datetimes; the index is UTC, so dropping the zone is lossless.
        cerebro.adddata(bt.feeds.PandasData(dataname=df.tz_convert(None)))
        cerebro.addstrategy(_backtrader_strategy(bt), fast=fast, slow=slow)
        cerebro.broker.setcash(STARTING_CASH)
        cerebro.broker.setcommission(commission=commission)
        (strategy,) = cerebro.run()
        times = _epoch_ns(df)
        trades: list[Trade] = [
            (int(times[eb]), int(times[xb]), float(ep), float(xp), float(size), float(pnl))
            for eb, xb, ep, xp, size, pnl in strategy.round_trips
        ]
        return trades, float(cerebro.broker.getvalue())

    ((trades, equity), wall_s), peak = measured(run)
    return PeerResult("backtrader", trades, equity, len(df), wall_s, peak)


def _backtrader_strategy(bt: Any) -> type:
    """Build the backtrader classes lazily, so importing this module does not import backtrader.

    (The standalone backtesting.py script imports this module and is timed end to end.)
    """

    class _PandasSMA(bt.indicators.PeriodN):  # type: ignore[misc]
        """pandas' rolling mean, bit-identical to backtesting.py's SMA (see module docstring).

        pandas' rolling sum carries state from the start of the series, so the value at bar i
        cannot be recomputed from its window alone; only the vectorised (runonce) path exists.
        """

        lines = ("sma",)  # PeriodN supplies the ``period`` parameter and the warm-up length

        def once(self, start: int, end: int) -> None:
            sma = _rolling_mean(np.asarray(self.data.array), self.p.period).to_numpy()
            self.line.array[start:end] = type(self.line.array)("d", sma[start:end].tobytes())

        def next(self) -> None:
            raise NotImplementedError("_PandasSMA needs Cerebro(runonce=True)")

    class _SmaCross(bt.Strategy):  # type: ignore[misc]
        params = (("fast", 10), ("slow", 30))

        def __init__(self) -> None:
            self.sma_fast = _PandasSMA(self.data.close, period=self.p.fast)
            self.sma_slow = _PandasSMA(self.data.close, period=self.p.slow)
            self.round_trips: list[tuple[int, int, float, float, float, float]] = []
            self._entry: tuple[int, float, float] | None = None
            self._exit: tuple[int, float] | None = None

        def next(self) -> None:
            signal = crossed(
                self.sma_fast[-1], self.sma_slow[-1], self.sma_fast[0], self.sma_slow[0]
            )
            if signal > 0:
                if not self.position:
                    self.buy(size=1)
            elif signal < 0 and self.position:
                self.close()

        def notify_order(self, order: Any) -> None:
            # Notifications arrive on the bar the broker filled the order, before next().
            if order.status != order.Completed:
                return
            bar = len(self.data) - 1
            if order.isbuy():
                self._entry = (bar, order.executed.price, order.executed.size)
            else:
                self._exit = (bar, order.executed.price)

        def notify_trade(self, trade: Any) -> None:
            if trade.isclosed:
                entry, exit_ = _required(self._entry), _required(self._exit)
                self.round_trips.append(
                    (entry[0], exit_[0], entry[1], exit_[1], entry[2], trade.pnlcomm)
                )

    return _SmaCross


def _required(value: _T | None) -> _T:
    if value is None:
        raise RuntimeError("backtrader closed a trade without a recorded fill")
    return value


def measured(fn: Callable[[], _T]) -> tuple[tuple[_T, float], float | None]:
    """Run ``fn``; return ``((result, wall seconds), peak RSS in MB during the run)``.

    Every engine starts from the same state: earlier runs' garbage collected and the survivors
    frozen, so no engine pays for scanning objects another engine left behind.
    """
    gc.collect()
    gc.freeze()
    reset = _reset_peak_rss()
    try:
        start = time.perf_counter()
        result = fn()
        wall_s = time.perf_counter() - start
    finally:
        gc.unfreeze()
    return (result, wall_s), (_peak_rss_mb() if reset else None)


def _reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (Linux >= 4.0) so each engine gets its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss_mb() -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None
