"""The offline HTML backtest report: one self-contained file a user can open anywhere, even offline.

The plotly.js bundle is embedded instead of linked so the report keeps working without network
access and years later. Figures are built as plain dicts and serialised with :mod:`json`, never
through ``plotly.graph_objects``, whose import and validation alone cost seconds. Inputs of millions
of bars are reduced before plotting (OHLC resampling, min/max decimation) so the file stays at a few
MB and the browser stays responsive, without hiding extremes: the highest high, the lowest low and
the deepest drawdown always survive the reduction.
"""

from __future__ import annotations

import html
import importlib.util
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ttquant.core.errors import ConfigError, DataError, TTQuantError
from ttquant.core.time import (
    NANOS_PER_DAY,
    NANOS_PER_HOUR,
    NANOS_PER_MINUTE,
    NANOS_PER_SECOND,
)

__all__ = [
    "AXIS",
    "PriceSeries",
    "ReportData",
    "ReportStrategy",
    "ReportTrade",
    "chart_section",
    "figure_layout",
    "render_page",
    "render_report",
    "stats_section",
    "tearsheet_sections",
    "write_page",
    "write_report",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

MAX_CANDLES = 3_000
MAX_LINE_POINTS = 5_000
TRADE_ROWS_EACH_END = 100

GREEN = "#1e8449"
RED = "#c0392b"
BLUE = "#2563eb"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
YEAR_COLUMN = "Year"

# Bucket widths a reader recognises as timeframes; the first one yielding few enough candles wins.
_NICE_WIDTHS = tuple(
    k * unit
    for unit, ks in (
        (NANOS_PER_SECOND, (1, 2, 5, 10, 15, 30)),
        (NANOS_PER_MINUTE, (1, 2, 5, 10, 15, 30)),
        (NANOS_PER_HOUR, (1, 2, 4, 6, 8, 12)),
        (NANOS_PER_DAY, (1, 2, 3, 7)),
    )
    for k in ks
)


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """Bars of one instrument; ``ts`` is the bar open in int64 ns UTC, strictly increasing."""

    instrument_id: str
    ts: I64
    open: F64
    high: F64
    low: F64
    close: F64


@dataclass(frozen=True, slots=True)
class ReportTrade:
    """One closed round trip, as the report shows it."""

    instrument_id: str
    side: str
    qty: float
    entry_ns: int
    exit_ns: int
    entry_price: float
    exit_price: float
    pnl: float
    fees: float
    exit_reason: str


@dataclass(frozen=True, slots=True)
class ReportStrategy:
    """One strategy's share of the account (or the bucket of fills no strategy sent)."""

    strategy_id: str
    capital: float | None
    pnl: float
    realized: float
    unrealized: float
    commissions: float
    trades: int
    wins: int
    orders: int
    denied: int
    return_pct: float | None
    max_drawdown_pct: float | None
    pnl_path: F64  # PnL at each equity sample


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the report shows; ``statistics`` values are already formatted for display.

    The header's strategy name is read from ``config["strategy"]`` (a name, or a mapping with a
    ``"name"`` key) so the run config stays the single source of what was run.
    """

    title: str
    statistics: list[tuple[str, str]]
    equity_ns: I64
    equity: F64
    prices: list[PriceSeries]
    trades: list[ReportTrade]
    config: dict[str, object]
    strategies: Sequence[ReportStrategy] = ()


@dataclass(frozen=True, slots=True)
class _Candles:
    ts: I64
    open: F64
    high: F64
    low: F64
    close: F64
    width_ns: int  # 0 when the bars are shown as given


# --------------------------------------------------------------------------------------------
# Validation: inconsistent inputs would otherwise surface as a blank chart or a browser error.
# --------------------------------------------------------------------------------------------


def _check_times(ts: I64, what: str) -> None:
    if ts.size > 1:
        bad = np.flatnonzero(np.diff(ts) <= 0)
        if bad.size:
            raise DataError(f"{what}: timestamps not strictly increasing at index {bad[0] + 1}")


def _check_finite(values: F64, what: str) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DataError(f"{what}: non-finite value {values[bad[0]]} at index {bad[0]}")


def _validate(data: ReportData) -> None:
    if data.equity_ns.shape != data.equity.shape:
        raise DataError(
            f"report equity: {data.equity_ns.size} timestamps but {data.equity.size} values"
        )
    _check_times(data.equity_ns, "report equity")
    _check_finite(data.equity, "report equity")
    for strategy in data.strategies:
        if strategy.pnl_path.shape != data.equity.shape:
            raise DataError(
                f"report strategy {strategy.strategy_id!r}: {strategy.pnl_path.size} PnL values "
                f"for {data.equity.size} equity samples"
            )
        _check_finite(strategy.pnl_path, f"report strategy {strategy.strategy_id!r} PnL")
    if data.equity.size and data.equity[0] <= 0:
        raise DataError(f"report equity: starts at {data.equity[0]}, drawdown needs equity > 0")
    for s in data.prices:
        what = f"price series {s.instrument_id!r}"
        for name in ("open", "high", "low", "close"):
            column: F64 = getattr(s, name)
            if column.shape != s.ts.shape:
                raise DataError(f"{what}: {name} has {column.size} values for {s.ts.size} bars")
            _check_finite(column, f"{what} {name}")
        _check_times(s.ts, what)
    known = {s.instrument_id for s in data.prices}
    for i, t in enumerate(data.trades):
        what = f"report trade #{i} ({t.instrument_id})"
        if t.instrument_id not in known:
            raise DataError(f"{what}: no price series for this instrument")
        if t.side not in ("long", "short"):
            raise DataError(f"{what}: side {t.side!r} is not 'long' or 'short'")
        if t.exit_ns < t.entry_ns:
            raise DataError(f"{what}: exit {t.exit_ns} ns is before entry {t.entry_ns} ns")
        numbers = (t.qty, t.entry_price, t.exit_price, t.pnl, t.fees)
        if not all(math.isfinite(x) for x in numbers):
            raise DataError(f"{what}: non-finite qty, price, pnl or fees")


# --------------------------------------------------------------------------------------------
# Reduction: keep the file small without losing the extremes a reader looks for.
# --------------------------------------------------------------------------------------------


def _bucket_width(first_ns: int, last_ns: int, limit: int) -> int:
    """Smallest readable timeframe whose epoch-aligned buckets over the span number <= limit."""
    for width in _NICE_WIDTHS:
        if last_ns // width - first_ns // width < limit:
            return width
    days = -(-(last_ns - first_ns) // (NANOS_PER_DAY * limit)) + 1
    while last_ns // (days * NANOS_PER_DAY) - first_ns // (days * NANOS_PER_DAY) >= limit:
        days += 1
    return days * NANOS_PER_DAY


def _resample_ohlc(s: PriceSeries, limit: int = MAX_CANDLES) -> _Candles:
    """Aggregate bars into epoch-aligned buckets: first open, max high, min low, last close."""
    ts = np.asarray(s.ts, dtype=np.int64)
    if ts.size <= limit:
        return _Candles(ts, s.open, s.high, s.low, s.close, 0)
    width = _bucket_width(int(ts[0]), int(ts[-1]), limit)
    key = ts // width
    starts = np.concatenate(([0], np.flatnonzero(np.diff(key)) + 1))
    ends = np.append(starts[1:], ts.size) - 1
    return _Candles(
        ts=key[starts] * width,
        open=s.open[starts],
        high=np.maximum.reduceat(s.high, starts),
        low=np.minimum.reduceat(s.low, starts),
        close=s.close[ends],
        width_ns=width,
    )


def _decimate_minmax(x: I64, y: F64, limit: int = MAX_LINE_POINTS) -> tuple[I64, F64]:
    """At most ``limit`` points: the first, the last and each bucket's min and max, in order.

    Plain striding would skip the one bar where equity bottomed out; keeping both extremes of
    every bucket makes the decimated line's envelope equal the full line's.
    """
    n = y.size
    if n <= limit:
        return x, y
    size = -(-n // ((limit - 2) // 2))
    rows = -(-n // size)
    padded = np.full(rows * size, y[-1])
    padded[:n] = y
    grid = padded.reshape(rows, size)
    offsets = np.arange(rows) * size
    picks = np.concatenate(
        ([0, n - 1], grid.argmin(axis=1) + offsets, grid.argmax(axis=1) + offsets)
    )
    idx = np.unique(np.minimum(picks, n - 1))
    return x[idx], y[idx]


def _drawdown_pct(equity: F64) -> F64:
    """Percent below the running peak (0 at a new high, negative below it)."""
    peak = np.maximum.accumulate(equity)
    return (equity / peak - 1.0) * 100.0


def _period_returns(ns: I64, equity: F64, edges: I64) -> list[float | None]:
    """% return of each period [edges[i], edges[i+1]) from the close of the one before.

    The first period's base is the first equity value; a period without any equity point gets
    None, and the next period is measured from the last value seen before it.
    """
    first_in = np.searchsorted(ns, edges[:-1], side="left")
    after = np.searchsorted(ns, edges[1:], side="left")
    close = equity[np.maximum(after - 1, 0)]
    base = np.where(first_in > 0, equity[np.maximum(first_in - 1, 0)], equity[0])
    pct = (close / base - 1.0) * 100.0
    return [float(p) if n > 0 else None for p, n in zip(pct, after - first_in, strict=True)]


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------


def _iso(ns: I64, *, zulu: bool) -> list[str]:
    """ISO 8601 UTC strings; plotly gets them without the ``Z`` it does not parse."""
    whole = ns.size == 0 or not np.any(ns % NANOS_PER_SECOND)
    texts = np.datetime_as_string(
        ns.astype("datetime64[ns]"),
        unit="s" if whole else "ms",
        timezone="UTC" if zulu else "naive",
    )
    return [str(t) for t in texts.tolist()]


def _num(x: float) -> str:
    return f"{x:,.8g}"


def _esc(text: object) -> str:
    return html.escape(str(text))


def _plot_text(text: object) -> str:
    """Escape text plotly renders as pseudo-HTML (its own tags such as <br> stay usable)."""
    return html.escape(str(text), quote=False)


def _sign_class(text: str) -> str:
    """Colour only explicitly signed figures: 'Trades 120' is a count, not a gain."""
    stripped = text.strip()
    if stripped.startswith(("-", "−")) and any(c in "123456789" for c in stripped):
        return "neg"
    if stripped.startswith("+") and any(c in "123456789" for c in stripped):
        return "pos"
    return ""


def _value_class(x: float) -> str:
    return "pos" if x > 0 else "neg" if x < 0 else ""


# --------------------------------------------------------------------------------------------
# Figures (plain plotly.js JSON)
# --------------------------------------------------------------------------------------------

AXIS = {"gridcolor": "#eceff3", "zeroline": False, "linecolor": "#c9ced6"}


def figure_layout(height: int, **extra: object) -> dict[str, object]:
    """Shared look; titles live in the page's HTML so charts and tables read alike."""
    return {
        "height": height,
        "autosize": True,
        "margin": {"l": 60, "r": 20, "t": 30, "b": 40},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        "hovermode": "closest",
        "legend": {"orientation": "h", "y": 1.01, "yanchor": "bottom", "x": 0, "xanchor": "left"},
        **extra,
    }


