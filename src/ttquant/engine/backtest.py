"""The event-driven backtest engine.

Wires the kernel (clock, bus, cache, execution engine, portfolio), simulated venues and
strategies, then streams market data in timestamp order from numpy arrays. Per event the loop
does only what the event needs: a bar becomes one small struct, the matching engine is skipped
when nothing rests on that instrument, handlers come from lists the bus keeps current.

The equity curve is not computed per event, nor per fill. Equity is ``A + sum(q_i * mult_i *
price_i)``, where a fill of signed quantity ``dq`` at ``px`` with commission ``c`` changes the
positions ``q`` by ``dq`` and ``A`` by ``-(dq * mult * px + c)``, in a cash account (money for
coins) as in a margin account (realized PnL and average entry move together). So after the run
the whole curve follows from the starting equity, the fills and the prices, with numpy.

A backtest is a pure function of (data, config): two runs give identical fills and the same
results hash.
"""

from __future__ import annotations

import gc
import hashlib
import math
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import msgspec
import numpy as np

from ttquant.core.bus import MessageBus
from ttquant.core.clock import TestClock
from ttquant.core.errors import ConfigError, DataError, StrategyError
from ttquant.core.time import ns_to_iso
from ttquant.data.aggregation import TimeBarAggregator
from ttquant.data.bars import OHLCV
from ttquant.execution.engine import ExecutionEngine
from ttquant.model.cache import Cache
from ttquant.model.data import (
    Bar,
    BarType,
    QuoteTick,
    TradeTick,
    bar_topic,
    quote_topic,
    trade_topic,
)
from ttquant.model.enums import AccountType, AggressorSide, BarAggregation, OrderSide
from ttquant.model.events import OrderFilled
from ttquant.model.instruments import Instrument
from ttquant.portfolio.portfolio import Portfolio
from ttquant.risk.engine import RiskEngine
from ttquant.strategy.strategy import Strategy
from ttquant.venues.sim.models import FeeModel, FillModel, SlippageModel
from ttquant.venues.sim.venue import SimulatedVenue

_BAR, _TRADE, _QUOTE = 0, 1, 2
_AGGRESSORS = (AggressorSide.NONE, AggressorSide.BUYER, AggressorSide.SELLER)
# after the lower bar's indicators (10), before its strategies (0): a higher bar is published
# before the strategies see the lower bar that closes it, with lower indicators already updated
_AGGREGATOR_PRIORITY = 5
CHUNK = 65_536  # events per batch: bounds the Python objects alive at once, paces progress


@dataclass(slots=True)
class _Series:
    kind: int
    instrument_id: str
    bar_type: BarType | None
    ts_event: np.ndarray
    ts_init: np.ndarray
    fields: tuple[np.ndarray, ...]  # bar: o,h,l,c,v; trade: price,size,aggressor; quote: b,a,bs,as
    mark: np.ndarray  # price used to value positions: close, trade price or mid

    def topic(self) -> str:
        if self.kind == _BAR:
            assert self.bar_type is not None
            return bar_topic(self.bar_type)
        if self.kind == _TRADE:
            return trade_topic(self.instrument_id)
        return quote_topic(self.instrument_id)


@dataclass(slots=True)
class EquityCurve:
    ts: np.ndarray  # int64 ns: every distinct event time of the run
    equity: np.ndarray  # float64, account base currency
    in_market: np.ndarray  # bool: any position open
    marks: dict[str, np.ndarray]  # instrument id -> last price at each time
    # owner (strategy id, or the unattributed bucket) -> its PnL at each time; they add up to
    # equity - starting equity
    pnl_by_owner: dict[str, np.ndarray]


