"""Vectorized backtests from numpy arrays: the Python face of :mod:`.kernel`.

Build a :class:`Market` (bars of one or more assets on the same timestamps, with their
instruments), a :class:`VenueSettings` (cash, leverage, fees, slippage) and :class:`Columns`
(one row of order size, direction and stops per portfolio), then call :func:`run_signals`,
:func:`run_targets` or :func:`run_ma_cross`. Every column is a separate portfolio; the result,
a :class:`Batch`, gives each column's trades, equity and the statistics of
:func:`ttquant.analytics.statistics.compute_statistics`, the same ones an event-driven backtest
reports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ttquant.analytics.daily import DAY_NS
from ttquant.analytics.statistics import StatisticValue, TradeArrays, compute_statistics
from ttquant.core.errors import ConfigError, DataError
from ttquant.data.bars import OHLCV
from ttquant.model.instruments import Instrument
from ttquant.research.vectorized import layout
from ttquant.research.vectorized.kernel import simulate, simulate_column
from ttquant.research.vectorized.lean import lean_column, simulate_lean
from ttquant.research.vectorized.rounding import price_rounding, size_rounding

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

EXIT_REASONS = ("signal", "stop_loss", "take_profit", "trailing_stop")
SizeKind = Literal["amount", "value", "percent"]
_SIZE_KINDS = {
    "amount": layout.SIZE_AMOUNT,
    "value": layout.SIZE_VALUE,
    "percent": layout.SIZE_PERCENT,
}
Direction = Literal["long", "short", "both"]
_DIRECTIONS = {"long": layout.LONG_ONLY, "short": layout.SHORT_ONLY, "both": layout.BOTH}
MAKind = Literal["sma", "ema"]
_MA_KINDS = {"sma": layout.MA_SIMPLE, "ema": layout.MA_EXPONENTIAL}
# The MA cross's trade buffers, sized before its crosses are known: room for a round trip per
# this many bars per column (real 1-minute BTC, SMA 5/20: one per ~25 bars) is rarely short,
# and when it is, the columns run again with exact room.
_BARS_PER_GUESSED_TRADE = 8


@dataclass(frozen=True, slots=True, eq=False)
class Market:
    """Bars of ``len(instruments)`` assets on common timestamps; price arrays are (bars, assets).

    ``ts`` is each bar's open time (int64 ns UTC) and ``step_ns`` the bar length: a bar is known
    at ``ts + step_ns``, where its equity sample is stamped, as in the event-driven engine.
    """

    ts: I64
    step_ns: int
    open: F64
    high: F64
    low: F64
    close: F64
    instruments: tuple[Instrument, ...]
    sample_ns: I64 = field(init=False)  # when each bar is known (its close): equity timestamps
    day_end: NDArray[np.bool_] = field(init=False)  # the last sample of its UTC day

    def __post_init__(self) -> None:
        sample_ns = self.ts + self.step_ns
        object.__setattr__(self, "sample_ns", sample_ns)
        object.__setattr__(self, "day_end", day_ends(sample_ns))

    @classmethod
    def from_ohlcv(
        cls, bars: Sequence[OHLCV], instruments: Sequence[Instrument], step_ns: int
    ) -> Market:
        if not bars or len(bars) != len(instruments):
            raise ConfigError(
                f"a market needs one instrument per bar series, got {len(bars)} series "
                f"and {len(instruments)} instruments"
            )
        ts = np.asarray(bars[0].ts, dtype=np.int64)
        for b, inst in zip(bars[1:], instruments[1:], strict=True):
            if len(b) != len(ts) or not np.array_equal(b.ts, ts):
                raise DataError(
                    f"{inst.id}: the vectorized engine needs every asset's bars on the same "
                    f"timestamps as {instruments[0].id}'s"
                )
        if len(ts) < 2:
            raise DataError(f"{instruments[0].id}: a backtest needs at least 2 bars")

        def stack(field: str) -> F64:
            return np.ascontiguousarray(np.stack([getattr(b, field) for b in bars], axis=1))

        o, h, lo, c = (stack(name) for name in ("open", "high", "low", "close"))
        return cls(ts, step_ns, o, h, lo, c, tuple(instruments))

    @property
    def n_bars(self) -> int:
        return int(self.ts.shape[0])

    @property
    def n_assets(self) -> int:
        return len(self.instruments)


@dataclass(frozen=True, slots=True)
class VenueSettings:
    """The account and costs; fee rates are fractions (0.001 == 10 bps) overriding the
    instruments' own rates when given, as ``FeeModel(maker, taker)`` does."""

    cash: float = 100_000.0
    leverage: float = 1.0
    account: Literal["margin", "cash"] = "margin"
    maker_fee: float | None = None
    taker_fee: float | None = None
    slippage_ticks: int = 0
    slippage_bps: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cash) and self.cash > 0):
            raise ConfigError(f"venue cash must be a positive number, got {self.cash}")
        if not (math.isfinite(self.leverage) and self.leverage > 0):
            raise ConfigError(f"venue leverage must be a positive number, got {self.leverage}")
        if self.account not in ("margin", "cash"):
            raise ConfigError(f"account must be 'margin' or 'cash', got {self.account!r}")
        if self.slippage_ticks < 0 or self.slippage_bps < 0:
            raise ConfigError("slippage must be >= 0")
        if self.slippage_ticks and self.slippage_bps:
            raise ConfigError("give slippage_bps or slippage_ticks, not both")