def _equity_figure(ns: I64, equity: F64) -> dict[str, object]:
    ex, ey = _decimate_minmax(ns, equity)
    dx, dy = _decimate_minmax(ns, _drawdown_pct(equity))
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "Equity",
            "x": _iso(ex, zulu=False),
            "y": ey.tolist(),
            "line": {"color": BLUE, "width": 1.5},
            "xaxis": "x",
            "yaxis": "y",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "Drawdown %",
            "x": _iso(dx, zulu=False),
            "y": dy.tolist(),
            "line": {"color": RED, "width": 1},
            "fill": "tozeroy",
            "fillcolor": "rgba(192,57,43,0.18)",
            "xaxis": "x2",
            "yaxis": "y2",
        },
    ]
    layout = figure_layout(
        540,
        showlegend=False,
        xaxis={**AXIS, "type": "date", "matches": "x2", "showticklabels": False, "anchor": "y"},
        xaxis2={**AXIS, "type": "date", "anchor": "y2"},
        yaxis={**AXIS, "domain": [0.34, 1.0], "title": {"text": "Equity"}},
        yaxis2={**AXIS, "domain": [0.0, 0.28], "title": {"text": "Drawdown %"}},
    )
    return {"data": data, "layout": layout}


def _trade_traces(trades: Sequence[ReportTrade]) -> list[dict[str, object]]:
    """Entry ▲/▼ by side, exit ✕ coloured by outcome, and a dotted line joining each pair."""
    entry_ns = np.array([t.entry_ns for t in trades], dtype=np.int64)
    exit_ns = np.array([t.exit_ns for t in trades], dtype=np.int64)
    entry_x, exit_x = _iso(entry_ns, zulu=False), _iso(exit_ns, zulu=False)
    entry_t, exit_t = _iso(entry_ns, zulu=True), _iso(exit_ns, zulu=True)
    # The exit carries the whole story; the entry only its own side, so 10k trades stay small.
    entry_hover = [
        f"<b>{t.side} {_num(t.qty)}</b><br>entry {entry_t[i]} @ {_num(t.entry_price)}"
        for i, t in enumerate(trades)
    ]
    exit_hover = [
        f"<b>{t.side} {_num(t.qty)}</b> pnl {t.pnl:+,.2f} (fees {_num(t.fees)})<br>"
        f"entry {entry_t[i]} @ {_num(t.entry_price)}<br>"
        f"exit {exit_t[i]} @ {_num(t.exit_price)}<br>"
        f"reason: {_plot_text(t.exit_reason)}"
        for i, t in enumerate(trades)
    ]
    win = [t.pnl > 0 for t in trades]

    def markers(
        name: str, rows: list[int], symbol: str, color: str | list[str], at_exit: bool
    ) -> dict[str, object]:
        xs, hover = (exit_x, exit_hover) if at_exit else (entry_x, entry_hover)
        return {
            "type": "scatter",
            "mode": "markers",
            "name": name,
            "x": [xs[i] for i in rows],
            "y": [trades[i].exit_price if at_exit else trades[i].entry_price for i in rows],
            "hovertext": [hover[i] for i in rows],
            "hoverinfo": "text",
            "marker": {
                "symbol": symbol,
                "size": 9,
                "color": color,
                "line": {"width": 1, "color": "#1f2933"},
            },
        }

    def links(name: str, rows: list[int], color: str) -> dict[str, object]:
        xs: list[str | None] = []
        ys: list[float | None] = []
        for i in rows:
            xs += [entry_x[i], exit_x[i], None]
            ys += [trades[i].entry_price, trades[i].exit_price, None]
        return {
            "type": "scatter",
            "mode": "lines",
            "name": name,
            "x": xs,
            "y": ys,
            "hoverinfo": "skip",
            "line": {"color": color, "width": 1, "dash": "dot"},
        }

    rows = range(len(trades))
    longs = [i for i in rows if trades[i].side == "long"]
    shorts = [i for i in rows if trades[i].side == "short"]
    return [
        links("Winning trade", [i for i in rows if win[i]], GREEN),
        links("Losing trade", [i for i in rows if not win[i]], RED),
        markers("Long entry", longs, "triangle-up", GREEN, at_exit=False),
        markers("Short entry", shorts, "triangle-down", RED, at_exit=False),
        markers("Exit", list(rows), "x", [GREEN if w else RED for w in win], at_exit=True),
    ]


