"""The offline HTML report: self-contained, escaped, and every chart's numbers traceable to inputs.

References are independent of the code under test: pandas resampling for candles, a plain loop
for the maximum drawdown, hand-computed monthly returns, and the stdlib HTML parser for structure.
"""

from __future__ import annotations

import importlib.resources
import json
import shutil
import subprocess
import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttquant.analytics.report import (
    PriceSeries,
    ReportData,
    ReportTrade,
    _decimate_minmax,
    _monthly_figure,
    _resample_ohlc,
    render_report,
    write_report,
)
from ttquant.core.errors import ConfigError, DataError

SHARED_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
MINUTE = 60_000_000_000
DAY = 1440 * MINUTE


def ns(text: str) -> int:
    dt = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000_000


class Page(HTMLParser):
    """Tags, their attributes, visible text and each chart's JSON, as a browser would split them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.text: list[str] = []
        self._script: dict[str, str | None] | None = None
        self._buf: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script, self._buf = dict(attrs), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._buf)))
            self._script = None

    def handle_data(self, data: str) -> None:
        (self._buf if self._script is not None else self.text).append(data)

    @property
    def charts(self) -> dict[str, Any]:
        return {
            str(attrs["data-chart"]): json.loads(body)
            for attrs, body in self.scripts
            if "data-chart" in attrs
        }

    @property
    def visible_text(self) -> str:
        return " ".join(self.text)


def trace(figure: Any, name: str) -> Any:
    """The one trace called ``name``: figures are untyped JSON, as the browser gets them."""
    traces = [t for t in figure["data"] if t.get("name") == name]
    assert len(traces) == 1, f"expected one trace named {name!r}"
    return traces[0]


def series(
    instrument: str, ts: np.ndarray, close: np.ndarray, rng: np.random.Generator
) -> PriceSeries:
    """Bars around a close path with highs/lows strictly outside open/close."""
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) + rng.uniform(0.01, 1.0, close.size)
    low = np.minimum(open_, close) - rng.uniform(0.01, 1.0, close.size)
    return PriceSeries(instrument, ts.astype(np.int64), open_, high, low, close)


def trade(
    instrument: str, side: str, times: tuple[int, int], prices: tuple[float, float]
) -> ReportTrade:
    """A 2-unit round trip whose pnl is worked out here, by hand, from side and prices."""
    sign = 1.0 if side == "long" else -1.0
    (entry, exit_), (pe, px) = times, prices
    return ReportTrade(
        instrument, side, 2.0, entry, exit_, pe, px, sign * 2.0 * (px - pe), 0.1, "tp"
    )


def report(**overrides: object) -> ReportData:
    rng = np.random.default_rng(7)
    ts = ns("2024-01-01") + np.arange(500, dtype=np.int64) * MINUTE
    close = 100 + np.cumsum(rng.normal(0, 0.5, ts.size))
    fields: dict[str, Any] = {
        "title": "Demo run",
        "statistics": [("Total return", "+12.5%"), ("Max drawdown", "-3.2%"), ("Trades", "4")],
        "equity_ns": ts,
        "equity": 10_000 + np.cumsum(rng.normal(0, 5, ts.size)),
        "prices": [series("BTCUSDT", ts, close, rng)],
        "trades": [],
        "config": {"strategy": "sma_cross", "params": {"fast": 10, "slow": 30}},
    }
    fields.update(overrides)
    return ReportData(**fields)


# ---------------------------------------------------------------------------------------------
# Self-contained, parseable, escaped
# ---------------------------------------------------------------------------------------------


def test_embeds_plotly_and_references_nothing_external() -> None:
    text = render_report(report())
    bundle = (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_text(
        encoding="utf-8"
    )
    assert bundle in text
    page = Page(text)
    for tag, attrs in page.tags:
        for key in ("src", "href"):
            value = (attrs.get(key) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), f"<{tag} {key}={value}>"
    assert not [t for t, a in page.tags if t == "link"]
    assert all("src" not in attrs for attrs, _ in page.scripts)
    assert set(page.charts) == {"chart-equity", "chart-price-0", "chart-monthly"}


def test_header_statistics_and_config_are_shown() -> None:
    page = Page(render_report(report()))
    words = page.visible_text
    for needle in (
        "Demo run",
        "sma_cross",
        "BTCUSDT",
        "2024-01-01T00:00:00Z",
        "2024-01-01T08:19:00Z",
    ):
        assert needle in words
    assert "Total return" in words and "+12.5%" in words
    classes = {attrs.get("class") for tag, attrs in page.tags if tag == "dd"}
    assert {"pos", "neg", ""} <= classes
    assert '"fast": 10' in words


def test_user_text_is_escaped_everywhere() -> None:
    evil = "<script>alert(1)</script>"
    data = report(
        title=evil,
        config={"strategy": evil, "note": f"a & b {evil}"},
        statistics=[(evil, evil)],
        prices=[
            series("X<b>", np.array([ns("2024-01-01")]), np.array([1.0]), np.random.default_rng(1))
        ],
        trades=[
            ReportTrade(
                "X<b>", "long", 1.0, ns("2024-01-01"), ns("2024-01-01"), 1.0, 1.0, 0.0, 0.0, evil
            )
        ],
    )
    text = render_report(data)
    assert "<script>alert(1)" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    page = Page(text)
    # Only the charts, the bundle and the boot script: the title made no script of its own.
    assert len(page.scripts) == len(page.charts) + 2
    assert page.visible_text.count(evil) >= 4  # title, strategy, statistic label and value
    exit_hover = trace(page.charts["chart-price-0"], "Exit")["hovertext"]
    assert "&lt;script&gt;" in exit_hover[0]


# ---------------------------------------------------------------------------------------------
# Chart data against independent references
# ---------------------------------------------------------------------------------------------


def pandas_ohlc(s: PriceSeries, width_ns: int) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"open": s.open, "high": s.high, "low": s.low, "close": s.close},
        index=pd.to_datetime(s.ts, unit="ns"),
    )
    agg = frame.resample(pd.Timedelta(width_ns, "ns"), origin="epoch").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last"}
    )
    return agg.dropna()


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.integers(1, 4000), min_size=1, max_size=400),
    start=st.integers(0, 400_000),
    limit=st.integers(2, 60),
    seed=st.integers(0, 2**32 - 1),
)
def test_resampled_candles_match_pandas(
    steps: list[int], start: int, limit: int, seed: int
) -> None:
    ts = (start + np.cumsum(steps)) * MINUTE
    rng = np.random.default_rng(seed)
    s = series("X", ts, 100 + np.cumsum(rng.normal(0, 1, ts.size)), rng)
    c = _resample_ohlc(s, limit)
    assert c.ts.size <= limit
    if c.width_ns == 0:
        assert ts.size <= limit and np.array_equal(c.high, s.high)
        return
    ref = pandas_ohlc(s, c.width_ns)
    np.testing.assert_array_equal(c.ts, ref.index.asi8)
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(c, column), ref[column].to_numpy())


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=2000),
    limit=st.integers(4, 300),
)
def test_decimation_keeps_extremes_order_and_ends(values: list[float], limit: int) -> None:
    y = np.array(values)
    x = np.arange(y.size, dtype=np.int64) * 7
    dx, dy = _decimate_minmax(x, y, limit)
    assert dx.size <= limit
    assert np.all(np.diff(dx) > 0)
    assert dx[0] == x[0] and dx[-1] == x[-1]
    np.testing.assert_array_equal(dy, y[dx // 7])  # every kept point is an input point
    assert dy.max() == y.max() and dy.min() == y.min()


def test_drawdown_trough_survives_decimation() -> None:
    rng = np.random.default_rng(3)
    n = 60_000
    ts = ns("2023-06-01") + np.arange(n, dtype=np.int64) * MINUTE
    equity = 10_000 * np.exp(np.cumsum(rng.normal(0, 2e-3, n)))
    peak, worst = equity[0], 0.0
    for value in equity:  # the textbook definition, one step at a time
        peak = max(peak, value)
        worst = min(worst, (value - peak) / peak * 100)
    fig = Page(render_report(report(equity_ns=ts, equity=equity, prices=[]))).charts["chart-equity"]
    drawdown = np.array(trace(fig, "Drawdown %")["y"])
    equity_line = np.array(trace(fig, "Equity")["y"])
    assert drawdown.size <= 5_000 and equity_line.size <= 5_000
    assert drawdown.min() == pytest.approx(worst, rel=1e-12)
    assert drawdown.max() <= 0.0
    assert equity_line.max() == equity.max() and equity_line.min() == equity.min()
    assert trace(fig, "Equity")["x"][0] == "2023-06-01T00:00:00"


def test_monthly_returns_across_a_year_boundary_with_a_missing_month() -> None:
    # Dec 2023: 100 -> 110 (+10%), Jan 2024: no data, Feb 2024: 110 -> 99 (-10%),
    # Mar 2024: 99 -> 118.8 (+20%). Year 2023: +10%; 2024: 118.8 / 110 - 1 = +8%.
    stamps = [
        "2023-12-15",
        "2023-12-31T23:59:00",
        "2024-02-01",
        "2024-02-29T12:00:00",
        "2024-03-31T23:00:00",
    ]
    equity = np.array([100.0, 110.0, 104.5, 99.0, 118.8])
    ts = np.array([ns(s) for s in stamps], dtype=np.int64)
    fig = Page(render_report(report(equity_ns=ts, equity=equity, prices=[]))).charts[
        "chart-monthly"
    ]
    months, years = trace(fig, "Month"), trace(fig, "Year")
    assert months["y"] == ["2023", "2024"] and years["x"] == ["Year"]
    z = months["z"]
    nan = None
    expected = [[nan] * 11 + [10.0], [nan, -10.0, 20.0] + [nan] * 9]
    for row, ref in zip(z, expected, strict=True):
        assert row == pytest.approx(ref)
    assert years["z"] == [[pytest.approx(10.0)], [pytest.approx(8.0)]]
    assert months["text"][0][11] == "+10.0%"


@settings(max_examples=40, deadline=None)
@given(
    gaps_h=st.lists(st.integers(1, 24 * 90), min_size=1, max_size=60),
    seed=st.integers(0, 2**32 - 1),
)
def test_months_compound_to_years_and_years_to_the_whole(gaps_h: list[int], seed: int) -> None:
    ts = ns("2021-11-20") + np.cumsum([0, *gaps_h]).astype(np.int64) * 3_600_000_000_000
    equity = 1_000 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.05, ts.size)))
    fig = _monthly_figure(ts, equity)
    months, years = trace(fig, "Month")["z"], trace(fig, "Year")["z"]
    for row, (year,) in zip(months, years, strict=True):
        growth = np.prod([1 + r / 100 for r in row if r is not None])
        assert (growth - 1) * 100 == pytest.approx(year, abs=1e-9)
    whole = np.prod([1 + y / 100 for (y,) in years]) - 1
    assert whole == pytest.approx(equity[-1] / equity[0] - 1, rel=1e-9, abs=1e-12)


def test_trade_markers_and_links_match_trades() -> None:
    rng = np.random.default_rng(5)
    ts = ns("2024-03-01") + np.arange(300, dtype=np.int64) * MINUTE
    a = series("AAA", ts, 50 + np.cumsum(rng.normal(0, 0.2, ts.size)), rng)
    b = series("BBB", ts, 10 + np.cumsum(rng.normal(0, 0.1, ts.size)), rng)
    trades = [
        trade("AAA", "long", (int(ts[10]), int(ts[20])), (50.0, 51.0)),
        trade("AAA", "short", (int(ts[30]), int(ts[40])), (50.0, 51.5)),
        trade("AAA", "long", (int(ts[50]), int(ts[60])), (52.0, 51.0)),
        trade("BBB", "short", (int(ts[5]), int(ts[9])), (10.0, 9.5)),
        trade("AAA", "short", (int(ts[70]), int(ts[71])), (49.0, 48.0)),
    ]
    charts = Page(render_report(report(prices=[a, b], trades=trades))).charts
    fa, fb = charts["chart-price-0"], charts["chart-price-1"]
    assert len(trace(fa, "Long entry")["x"]) == 2
    assert len(trace(fa, "Short entry")["x"]) == 2
    assert len(trace(fa, "Exit")["x"]) == 4
    assert len(trace(fb, "Short entry")["x"]) == 1 and len(trace(fb, "Exit")["x"]) == 1
    assert trace(fa, "Winning trade")["x"].count(None) == 2
    assert trace(fa, "Losing trade")["x"].count(None) == 2
    assert trace(fa, "Short entry")["y"] == [50.0, 49.0]
    assert trace(fa, "Exit")["x"][1] == "2024-03-01T00:40:00"
    hover = trace(fa, "Exit")["hovertext"][1]
    for needle in ("short", "2", "50", "51.5", "-3.00", "tp", "2024-03-01T00:30:00Z"):
        assert needle in hover


def test_many_trades_table_shows_both_ends() -> None:
    ts = ns("2024-01-01") + np.arange(2_000, dtype=np.int64) * MINUTE
    trades = [
        trade("BTCUSDT", "long", (int(ts[i]), int(ts[i + 1])), (100.0, 101.0)) for i in range(250)
    ]
    page = Page(
        render_report(
            report(
                equity_ns=ts,
                equity=np.linspace(1, 2, ts.size),
                prices=[
                    series("BTCUSDT", ts, np.linspace(99, 102, ts.size), np.random.default_rng(0))
                ],
                trades=trades,
            )
        )
    )
    rows = [attrs for tag, attrs in page.tags if tag == "tr"]
    assert len(rows) == 1 + 200 + 1 + 2  # header, shown trades, gap row, config rows
    assert "50 trades not shown" in page.visible_text
    assert len(trace(page.charts["chart-price-0"], "Exit")["x"]) == 250


def test_empty_trades_single_bar_and_no_equity_render() -> None:
    one = series("ONE", np.array([ns("2024-05-05")]), np.array([3.0]), np.random.default_rng(0))
    page = Page(
        render_report(
            report(
                trades=[],
                prices=[one],
                equity_ns=np.array([ns("2024-05-05")]),
                equity=np.array([5.0]),
            )
        )
    )
    fig = page.charts["chart-price-0"]
    assert [t["name"] for t in fig["data"]] == ["ONE"]
    assert trace(fig, "ONE")["close"] == [3.0]
    assert trace(page.charts["chart-monthly"], "Month")["z"] == [[None] * 4 + [0.0] + [None] * 7]
    assert "No trades." in page.visible_text
    empty = report(
        equity_ns=np.array([], dtype=np.int64), equity=np.array([]), prices=[], trades=[]
    )
    assert Page(render_report(empty)).charts == {}


# ---------------------------------------------------------------------------------------------
# Bad input and writing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"equity": np.ones(3)}, "report equity: 500 timestamps but 3 values"),
        ({"equity_ns": np.zeros(500, dtype=np.int64)}, "not strictly increasing at index 1"),
        ({"equity": np.full(500, np.nan)}, "non-finite value nan at index 0"),
        ({"trades": [trade("ETH", "long", (0, 1), (1.0, 1.0))]}, "trade #0 (ETH): no price series"),
        ({"trades": [trade("BTCUSDT", "flat", (0, 1), (1.0, 1.0))]}, "side 'flat'"),
    ],
)
def test_inconsistent_input_is_rejected(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        render_report(report(**overrides))


def test_write_is_atomic_and_reports_unwritable_paths(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    write_report(target, report())
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    with pytest.raises(ConfigError, match=r"missing/report\.html: cannot write it"):
        write_report(tmp_path / "missing" / "report.html", report())


# ---------------------------------------------------------------------------------------------
# Real data at full size, and a real browser when one is installed
# ---------------------------------------------------------------------------------------------


def load_btc() -> PriceSeries:
    path = SHARED_DATA / "bars_1m" / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz"
    assert path.is_file(), (
        f"shared real data missing: {path} (expected ../shared/data beside the repo)"
    )
    frame = pl.read_csv(path)
    column = {k: frame[k].to_numpy().astype(np.float64) for k in ("open", "high", "low", "close")}
    return PriceSeries("BTCUSDT", frame["ts"].to_numpy().astype(np.int64) * 1_000_000, **column)


def test_full_btc_history_renders_fast_small_and_exact() -> None:
    btc = load_btc()
    rng = np.random.default_rng(11)
    entries = np.sort(rng.choice(btc.ts.size - 60, 10_000, replace=False))
    trades = [
        trade(
            "BTCUSDT",
            "long" if k % 3 else "short",
            (int(btc.ts[i]), int(btc.ts[i + 30])),
            (float(btc.close[i]), float(btc.close[i + 30])),
        )
        for k, i in enumerate(entries)
    ]
    equity = 10_000 * np.exp(np.cumsum(rng.normal(0, 1e-4, btc.ts.size)))
    data = report(equity_ns=btc.ts, equity=equity, prices=[btc], trades=trades)
    render_report(data)  # first call also reads the plotly bundle from disk
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        text = render_report(data)
        seconds.append(time.perf_counter() - start)
    assert btc.ts.size > 1_500_000
    assert min(seconds) < 1.0, f"render took {min(seconds):.2f}s"
    assert len(text.encode()) < 12_000_000
    fig = Page(text).charts["chart-price-0"]
    candles = trace(fig, "BTCUSDT")
    assert len(candles["x"]) <= 3_000
    assert max(candles["high"]) == btc.high.max()
    assert min(candles["low"]) == btc.low.min()
    width = int(np.diff(np.array(candles["x"], dtype="datetime64[ns]").astype(np.int64)).min())
    ref = pandas_ohlc(btc, width)
    assert candles["close"] == ref["close"].tolist() and candles["open"] == ref["open"].tolist()
    assert candles["high"] == ref["high"].tolist() and candles["low"] == ref["low"].tolist()
    assert len(trace(fig, "Exit")["x"]) == 10_000


CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_headless_chromium_draws_the_report(tmp_path: Path) -> None:
    html_file, png = tmp_path / "report.html", tmp_path / "shot.png"
    write_report(html_file, report())
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--window-size=1280,2400",
            "--virtual-time-budget=5000",
            f"--screenshot={png}",
            html_file.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    assert png.stat().st_size > 20_000