@dataclass(frozen=True, slots=True, eq=False)
class Columns:
    """Per-portfolio order settings, one element per column.

    ``size`` is read as ``size_kind`` says (units, account currency, or a fraction of equity);
    in target mode the targets carry the sizes. Stops are fractions of the signal bar's close
    (0.02 == 2 %), NaN or 0 for none: the stop-loss and take-profit levels are fixed when the
    entry is decided (a bracket), the trailing stop follows the price from the entry bar's close.
    """

    size: F64
    direction: NDArray[np.int64]
    stop_loss: F64
    take_profit: F64
    trailing_stop: F64

    @classmethod
    def make(
        cls,
        n: int,
        size: float | Sequence[float] | F64 = 1.0,
        direction: Direction | Sequence[Direction] = "long",
        stop_loss: float | Sequence[float] | F64 = math.nan,
        take_profit: float | Sequence[float] | F64 = math.nan,
        trailing_stop: float | Sequence[float] | F64 = math.nan,
    ) -> Columns:
        """``n`` columns; each argument is one value for all or a sequence of ``n``."""

        def per_column(name: str, value: object) -> F64:
            out = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()
            bad = ~np.isnan(out) & ((out < 0) | ~np.isfinite(out))
            if bad.any():
                raise ConfigError(f"{name} must be >= 0, got {out[bad][0]}")
            return out

        names = [direction] * n if isinstance(direction, str) else list(direction)
        unknown = [d for d in names if d not in _DIRECTIONS]
        if unknown or len(names) != n:
            raise ConfigError(f"direction must be one of {list(_DIRECTIONS)}, got {names[:1]}")
        sizes = per_column("size", size)
        if np.isnan(sizes).any():
            raise ConfigError("size must be a number")
        return cls(
            sizes,
            np.array([_DIRECTIONS[d] for d in names], dtype=np.int64),
            per_column("stop_loss", stop_loss),
            per_column("take_profit", take_profit),
            per_column("trailing_stop", trailing_stop),
        )

    def __len__(self) -> int:
        return int(self.size.shape[0])

    @property
    def has_stops(self) -> bool:
        return bool(
            np.nan_to_num(self.stop_loss).any()
            or np.nan_to_num(self.take_profit).any()
            or np.nan_to_num(self.trailing_stop).any()
        )

    def packed(self) -> F64:
        out = np.empty((len(self), layout.N_COLUMN_FIELDS))
        out[:, layout.C_SIZE] = self.size
        out[:, layout.C_DIRECTION] = self.direction
        out[:, layout.C_STOP_LOSS] = np.nan_to_num(self.stop_loss)
        out[:, layout.C_TAKE_PROFIT] = np.nan_to_num(self.take_profit)
        out[:, layout.C_TRAIL_PCT] = np.nan_to_num(self.trailing_stop) * 100.0  # venue: 1.0 == 1 %
        return out


@dataclass(frozen=True, slots=True, eq=False)
class Trades:
    """Closed round trips of one column, as parallel arrays (one element per trade)."""

    asset: NDArray[np.int64]
    long: NDArray[np.bool_]
    quantity: F64
    entry_ns: I64
    exit_ns: I64
    entry_price: F64
    exit_price: F64
    pnl: F64  # net of every fee of the trade
    fees: F64
    exit_reason: NDArray[np.int64]  # index into EXIT_REASONS

    def __len__(self) -> int:
        return int(self.pnl.shape[0])

    def arrays(self) -> TradeArrays:
        """What the statistics take; ``return_pct`` is pnl over entry notional, as RoundTrip's."""
        notional = self.quantity * self.entry_price
        ret = np.divide(self.pnl, notional, out=np.zeros_like(self.pnl), where=notional != 0)
        return TradeArrays(self.entry_ns, self.exit_ns, self.pnl, ret, self.fees)