def _price_figure(s: PriceSeries, trades: Sequence[ReportTrade]) -> tuple[dict[str, object], str]:
    """The candle chart with the instrument's trades, and a caption saying how it was reduced."""
    c = _resample_ohlc(s)
    caption = f"{s.ts.size:,} bars"
    if c.width_ns:
        caption += f", shown as {c.ts.size:,} {_duration_label(c.width_ns)} candles"
    caption += f"; {len(trades):,} trades."
    candles = {
        "type": "candlestick",
        "name": _plot_text(s.instrument_id),
        "x": _iso(c.ts, zulu=False),
        "open": c.open.tolist(),
        "high": c.high.tolist(),
        "low": c.low.tolist(),
        "close": c.close.tolist(),
        "increasing": {"line": {"color": GREEN, "width": 1}, "fillcolor": GREEN},
        "decreasing": {"line": {"color": RED, "width": 1}, "fillcolor": RED},
        "showlegend": False,
    }
    data = [candles, *(_trade_traces(trades) if trades else [])]
    layout = figure_layout(
        520,
        xaxis={**AXIS, "type": "date", "rangeslider": {"visible": False}},
        yaxis={**AXIS, "title": {"text": "Price"}},
    )
    return {"data": data, "layout": layout}, caption


def _duration_label(ns: int) -> str:
    for unit, name in ((NANOS_PER_DAY, "d"), (NANOS_PER_HOUR, "h"), (NANOS_PER_MINUTE, "m")):
        if ns % unit == 0:
            return f"{ns // unit}{name}"
    return f"{ns / NANOS_PER_SECOND:g}s"