class BacktestEngine:
    """Run strategies against simulated venues on historical data."""

    def __init__(self) -> None:
        self.clock = TestClock()
        self.bus = MessageBus()
        self.cache = Cache(self.clock.timestamp_ns)
        self.portfolio = Portfolio(self.cache)
        self.execution = ExecutionEngine(self.bus, self.cache, self.portfolio)
        # strategies send their orders through it; configure it with ``risk.configure``
        self.risk = RiskEngine(self.cache, self.portfolio, self.execution, self.bus)
        self.venues: dict[str, SimulatedVenue] = {}
        self.strategies: list[Strategy] = []
        self._series: list[_Series] = []
        self._starting_equity = 0.0
        self._ran = False
        self._aggregators: dict[BarType, TimeBarAggregator] = {}

    # -- setup ----------------------------------------------------------------------------------
    def add_venue(
        self,
        name: str,
        *,
        account_type: AccountType = AccountType.MARGIN,
        base_currency: str = "USDT",
        starting_balances: dict[str, float] | None = None,
        leverage: float = 1.0,
        fill_model: FillModel | None = None,
        fee_model: FeeModel | None = None,
        slippage_model: SlippageModel | None = None,
    ) -> SimulatedVenue:
        others = sorted(c for c, v in (starting_balances or {}).items() if v and c != base_currency)
        if others:
            raise ConfigError(
                f"venue {name}: starting balances in {', '.join(others)} are not supported in "
                f"backtests yet; give the starting cash in {base_currency}"
            )
        venue = SimulatedVenue(
            name,
            self.cache,
            account_type=account_type,
            base_currency=base_currency,
            starting_balances=starting_balances,
            leverage=leverage,
            fill_model=fill_model,
            fee_model=fee_model,
            slippage_model=slippage_model,
        )
        self.venues[venue.name] = venue
        self.execution.register_venue(venue)
        self.portfolio.register_account(venue.account, venue.positions)
        return venue

    def add_instrument(self, instrument: Instrument) -> None:
        venue = self.venues.get(instrument.venue)
        if venue is None:
            raise ConfigError(f"instrument {instrument.id}: add venue {instrument.venue} first")
        if instrument.is_inverse:
            raise ConfigError(
                f"instrument {instrument.id}: inverse contracts are not supported "
                "in backtests yet (their equity is not linear in price)"
            )
        if instrument.settlement_currency != venue.account.base_currency:
            raise ConfigError(
                f"instrument {instrument.id} settles in {instrument.settlement_currency} but the "
                f"{venue.name} account's base currency is {venue.account.base_currency}"
            )
        self.cache.add_instrument(instrument)
        venue.add_instrument(instrument)

    def add_bars(
        self,
        bar_type: BarType,
        ts_open: np.ndarray,
        open_: np.ndarray,
        high: np.ndarray,
        low: np.ndarray,
        close: np.ndarray,
        volume: np.ndarray,
    ) -> None:
        """Add time bars; ``ts_open`` is each bar's open time (ns). A bar is known at its close."""
        self.cache.instrument(bar_type.instrument_id)
        ts = np.ascontiguousarray(ts_open, dtype=np.int64)
        _check_sorted(ts, str(bar_type))
        fields = tuple(
            np.ascontiguousarray(a, dtype=np.float64) for a in (open_, high, low, close, volume)
        )
        self._series.append(
            _Series(
                _BAR, bar_type.instrument_id, bar_type, ts, ts + bar_type.step, fields, fields[3]
            )
        )

    def add_ohlcv(self, bar_type: BarType, bars: OHLCV) -> None:
        """Add bars loaded with :func:`ttquant.data.bars.load_ohlcv` (``ts`` = bar open)."""
        self.add_bars(bar_type, bars.ts, bars.open, bars.high, bars.low, bars.close, bars.volume)

    def add_trades(
        self,
        instrument_id: str,
        ts: np.ndarray,
        price: np.ndarray,
        size: np.ndarray,
        aggressor: np.ndarray | None = None,
    ) -> None:
        """Add trade ticks; ``aggressor`` codes: 0 none, 1 buyer, 2 seller."""
        self.cache.instrument(instrument_id)
        t = np.ascontiguousarray(ts, dtype=np.int64)
        _check_sorted(t, f"trades of {instrument_id}")
        px = np.ascontiguousarray(price, dtype=np.float64)
        agg = np.zeros(len(t)) if aggressor is None else np.asarray(aggressor, dtype=np.float64)
        self._series.append(
            _Series(
                _TRADE,
                instrument_id,
                None,
                t,
                t,
                (px, np.ascontiguousarray(size, dtype=np.float64), agg),
                px,
            )
        )

    def add_quotes(
        self,
        instrument_id: str,
        ts: np.ndarray,
        bid: np.ndarray,
        ask: np.ndarray,
        bid_size: np.ndarray,
        ask_size: np.ndarray,
    ) -> None:
        self.cache.instrument(instrument_id)
        t = np.ascontiguousarray(ts, dtype=np.int64)
        _check_sorted(t, f"quotes of {instrument_id}")
        fields = tuple(
            np.ascontiguousarray(a, dtype=np.float64) for a in (bid, ask, bid_size, ask_size)
        )
        self._series.append(
            _Series(_QUOTE, instrument_id, None, t, t, fields, (fields[0] + fields[1]) / 2.0)
        )

    def add_strategy(self, strategy: Strategy) -> None:
        if any(s.id == strategy.id for s in self.strategies):
            strategy.id = f"{strategy.id}-{len(self.strategies) + 1}"
        self.strategies.append(strategy)

    # -- run ------------------------------------------------------------------------------------
    def run(
        self,
        start_ns: int | None = None,
        end_ns: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> EquityCurve:
        """Stream every event with ``start_ns <= ts_event < end_ns``; return the equity curve."""
        if self._ran:
            raise ConfigError("a BacktestEngine runs once; build a new one for another run")
        self._ran = True
        if not self.strategies:
            raise ConfigError("backtest has no strategy")
        series = [_window(s, start_ns, end_ns) for s in self._series]
        series = [s for s in series if len(s.ts_init)]
        if not series:
            raise DataError("no market data in the selected time range")
        order, ts_all = _merge(series)
        first_ts = int(ts_all[0]) if len(ts_all) else 0
        self.clock.set_time(first_ts)
        bar_types = [s.bar_type for s in series if s.bar_type is not None]
        for strategy in self.strategies:
            strategy.bind(
                clock=self.clock,
                cache=self.cache,
                portfolio=self.portfolio,
                bus=self.bus,
                execution=self.risk,
                bar_types=bar_types,
            )
        self._starting_equity = sum(venue.equity() for venue in self.venues.values())
        currency = next(iter(self.venues.values())).account.base_currency if self.venues else "USDT"
        self.risk.start([s.id for s in self.strategies], currency)
        self._guarded(self._start_strategies)
        self._guarded(self.execution.process_events)
        self._aggregate_missing_bars(series)
        # Automatic collection scans the growing heap of orders and events again and again
        # (a third of the cost of an order); the loop collects young garbage per chunk instead.
        # Objects that exist before the run (data, imported libraries) are frozen out of every
        # collection during it.
        automatic = gc.isenabled()
        gc.disable()
        gc.freeze()
        try:
            self._guarded(lambda: self._stream(series, order, ts_all, progress))
        finally:
            gc.unfreeze()
            if automatic:
                gc.enable()
        self._guarded(self._stop_strategies)
        self._guarded(self.execution.process_events)
        distinct = np.ones(len(ts_all), dtype=bool)  # ts_all is sorted: drop repeats
        distinct[1:] = ts_all[1:] != ts_all[:-1]
        return self._equity_curve(series, ts_all[distinct])

    def _aggregate_missing_bars(self, series: list[_Series]) -> None:
        """Build every subscribed time bar type that has no data from one that has."""
        available = [s.bar_type for s in series if s.bar_type is not None]
        for strategy in self.strategies:
            for target in strategy.subscribed_bar_types:
                if target in available or target in self._aggregators:
                    continue
                sources = [
                    bt
                    for bt in available
                    if bt.instrument_id == target.instrument_id
                    and bt.aggregation is target.aggregation is BarAggregation.TIME
                    and target.step % bt.step == 0
                ]
                if not sources:
                    raise ConfigError(
                        f"strategy {strategy.id!r} subscribed to {target} bars, but no bars of "
                        f"{target.instrument_id} can be aggregated into them (data: "
                        f"{', '.join(str(bt) for bt in available) or 'none'})"
                    )
                source = min(sources, key=lambda bt: bt.step)
                aggregator = TimeBarAggregator(source, target, self._publisher(bar_topic(target)))
                self._aggregators[target] = aggregator
                self.bus.subscribe(bar_topic(source), aggregator.handle_bar, _AGGREGATOR_PRIORITY)

    def _publisher(self, topic: str) -> Callable[[Bar], None]:
        def publish(bar: Bar) -> None:
            self.bus.publish(topic, bar)

        return publish

    def _start_strategies(self) -> None:
        for strategy in self.strategies:
            strategy.on_start()

    def _stop_strategies(self) -> None:
        for strategy in self.strategies:
            strategy.on_stop()

    def _stream(
        self,
        series: list[_Series],
        order: np.ndarray,
        ts_all: np.ndarray,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        clock = self.clock
        execution = self.execution
        pending = execution.pending
        process_events = execution.process_events
        prices = self.cache.prices
        # per series: what the loop needs, fetched with one index and one unpack per event
        routes = [
            (
                s.kind,
                s.bar_type,
                self.venues[self.cache.instrument(s.instrument_id).venue],
                self.venues[self.cache.instrument(s.instrument_id).venue].engines[s.instrument_id],
                s.instrument_id,
                self.bus.handlers_for(s.topic()),
            )
            for s in series
        ]
        quotes = self.cache.quotes
        bar_kind = _BAR
        make_bar = Bar
        sidx_all = order >> 40
        ridx_all = order & ((1 << 40) - 1)
        # an event shares its time with the next one: all events of one time are matched
        # first, then dispatched, so no strategy acts on a price before every venue has seen it
        shared_all = np.zeros(len(order), dtype=bool)
        shared_all[:-1] = ts_all[:-1] == ts_all[1:]
        group: list[tuple[list[Callable[[Any], None]], Any]] = []
        single = len(series) == 1
        total = len(order)
        now = clock.now_ns
        for lo in range(0, total, CHUNK):
            sidx = sidx_all[lo : lo + CHUNK]
            ridx = ridx_all[lo : lo + CHUNK]
            cols = _gather(series, sidx, ridx)
            if single:  # one series: no two events share a time
                routing: Iterable[Any] = repeat(0)
                sharing: Iterable[Any] = repeat(False)
            else:
                routing, sharing = sidx.tolist(), shared_all[lo : lo + CHUNK].tolist()
            for si, shared, te, ti, a, b, c, d, e in zip(routing, sharing, *cols):  # noqa: B905
                if ti != now:
                    if clock.next_due <= ti:
                        self._fire_timers(ti)
                    clock.now_ns = now = ti
                kind, bar_type, venue, engine, iid, handlers = routes[si]
                event: Any
                if kind == bar_kind:
                    event = make_bar(bar_type, a, b, c, d, e, te, ti)
                    if engine.working:
                        engine.process_bar(event)
                    prices[iid] = d
                elif kind == _TRADE:
                    event = TradeTick(iid, a, b, _AGGRESSORS[int(c)], "", te, ti)
                    if engine.working:
                        venue.process_trade(event)
                    prices[iid] = a
                else:
                    event = QuoteTick(iid, a, b, c, d, te, ti)
                    quotes[iid] = event
                    if engine.working:
                        venue.process_quote(event)
                    prices[iid] = (a + b) / 2.0
                if shared:
                    group.append((handlers, event))
                    continue
                if pending:
                    process_events()
                if group:
                    group.append((handlers, event))
                    for group_handlers, group_event in group:
                        for handler in group_handlers:
                            handler(group_event)
                        if pending:
                            process_events()
                    group.clear()
                    continue
                for handler in handlers:
                    handler(event)
                if pending:
                    process_events()
            gc.collect(1)  # young garbage once per chunk (automatic collection is off)
            if progress is not None:
                progress(min(lo + CHUNK, total), total)

    def _fire_timers(self, until_ns: int) -> None:
        while (due := self.clock.pop_due(until_ns)) is not None:
            event, callback = due
            # an alert set for a time already past fires now: the clock never goes back
            self.clock.now_ns = max(event.ts_event, self.clock.now_ns)
            callback(event)
            self.execution.process_events()

    def _guarded(self, body: Callable[[], object]) -> None:
        """Run ``body``; an exception from strategy code becomes a :class:`StrategyError`."""
        try:
            body()
        except StrategyError:
            raise
        except Exception as exc:
            culprit = _strategy_frame(exc)
            if culprit is None:
                raise
            strategy, callback = culprit
            error = StrategyError(
                f"strategy {strategy.id!r} raised {type(exc).__name__} in {callback} at "
                f"{ns_to_iso(self.clock.now_ns)}: {exc}"
            )
            error.__cause__ = exc  # not ``raise ... from exc``: mypyc-compiled code drops it
            raise error  # noqa: B904 - the cause is set above

    # -- equity ---------------------------------------------------------------------------------
    def _equity_curve(self, series: list[_Series], ts: np.ndarray) -> EquityCurve:
        marks: dict[str, np.ndarray] = {}
        for iid in sorted({s.instrument_id for s in series}):
            own = [s for s in series if s.instrument_id == iid]
            t = np.concatenate([s.ts_init for s in own])
            p = np.concatenate([s.mark for s in own])
            srt = np.argsort(t, kind="stable")
            t, p = t[srt], p[srt]
            idx = np.searchsorted(t, ts, side="right") - 1
            marks[iid] = np.where(idx >= 0, p[np.maximum(idx, 0)], np.nan)
        fills = self.execution.fills
        equity, in_market = self._value_path(fills, marks, ts, self._starting_equity)
        owners = sorted({f.strategy_id for f in fills})
        if len(owners) == 1:
            by_owner = {owners[0]: equity - self._starting_equity}
        else:
            by_owner = {
                owner: self._value_path(
                    [f for f in fills if f.strategy_id == owner], marks, ts, 0.0
                )[0]
                for owner in owners
            }
        return EquityCurve(ts, equity, in_market, marks, by_owner)

    def _value_path(
        self, fills: list[OrderFilled], marks: dict[str, np.ndarray], ts: np.ndarray, start: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """``start`` plus the value the fills built at each time, and whether any is held."""
        equity = np.full(len(ts), start)
        in_market = np.zeros(len(ts), dtype=bool)
        if not fills:
            return equity, in_market
        fill_ts = np.array([f.ts_init for f in fills], dtype=np.int64)
        k = np.searchsorted(fill_ts, ts, side="right") - 1  # the last fill known at each time
        known = k >= 0
        k = np.maximum(k, 0)
        price = np.array([f.last_px for f in fills])
        cash_flow = np.array([f.commission for f in fills])
        for iid, mark in marks.items():
            inst = self.cache.instrument(iid)
            dq = np.array(
                [
                    (f.last_qty if f.side is OrderSide.BUY else -f.last_qty) * inst.multiplier
                    if f.instrument_id == iid
                    else 0.0
                    for f in fills
                ]
            )
            cash_flow += dq * price
            q = np.cumsum(dq)
            q[np.abs(q) < inst.size_increment * inst.multiplier / 2] = 0.0  # float residue
            held = known & (q[k] != 0.0)
            equity += np.where(held, q[k] * mark, 0.0)
            in_market |= held
        a = start - np.cumsum(cash_flow)
        equity += np.where(known, a[k] - start, 0.0)
        return equity, in_market

    # -- records --------------------------------------------------------------------------------
    def results_hash(self, curve: EquityCurve) -> str:
        """Digest of every fill, trade and the final equity: equal for identical runs."""
        h = hashlib.sha256()
        h.update(msgspec.msgpack.encode(self.execution.fills))
        h.update(msgspec.msgpack.encode(self.cache.round_trips))
        h.update(repr(float(curve.equity[-1]) if len(curve.equity) else math.nan).encode())
        return h.hexdigest()


def _check_sorted(ts: np.ndarray, what: str) -> None:
    if len(ts) > 1:
        bad = np.flatnonzero(np.diff(ts) <= 0)
        if len(bad):
            i = int(bad[0]) + 1
            raise DataError(
                f"{what}: timestamps must increase strictly; row {i + 1} "
                f"({ns_to_iso(int(ts[i]))}) follows {ns_to_iso(int(ts[i - 1]))}"
            )


def _window(s: _Series, start: int | None, end: int | None) -> _Series:
    lo = 0 if start is None else int(np.searchsorted(s.ts_event, start, side="left"))
    hi = len(s.ts_event) if end is None else int(np.searchsorted(s.ts_event, end, side="left"))
    if lo == 0 and hi == len(s.ts_event):
        return s
    return _Series(
        s.kind,
        s.instrument_id,
        s.bar_type,
        s.ts_event[lo:hi],
        s.ts_init[lo:hi],
        tuple(f[lo:hi] for f in s.fields),
        s.mark[lo:hi],
    )


def _merge(series: Sequence[_Series]) -> tuple[np.ndarray, np.ndarray]:
    """Global event order (by ts_init, then series) packed as ``series << 40 | row``."""
    ts = np.concatenate([s.ts_init for s in series])
    sid = np.concatenate([np.full(len(s.ts_init), i, dtype=np.int64) for i, s in enumerate(series)])
    row = np.concatenate([np.arange(len(s.ts_init), dtype=np.int64) for s in series])
    if len(series) == 1:
        return row, ts
    perm = np.lexsort((sid, ts))
    return (sid[perm] << 40) | row[perm], ts[perm]


def _gather(
    series: Sequence[_Series], sidx: np.ndarray, ridx: np.ndarray
) -> list[list[float] | list[int]]:
    """Columns (ts_event, ts_init, f0..f4) of a chunk of the merged stream as Python lists."""
    n = len(sidx)
    if len(series) == 1:
        s = series[0]
        cols = [s.ts_event[ridx], s.ts_init[ridx]] + [f[ridx] for f in s.fields]
    else:
        cols = [np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)] + [
            np.zeros(n) for _ in range(5)
        ]
        for i, s in enumerate(series):
            mask = sidx == i
            if not mask.any():
                continue
            rows = ridx[mask]
            cols[0][mask] = s.ts_event[rows]
            cols[1][mask] = s.ts_init[rows]
            for j, f in enumerate(s.fields):
                cols[2 + j][mask] = f[rows]
    while len(cols) < 7:
        cols.append(np.zeros(n))
    return [c.tolist() for c in cols]


def _strategy_frame(exc: BaseException) -> tuple[Strategy, str] | None:
    """The innermost strategy method on the traceback: who raised, and in which callback."""
    found: tuple[Strategy, str] | None = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        owner = frame.f_locals.get("self")
        # a user subclass's own frame wins over the base class's; the innermost one wins
        if isinstance(owner, Strategy) and (
            found is None or type(owner).__module__ != Strategy.__module__
        ):
            found = (owner, frame.f_code.co_name)
    return found