@dataclass(frozen=True, slots=True, eq=False)
class Batch:
    """The outputs of one kernel call; column ``c`` is one portfolio."""

    market: Market
    venue: VenueSettings
    trades_raw: F64
    trade_offsets: I64
    sample_offsets: I64
    curve_idx: I64
    curve_eq: F64
    summary: F64
    open_positions: F64

    def __len__(self) -> int:
        return int(self.summary.shape[0])

    def final_equity(self, col: int) -> float:
        return float(self.summary[col, layout.S_FINAL_EQUITY])

    def n_trades(self, col: int) -> int:
        return int(self.summary[col, layout.S_TRADES])

    def rejected_orders(self, col: int) -> int:
        return int(self.summary[col, layout.S_REJECTED])

    def trades(self, col: int) -> Trades:
        lo = int(self.trade_offsets[col])
        rows = self.trades_raw[lo : lo + self.n_trades(col)]
        bar_ns = self.market.ts
        return Trades(
            asset=rows[:, layout.T_ASSET].astype(np.int64),
            long=rows[:, layout.T_LONG] != 0,
            quantity=rows[:, layout.T_QTY].copy(),
            entry_ns=bar_ns[rows[:, layout.T_ENTRY_BAR].astype(np.int64)],
            exit_ns=bar_ns[rows[:, layout.T_EXIT_BAR].astype(np.int64)],
            entry_price=rows[:, layout.T_ENTRY_PX].copy(),
            exit_price=rows[:, layout.T_EXIT_PX].copy(),
            pnl=rows[:, layout.T_PNL].copy(),
            fees=rows[:, layout.T_FEES].copy(),
            exit_reason=rows[:, layout.T_REASON].astype(np.int64),
        )

    def samples(self, col: int) -> tuple[NDArray[np.intp], F64]:
        """Bar indices of the kept equity samples and the equity at them."""
        lo = int(self.sample_offsets[col])
        hi = lo + int(self.summary[col, layout.S_SAMPLES])
        return self.curve_idx[lo:hi].astype(np.intp), self.curve_eq[lo:hi]

    def equity(self, col: int) -> tuple[I64, F64]:
        """``(timestamps, equity)`` of the kept samples: every bar's close for a full curve."""
        idx, eq = self.samples(col)
        return self.market.sample_ns[idx], eq

    def exposure_pct(self, col: int) -> float:
        return float(self.summary[col, layout.S_IN_MARKET]) / self.market.n_bars * 100.0

    def open_position(self, col: int, asset: int = 0) -> tuple[float, float]:
        """``(signed quantity, average entry price)`` still held at the end."""
        row = self.open_positions[col, asset]
        return float(row[layout.O_QTY]), float(row[layout.O_AVG_PX])

    def statistics(self, col: int, risk_free_rate: float = 0.0) -> dict[str, StatisticValue]:
        """The event-driven engine's statistics of column ``col`` (same module, same keys).

        Computed from the kept samples, which give every statistic its full-curve value; the
        exposure, a share of all samples, is counted by the kernel.
        """
        idx, eq = self.samples(col)
        stats = compute_statistics(
            self.market.sample_ns[idx],
            eq,
            self.trades(col).arrays(),
            benchmark=self.market.close[idx, 0],
            risk_free_rate=risk_free_rate,
        )
        stats["exposure_time_pct"] = self.exposure_pct(col)
        return stats


def run_signals(
    market: Market,
    signals: NDArray[np.uint8],
    columns: Columns,
    venue: VenueSettings,
    size_kind: SizeKind = "amount",
    *,
    full_curve: bool = False,
) -> Batch:
    """Portfolios from entry/exit flags ``(columns, bars, assets)`` (kernel's LONG_ENTRY, ...).

    Flags are read at each bar's close; the order fills at the next bar's open. An entry when
    already positioned on that side is ignored; an opposite entry flips the position in one
    order; an exit closes it.
    """
    flags = _checked(signals, (len(columns), market.n_bars, market.n_assets), np.uint8, "signals")
    per_col = np.count_nonzero(flags.reshape(len(columns), -1), axis=1)
    return _run(market, venue, layout.MODE_SIGNALS, size_kind, columns, per_col, full_curve, flags)