def _calendar_edges(first_ns: int, last_ns: int, unit: str) -> I64:
    """Starts of the calendar periods ("M" months, "Y" years) covering the span, plus the end."""
    first = np.datetime64(first_ns, "ns").astype(f"datetime64[{unit}]")
    last = np.datetime64(last_ns, "ns").astype(f"datetime64[{unit}]")
    return np.arange(first, last + 2).astype("datetime64[ns]").astype(np.int64)


def _monthly_figure(ns: I64, equity: F64) -> dict[str, object]:
    """Years × months heatmap of calendar-month returns, with the calendar-year return beside."""
    month_edges = _calendar_edges(int(ns[0]), int(ns[-1]), "M")
    year_edges = _calendar_edges(int(ns[0]), int(ns[-1]), "Y")
    first_month = int(np.datetime64(int(ns[0]), "ns").astype("datetime64[M]").astype(np.int64))
    first_year = first_month // 12
    years = [str(1970 + first_year + k) for k in range(year_edges.size - 1)]
    z: list[list[float | None]] = [[None] * 12 for _ in years]
    for k, r in enumerate(_period_returns(ns, equity, month_edges)):
        year, month = divmod(first_month + k, 12)
        z[year - first_year][month] = r
    yearly = [[r] for r in _period_returns(ns, equity, year_edges)]

    def cells(
        name: str, x: list[str], values: list[list[float | None]], axis: str
    ) -> dict[str, object]:
        return {
            "type": "heatmap",
            "name": name,
            "xaxis": axis,
            "x": x,
            "y": years,
            "z": values,
            "text": [["" if v is None else f"{v:+.1f}%" for v in row] for row in values],
            "texttemplate": "%{text}",
            "hovertemplate": "%{y} %{x}: %{text}<extra></extra>",
            "colorscale": [[0.0, RED], [0.5, "#f7f7f7"], [1.0, GREEN]],
            "zmid": 0,
            "showscale": False,
            "xgap": 2,
            "ygap": 2,
        }

    # The year column gets its own axis (and so its own colour scale): yearly figures are
    # larger and would wash out the months' colours.
    columns = {"type": "category", "side": "top", "showgrid": False, "fixedrange": True}
    layout = figure_layout(
        60 + 34 * len(years),
        xaxis={**columns, "domain": [0.0, 0.905]},
        xaxis2={**columns, "domain": [0.92, 1.0], "anchor": "y"},
        yaxis={"type": "category", "autorange": "reversed", "showgrid": False, "fixedrange": True},
        margin={"l": 50, "r": 10, "t": 30, "b": 10},
    )
    return {
        "data": [
            cells("Month", list(MONTHS), z, "x"),
            cells("Year", [YEAR_COLUMN], yearly, "x2"),
        ],
        "layout": layout,
        "config": {"displayModeBar": False},
    }


def _json_for_script(obj: object) -> str:
    """JSON safe inside <script>: neither "</" (closes the tag) nor "<!" (comment state) occur.

    Both can only appear inside JSON strings, where the escapes below read back the same text.
    """
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("<!", "\\u003c!")


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

_CSS = """
:root { --fg:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#f5f7fa; --pos:#1e8449; --neg:#c0392b; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif; }
main { max-width:1400px; margin:0 auto; padding:24px 20px 48px; }
header h1 { margin:0 0 6px; font-size:24px; font-weight:650; }
.meta { display:flex; flex-wrap:wrap; gap:6px 22px; color:var(--muted); margin:0 0 18px; }
.meta b { color:var(--fg); font-weight:600; }
section { background:#fff; border:1px solid var(--line); border-radius:8px;
  padding:16px 18px; margin:0 0 18px; box-shadow:0 1px 2px rgba(16,24,40,.04); }
h2 { font-size:16px; margin:0 0 12px; font-weight:650; }
.stats { display:grid; grid-template-columns:repeat(auto-fill,minmax(180px,1fr));
  gap:10px; margin:0; }
.stats div { border:1px solid var(--line); border-radius:6px; padding:8px 12px; }
.stats dt { color:var(--muted); font-size:12px; }
.stats dd { margin:2px 0 0; font-size:18px; font-weight:600; font-variant-numeric:tabular-nums; }
.chart { width:100%; }
.scroll { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:5px 10px; border-bottom:1px solid var(--line); text-align:left;
  white-space:nowrap; }
th { background:#f8f9fb; color:var(--muted); font-weight:600; position:sticky; top:0; }
tbody tr:nth-child(even) { background:#fbfcfd; }
td.num, th.num { text-align:right; }
td.gap { text-align:center; color:var(--muted); font-style:italic; }
pre { margin:0; white-space:pre-wrap; font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace; }
.kv th { width:14em; background:none; position:static; vertical-align:top; }
.kv td { white-space:normal; }
.pos { color:var(--pos); } .neg { color:var(--neg); }
.note { color:var(--muted); margin:0 0 10px; }
"""