def run_targets(
    market: Market,
    targets: F64,
    venue: VenueSettings,
    size_kind: SizeKind = "amount",
    columns: Columns | None = None,
    *,
    full_curve: bool = False,
) -> Batch:
    """Portfolios trading towards target positions ``(columns, bars, assets)`` (NaN: no order).

    A target is a signed quantity, a value in account currency, or a fraction of equity
    (``size_kind``), decided at a bar's close and traded at the next open.
    """
    n_cols = targets.shape[0] if targets.ndim == 3 else 0
    wanted = _checked(targets, (n_cols, market.n_bars, market.n_assets), np.float64, "targets")
    cols = columns if columns is not None else Columns.make(n_cols, direction="both")
    per_col = np.count_nonzero(~np.isnan(wanted.reshape(n_cols, -1)), axis=1)
    return _run(
        market, venue, layout.MODE_TARGETS, size_kind, cols, per_col, full_curve, targets=wanted
    )


def run_ma_cross(
    market: Market,
    fast: Sequence[int] | NDArray[np.int64],
    slow: Sequence[int] | NDArray[np.int64],
    columns: Columns,
    venue: VenueSettings,
    size_kind: SizeKind = "amount",
    *,
    kind: MAKind | Sequence[MAKind] = "sma",
    full_curve: bool = False,
) -> Batch:
    """The moving-average cross of ``MACross``, averages and signals computed in the kernel.

    Column ``c`` crosses the ``fast[c]``- and ``slow[c]``-bar averages of the close, simple or
    exponential (``kind``, one for all or one per column), equal bit for bit to
    :func:`ttquant.indicators.sma` / :func:`~ttquant.indicators.ema`. One asset only.
    """
    if market.n_assets != 1:
        raise ConfigError("the moving-average cross trades one instrument")
    n = len(columns)
    kinds = [kind] * n if isinstance(kind, str) else list(kind)
    if len(kinds) != n:
        raise ConfigError(f"kind: expected one or {n} moving-average kinds, got {len(kinds)}")
    unknown = [name for name in kinds if name not in _MA_KINDS]
    if unknown:
        raise ConfigError(
            f"moving-average kind must be one of {list(_MA_KINDS)}, got {unknown[0]!r}"
        )
    spec = np.empty((n, layout.N_MA_FIELDS), dtype=np.int64)
    spec[:, layout.M_KIND] = [_MA_KINDS[name] for name in kinds]
    for field_, name, windows in ((layout.M_FAST, "fast", fast), (layout.M_SLOW, "slow", slow)):
        values = np.asarray(windows)
        if values.shape != (n,) or values.dtype.kind not in "iu" or (values < 1).any():
            raise ConfigError(f"{name}: expected {n} moving-average windows >= 1, got {windows}")
        spec[:, field_] = values
    return _run(market, venue, layout.MODE_MA_CROSS, size_kind, columns, None, full_curve,
                ma_spec=spec)  # fmt: skip


def _checked(array: np.ndarray, shape: tuple[int, ...], dtype: type, name: str) -> np.ndarray:
    if array.shape != shape:
        raise ConfigError(f"{name}: expected shape {shape}, got {array.shape}")
    return np.ascontiguousarray(array, dtype=dtype)


def _asset_spec(market: Market, venue: VenueSettings) -> F64:
    spec = np.empty((market.n_assets, layout.N_ASSET_FIELDS))
    for a, inst in enumerate(market.instruments):
        if inst.is_inverse:
            raise ConfigError(f"{inst.id}: inverse contracts are not supported")
        (
            spec[a, layout.A_PRICE_INC],
            spec[a, layout.A_PRICE_UNITS],
            spec[a, layout.A_PRICE_SCALE],
        ) = price_rounding(inst)
        spec[a, layout.A_SIZE_INC], spec[a, layout.A_SIZE_UNITS], spec[a, layout.A_SIZE_SCALE] = (
            size_rounding(inst)
        )
        spec[a, layout.A_MULT] = inst.multiplier
        spec[a, layout.A_MIN_QTY] = inst.min_quantity
        spec[a, layout.A_MIN_NOTIONAL] = inst.min_notional
        spec[a, layout.A_TAKER] = inst.taker_fee if venue.taker_fee is None else venue.taker_fee
        spec[a, layout.A_MAKER] = inst.maker_fee if venue.maker_fee is None else venue.maker_fee
        spec[a, layout.A_CHECK_FEE] = max(inst.taker_fee, inst.maker_fee, 0.0)  # the venue's check
    return spec


def day_ends(sample_ns: I64) -> NDArray[np.bool_]:
    """Whether each sample is the last of its UTC day."""
    days = sample_ns // DAY_NS
    out = np.ones(days.shape, dtype=np.bool_)
    out[:-1] = days[1:] != days[:-1]
    return out