_BOOT = """
document.querySelectorAll('script[type="application/json"][data-chart]').forEach(function (n) {
  var fig = JSON.parse(n.textContent);
  var config = Object.assign({responsive: true, displaylogo: false}, fig.config || {});
  Plotly.newPlot(n.dataset.chart, fig.data, fig.layout, config);
});
"""


@cache
def _plotly_bundle() -> str:
    """The plotly.js shipped inside the plotly package, found without importing it (slow)."""
    spec = importlib.util.find_spec("plotly")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        bundle = Path(root) / "package_data" / "plotly.min.js"
        if bundle.is_file():
            return bundle.read_text(encoding="utf-8")
    raise TTQuantError(
        "plotly.min.js not found in the installed 'plotly' package;"
        " reinstall ttquant's dependencies"
    )


def chart_section(title: str, chart_id: str, figure: dict[str, object], caption: str = "") -> str:
    """A titled card holding the chart's div and, beside it, its figure as inert JSON."""
    note = f'<p class="note">{_esc(caption)}</p>' if caption else ""
    return (
        f"<section><h2>{_esc(title)}</h2>{note}"
        f'<div class="chart" id="{chart_id}"></div>'
        f'<script type="application/json" data-chart="{chart_id}">'
        f"{_json_for_script(figure)}</script></section>"
    )


def _strategy_name(config: Mapping[str, object]) -> str:
    value = config.get("strategy")
    if isinstance(value, Mapping):
        value = value.get("name")
    return "—" if value is None else str(value)


def _header(data: ReportData) -> str:
    ids = list(dict.fromkeys([s.instrument_id for s in data.prices]))
    stamps = [a[[0, -1]] for a in (data.equity_ns, *(s.ts for s in data.prices)) if a.size]
    if stamps:
        ends = np.concatenate(stamps).astype(np.int64)
        first, last = _iso(np.array([ends.min(), ends.max()], dtype=np.int64), zulu=True)
        period = f"{first} → {last}"
    else:
        period = "—"
    return (
        f'<header><h1>{_esc(data.title)}</h1><p class="meta">'
        f"<span>Strategy <b>{_esc(_strategy_name(data.config))}</b></span>"
        f"<span>Instruments <b>{_esc(', '.join(ids) or '—')}</b></span>"
        f"<span>Period (UTC) <b>{_esc(period)}</b></span></p></header>"
    )


def stats_section(stats: Sequence[tuple[str, str]]) -> str:
    items = "".join(
        f'<div><dt>{_esc(label)}</dt><dd class="{_sign_class(value)}">{_esc(value)}</dd></div>'
        for label, value in stats
    )
    return f'<section><h2>Statistics</h2><dl class="stats">{items}</dl></section>'


_TRADE_COLUMNS = (
    ("#", True),
    ("Instrument", False),
    ("Side", False),
    ("Qty", True),
    ("Entry (UTC)", False),
    ("Entry price", True),
    ("Exit (UTC)", False),
    ("Exit price", True),
    ("PnL", True),
    ("Fees", True),
    ("Exit reason", False),
)


def _trades_section(trades: Sequence[ReportTrade]) -> str:
    n = len(trades)
    if n > 2 * TRADE_ROWS_EACH_END:
        shown = [*range(TRADE_ROWS_EACH_END), *range(n - TRADE_ROWS_EACH_END, n)]
        note = f"Showing the first and last {TRADE_ROWS_EACH_END} of {n:,} trades."
    else:
        shown = list(range(n))
        note = f"{n:,} trades." if n else "No trades."
    entry = _iso(np.array([trades[i].entry_ns for i in shown], dtype=np.int64), zulu=True)
    exit_ = _iso(np.array([trades[i].exit_ns for i in shown], dtype=np.int64), zulu=True)
    head = "".join(
        f'<th class="{"num" if num else ""}">{name}</th>' for name, num in _TRADE_COLUMNS
    )
    rows: list[str] = []
    for k, i in enumerate(shown):
        if k and i != shown[k - 1] + 1:
            rows.append(
                f'<tr><td class="gap" colspan="{len(_TRADE_COLUMNS)}">'
                f"… {i - shown[k - 1] - 1:,} trades not shown …</td></tr>"
            )
        t = trades[i]
        rows.append(
            f'<tr><td class="num">{i + 1}</td><td>{_esc(t.instrument_id)}</td>'
            f'<td class="{"pos" if t.side == "long" else "neg"}">{_esc(t.side)}</td>'
            f'<td class="num">{_num(t.qty)}</td><td>{entry[k]}</td>'
            f'<td class="num">{_num(t.entry_price)}</td><td>{exit_[k]}</td>'
            f'<td class="num">{_num(t.exit_price)}</td>'
            f'<td class="num {_value_class(t.pnl)}">{t.pnl:+,.2f}</td>'
            f'<td class="num">{_num(t.fees)}</td><td>{_esc(t.exit_reason)}</td></tr>'
        )
    table = (
        (
            f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )
        if n
        else ""
    )
    return f'<section><h2>Trades</h2><p class="note">{note}</p>{table}</section>'


_PALETTE = ("#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d")


def _strategy_figure(ns: I64, strategies: Sequence[ReportStrategy]) -> dict[str, object]:
    data = []
    for k, s in enumerate(strategies):
        x, y = _decimate_minmax(ns, s.pnl_path)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": s.strategy_id,
                "x": _iso(x, zulu=False),
                "y": y.tolist(),
                "line": {"color": _PALETTE[k % len(_PALETTE)], "width": 1.3},
            }
        )
    layout = figure_layout(
        380,
        xaxis={**AXIS, "type": "date"},
        yaxis={**AXIS, "title": {"text": "PnL"}},
    )
    return {"data": data, "layout": layout}


_STRATEGY_COLUMNS = (
    ("Strategy", False),
    ("Capital", True),
    ("Trades", True),
    ("Win %", True),
    ("Realized", True),
    ("Unrealized", True),
    ("Fees", True),
    ("PnL", True),
    ("Return %", True),
    ("Max DD %", True),
    ("Orders", True),
    ("Denied", True),
)