def _run(
    market: Market,
    venue: VenueSettings,
    mode: int,
    size_kind: SizeKind,
    columns: Columns,
    order_bound: NDArray[np.int64] | None,
    full_curve: bool,
    signals: np.ndarray | None = None,
    targets: np.ndarray | None = None,
    ma_spec: np.ndarray | None = None,
) -> Batch:
    """One kernel call over every column: the lean kernel for one asset without stops.

    Output buffers are sized by what the columns produce, not by the bars. Trades:
    ``order_bound`` bounds each column's orders (None: unknown before the run, as for the MA
    cross); each order fills at most once and each fill that opens a position may be followed
    by one stop exit, which bounds the trades. Unknown, they get a guess, as the kept equity
    samples always do (a full curve gets every bar). A column that outgrows a guess is run
    again with exactly its trades and with room for every bar's sample.
    """
    if size_kind not in _SIZE_KINDS:
        raise ConfigError(f"size kind must be one of {list(_SIZE_KINDS)}, got {size_kind!r}")
    n_cols = len(columns)
    n_bars = market.n_bars
    guessed = order_bound is None
    if order_bound is None:
        trade_room = np.full(n_cols, n_bars // _BARS_PER_GUESSED_TRADE + 1, dtype=np.int64)
    else:
        trade_room = order_bound * (2 if columns.has_stops else 1) + 1
    sample_room = np.full(n_cols, n_bars if full_curve else _sample_room(market), dtype=np.int64)
    spec = _asset_spec(market, venue)
    packed = columns.packed()
    lean = market.n_assets == 1 and not columns.has_stops
    no_signals = np.zeros((1, 1, 1), dtype=np.uint8)
    no_targets = np.zeros((1, 1, 1))
    no_ma = np.zeros((n_cols, layout.N_MA_FIELDS), dtype=np.int64)
    for _ in range(2):  # a rerun has all the room it needs
        trade_offsets = _offsets(trade_room)
        sample_offsets = _offsets(sample_room)
        trades = np.empty((int(trade_offsets[-1]), layout.N_TRADE_FIELDS))
        curve_idx = np.empty(int(sample_offsets[-1]), dtype=np.int64)
        curve_eq = np.empty(int(sample_offsets[-1]))
        summary = np.zeros((n_cols, layout.N_SUMMARY_FIELDS))
        open_positions = np.zeros((n_cols, market.n_assets, layout.N_OPEN_FIELDS))
        common = (
            spec,
            venue.cash,
            venue.leverage,
            venue.account == "cash",
            float(venue.slippage_ticks),
            float(venue.slippage_bps),
            mode,
            _SIZE_KINDS[size_kind],
            signals if signals is not None else no_signals,
            targets if targets is not None else no_targets,
            ma_spec if ma_spec is not None else no_ma,
            packed,
            trade_offsets,
            trades,
            sample_offsets,
            curve_idx,
            curve_eq,
            full_curve,
            summary,
            open_positions,
        )
        prices = (market.open,) if lean else (market.open, market.high, market.low)
        args = (*prices, market.close, market.day_end, *common)
        if n_cols > 1:  # columns in parallel
            (simulate_lean if lean else simulate)(*args)
        else:  # no threads to start
            (lean_column if lean else simulate_column)(0, *args)
        trades_needed = summary[:, layout.S_TRADES].astype(np.int64)
        short_of_samples = summary[:, layout.S_SAMPLES] > sample_room
        short_of_trades = trades_needed > trade_room
        if not (short_of_samples.any() or short_of_trades.any()):
            return Batch(market, venue, trades, trade_offsets, sample_offsets, curve_idx,
                         curve_eq, summary, open_positions)  # fmt: skip
        if short_of_trades.any() and not guessed:  # the bound is a proof: this is a bug
            raise AssertionError(
                f"trade buffer overflow in columns {np.flatnonzero(short_of_trades)}"
            )
        guessed = False  # the rerun's room is exact
        trade_room = np.maximum(trade_room, trades_needed)
        sample_room[short_of_samples] = n_bars
    raise AssertionError("a rerun with room for every trade and sample overflowed")


def _offsets(room: NDArray[np.int64]) -> NDArray[np.int64]:
    offsets = np.zeros(room.shape[0] + 1, dtype=np.int64)
    np.cumsum(room, out=offsets[1:])
    return offsets


def _sample_room(market: Market) -> int:
    """A guess at the samples a column keeps: per UTC day its last and its lowest, per drawdown
    episode the sample before it and the recovery (assumed one episode per 256 bars)."""
    days = int(np.count_nonzero(market.day_end))
    return min(market.n_bars, 3 * days + market.n_bars // 256 + 16)