def _strategies_section(strategies: Sequence[ReportStrategy]) -> str:
    """Each strategy's part of the account; the PnL column adds up to the account's."""
    head = "".join(
        f'<th class="{"num" if num else ""}">{name}</th>' for name, num in _STRATEGY_COLUMNS
    )

    def opt(value: float | None, fmt: str) -> str:
        return "—" if value is None else format(value, fmt)

    rows = "".join(
        f"<tr><td>{_esc(s.strategy_id)}</td>"
        f'<td class="num">{opt(s.capital, ",.2f")}</td><td class="num">{s.trades:,}</td>'
        f'<td class="num">{opt(s.wins / s.trades * 100.0 if s.trades else None, ".1f")}</td>'
        f'<td class="num {_value_class(s.realized)}">{s.realized:+,.2f}</td>'
        f'<td class="num {_value_class(s.unrealized)}">{s.unrealized:+,.2f}</td>'
        f'<td class="num">{s.commissions:,.2f}</td>'
        f'<td class="num {_value_class(s.pnl)}">{s.pnl:+,.2f}</td>'
        f'<td class="num">{opt(s.return_pct, "+.2f")}</td>'
        f'<td class="num">{opt(s.max_drawdown_pct, ".2f")}</td>'
        f'<td class="num">{s.orders:,}</td><td class="num">{s.denied:,}</td></tr>'
        for s in strategies
    )
    total = sum(s.pnl for s in strategies)
    note = (
        f"PnL per strategy (realized net of fees, plus unrealized); together {total:+,.2f}. "
        "Denied: orders the risk engine refused."
    )
    return (
        f'<section><h2>Strategies</h2><p class="note">{_esc(note)}</p><div class="scroll">'
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div></section>"
    )


def _config_section(config: Mapping[str, object]) -> str:
    def cell(value: object) -> str:
        if value is None or isinstance(value, str | int | float | bool):
            return _esc(value)
        return f"<pre>{_esc(json.dumps(value, indent=2, default=str, ensure_ascii=False))}</pre>"

    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{cell(v)}</td></tr>" for k, v in config.items())
    body = (
        f'<table class="kv"><tbody>{rows}</tbody></table>' if rows else '<p class="note">Empty.</p>'
    )
    return f'<section><h2>Run config</h2><div class="scroll">{body}</div></section>'


def tearsheet_sections(data: ReportData) -> list[str]:
    """The backtest tearsheet as page sections, for :func:`render_page` (alone or embedded).

    Its charts use the ids ``chart-equity``, ``chart-strategies``, ``chart-price-<k>`` and
    ``chart-monthly``.
    """
    _validate(data)
    parts = [_header(data), stats_section(data.statistics)]
    if data.equity.size:
        figure = _equity_figure(data.equity_ns, data.equity)
        parts.append(chart_section("Equity and drawdown", "chart-equity", figure))
    if data.strategies:
        parts.append(_strategies_section(data.strategies))
        if len(data.strategies) > 1 and data.equity.size:
            figure = _strategy_figure(data.equity_ns, data.strategies)
            parts.append(chart_section("PnL by strategy", "chart-strategies", figure))
    by_instrument: dict[str, list[ReportTrade]] = {}
    for t in data.trades:
        by_instrument.setdefault(t.instrument_id, []).append(t)
    for k, s in enumerate(data.prices):
        if s.ts.size:
            figure, caption = _price_figure(s, by_instrument.get(s.instrument_id, []))
            parts.append(chart_section(s.instrument_id, f"chart-price-{k}", figure, caption))
    if data.equity.size:
        figure = _monthly_figure(data.equity_ns, data.equity)
        parts.append(chart_section("Monthly returns (%)", "chart-monthly", figure))
    parts += [_trades_section(data.trades), _config_section(data.config)]
    return parts


def render_page(title: str, sections: Sequence[str]) -> str:
    """One self-contained HTML document of ``sections`` with plotly.js embedded."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head>\n<body><main>\n"
        + "\n".join(sections)
        + f"\n</main>\n<script>{_plotly_bundle()}</script>\n<script>{_BOOT}</script>\n"
        "</body></html>\n"
    )


def render_report(data: ReportData) -> str:
    """The complete report as one HTML document with plotly.js embedded."""
    return render_page(data.title, tearsheet_sections(data))


def write_report(path: str | Path, data: ReportData) -> None:
    write_page(path, data.title, tearsheet_sections(data))


def write_page(path: str | Path, title: str, sections: Sequence[str]) -> None:
    """Render and write atomically, so a crash or a reader never sees half a report."""
    target = Path(path)
    text = render_page(title, sections)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"report {target}: cannot write it ({exc.strerror})") from exc
