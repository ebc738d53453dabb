"""The dashboard end to end: Chromium signs in with a token and operates a paper kernel that
trades real BTC/USDT bars behind a real API server; each view is checked against the API (or an
independent computation) and photographed into tests/browser/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pytest
from playwright.sync_api import Page, expect
from tests._paper_api import BTC, START_CASH, STRATEGY_ID, PaperApi
from tests.browser.conftest import screenshot
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.browser

SignIn = Callable[[str], Page]
TIMEOUT_MS = 20_000


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _limit_order(price: float, quantity: float = 0.01) -> dict[str, Any]:
    return {
        "instrument_id": BTC,
        "side": "buy",
        "quantity": quantity,
        "order_type": "limit",
        "price": price,
    }


def _far_below(paper: PaperApi) -> float:
    with paper.client() as c:
        last: float = c.get("/market/ticker", params={"instrument_id": BTC}).json()["last"]
    return round(last * 0.5, 2)


def test_sign_in_refuses_a_bad_token_and_works_offline(page: Page, paper: PaperApi) -> None:
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(paper.base + "/")
    assert page.url == paper.url  # / redirects to the app
    page.fill("#login-token", "ttq_" + "x" * 43)
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_contain_text("not valid")
    token = paper.token("trader")
    page.fill("#login-token", token)
    page.click("#login-submit")
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#mode-badge")).to_have_text("PAPER")
    expect(page.locator("#node-state")).to_have_text("running")
    expect(page.locator("#venue-status")).to_have_text("connected", timeout=TIMEOUT_MS)
    expect(page.locator("#ws-status")).to_have_text("live")
    expect(page.locator("#who")).to_contain_text("trader")
    stored = page.evaluate("JSON.stringify(sessionStorage)")
    assert token not in stored  # a session (JWT), not the token, is kept, and only in this tab
    assert requested and all(u.startswith(paper.base) for u in requested), requested  # no CDN


def test_positions_and_pnl_update_live(signed_in: SignIn, paper: PaperApi) -> None:
    page = signed_in("read_only")
    fills = page.locator("#fills tbody tr:not(:has(td.empty))")
    seen_equity: set[str] = set()
    first = fills.count()
    for _ in range(200):  # watch without reloading: new fills and new equity values arrive
        seen_equity.add(page.inner_text("#tile-equity"))
        if fills.count() >= first + 3 and len(seen_equity) >= 3:
            break
        page.wait_for_timeout(100)
    assert fills.count() >= first + 3 and len(seen_equity) >= 3, (fills.count(), seen_equity)
    page.select_option("#chart-interval", "5")
    paper.feeder.pause()
    try:
        with paper.client() as c:
            positions = c.get("/positions").json()
            pnl = c.get("/pnl").json()
            all_fills = c.get("/fills", params={"limit": 10_000}).json()
        # the node's equity, rebuilt from its fills and the last price alone
        signed = [(1 if f["side"] == "buy" else -1) * f["qty"] for f in all_fills]
        spent = [q * f["price"] + f["commission"] for q, f in zip(signed, all_fills, strict=True)]
        cash = START_CASH - sum(spent)
        equity = cash + sum(signed) * paper.kernel.cache.price(BTC)
        assert pnl["equity"] == pytest.approx(equity, rel=1e-12)
        expect(page.locator("#tile-equity")).to_have_text(f"{equity:,.2f}")
        rows = page.locator("#positions tbody tr[data-instrument]")
        expect(rows).to_have_count(len([p for p in positions if p["quantity"] != 0]))
        for p in positions:
            row = page.locator(f"#positions tr[data-strategy='{p['strategy_id']}']")
            expect(row.locator("td").nth(3)).to_have_text(f"{p['quantity']:g}")
            expect(row.get_by_role("button", name="Close")).to_be_disabled()  # read-only token
        newest = all_fills[-1]
        expect(fills.first.locator("td").nth(5)).to_have_text(f"{newest['price']:,.2f}")
        expect(page.locator("#kill-switch")).to_be_disabled()
        expect(page.locator("#ticket-submit")).to_be_disabled()
        screenshot(page, "trading")
    finally:
        paper.feeder.resume()


def test_manual_order_is_placed_and_canceled(signed_in: SignIn, paper: PaperApi) -> None:
    page = signed_in("trader")
    page.fill("#ticket-instrument", BTC)
    page.select_option("#ticket-side", "buy")
    page.select_option("#ticket-type", "limit")
    page.fill("#ticket-qty", "0.01")
    page.fill("#ticket-price", str(_far_below(paper)))
    page.click("#ticket-submit")
    result = page.locator("#ticket-result")
    expect(result).to_contain_text("accepted")
    order_id = result.get_attribute("data-order")
    assert order_id is not None and order_id in paper.open_orders()
    row = page.locator(f"#orders tr[data-order='{order_id}']")
    expect(row).to_be_visible()
    screenshot(page, "order-ticket")
    row.get_by_role("button", name="Cancel").click()
    expect(row).to_have_count(0)
    assert order_id not in paper.open_orders()
    with paper.client() as c:
        statuses = {o["client_order_id"]: o["status"] for o in c.get("/orders").json()}
    assert statuses[order_id] == "CANCELED"
    page.fill("#ticket-qty", "9")  # above the risk engine's max_order_qty of 5
    page.click("#ticket-submit")
    expect(result).to_contain_text("denied")


def test_kill_switch_cancels_every_open_order(signed_in: SignIn, paper: PaperApi) -> None:
    page = signed_in("trader")
    price = _far_below(paper)
    with paper.client(paper.token("trader")) as c:
        resting = [c.post("/orders", json=_limit_order(price - k)).json() for k in range(3)]
    ids = [o["client_order_id"] for o in resting]
    for order_id in ids:
        expect(page.locator(f"#orders tr[data-order='{order_id}']")).to_be_visible()
    try:
        page.click("#kill-switch")
        expect(page.locator("#confirm")).to_be_visible()
        page.click("#confirm-no")  # changing one's mind changes nothing
        expect(page.locator("#confirm")).to_be_hidden()
        assert set(ids) <= set(paper.open_orders())
        page.click("#kill-switch")
        expect(page.locator("#confirm-title")).to_have_text("Kill switch")
        page.click("#confirm-yes")
        expect(page.locator("#banner")).to_contain_text("KILL SWITCH ON")
        expect(page.locator("#orders td.empty")).to_have_text("no open orders")
        expect(page.locator("#kill-switch")).to_have_text("Release kill switch")
        expect(page.locator("#kill-switch")).to_be_disabled()  # releasing needs admin
        assert paper.open_orders() == []
        with paper.client() as c:
            statuses = {o["client_order_id"]: o["status"] for o in c.get("/orders").json()}
            risk = c.get("/risk").json()
        assert [statuses[i] for i in ids] == ["CANCELED"] * 3
        assert risk["kill_switch"] and risk["state"] == "HALTED"
        screenshot(page, "kill-switch")
    finally:
        with paper.client() as c:
            c.post("/risk/kill-switch", json={"active": False})


def test_backtest_run_opens_and_two_runs_compare(signed_in: SignIn, paper: PaperApi) -> None:
    page = signed_in("read_only")
    page.click("button[data-tab=backtests]")
    a, b = paper.run_ids
    with paper.client() as c:
        run_a, run_b = c.get(f"/runs/{a}").json(), c.get(f"/runs/{b}").json()
        curve = c.get(f"/runs/{a}/equity", params={"points": 1500}).json()
    page.locator(f"#runs tr[data-run='{a}'] a").click()
    expect(page.locator("#run-title")).to_contain_text(a)
    trades = page.locator("#run-stats tr[data-stat='n_trades'] td").nth(1)
    assert _number(trades.inner_text()) == run_a["statistics"]["n_trades"]
    # the drawdown chart's series: the page's own function against numpy
    points = [[t / 1e6, v] for t, v in zip(curve["ts_ns"], curve["equity"], strict=True)]
    drawn = page.evaluate(
        "async (pts) => (await import('./js/charts.js')).drawdown(pts).map((p) => p[1])", points
    )
    equity = np.array(curve["equity"])
    np.testing.assert_allclose(drawn, equity / np.maximum.accumulate(equity) - 1, atol=1e-12)
    screenshot(page, "backtest-run")
    page.locator(f"#runs tr[data-run='{a}'] input").check()
    page.locator(f"#runs tr[data-run='{b}'] input").check()
    page.click("#runs-compare")
    expect(page.locator("#compare-title")).to_contain_text(b)
    key = "total_return_pct"
    delta = page.locator(f"#compare-stats tr[data-stat='{key}'] td").nth(3).inner_text()
    expected = run_b["statistics"][key] - run_a["statistics"][key]
    assert _number(delta) == pytest.approx(expected, abs=1e-4)
    expect(page.locator("#compare-config")).to_contain_text("fast")
    screenshot(page, "backtest-compare")


def test_strategy_console_risk_panel_and_logs(signed_in: SignIn, paper: PaperApi) -> None:
    page = signed_in("trader")
    page.click("button[data-tab=strategies]")
    row = page.locator(f"#strategies tr[data-strategy='{STRATEGY_ID}']")
    expect(row).to_contain_text("sma_cross")
    row.get_by_role("button", name="Parameters").click()
    fast = page.locator("#params-form label", has_text="fast")
    expect(fast.locator(".tag")).to_have_text("restart")  # this node hot-reloads nothing
    fast.locator("input").fill("4")
    page.click("#params-apply")
    expect(page.locator("#params-result")).to_contain_text("need a restart")
    screenshot(page, "strategies")
    page.click("button[data-tab=risk]")
    expect(page.locator("#risk-state")).to_have_text("ACTIVE")
    limit = page.locator("#risk-limits tr[data-limit='max_open_orders'] td")
    expect(limit.nth(2)).to_have_text("25")
    paper.feeder.pause()  # the strategy's market orders come and go with the bars
    try:  # utilization: the open orders the page knows of, as many as the kernel has
        expect(limit.nth(1)).to_have_text(str(len(paper.open_orders())))
    finally:
        paper.feeder.resume()
    screenshot(page, "risk")
    page.click("button[data-tab=alerts]")
    expect(page.locator("#logs tbody")).to_contain_text("request", timeout=TIMEOUT_MS)
    screenshot(page, "alerts-logs")


def test_candles_from_real_trades_match_a_polars_resample(page: Page, paper: PaperApi) -> None:
    trades = (
        pl.read_csv(
            SHARED_DATA / "ticks" / "binance_BTC_trades_20240808-09.csv.gz",
            schema_overrides={"price": pl.Float64, "qty": pl.Float64},
        )
        .filter(pl.col("market") == "spot")
        .sort("trade_ts_ms", maintain_order=True)
        .head(5000)
    )
    reference = (
        trades.with_columns((pl.col("trade_ts_ms") // 60_000 * 60_000).alias("t"))
        .group_by("t", maintain_order=True)
        .agg(
            pl.col("price").first().alias("o"),
            pl.col("price").max().alias("h"),
            pl.col("price").min().alias("l"),
            pl.col("price").last().alias("c"),
        )
        .sort("t")
    )
    page.goto(paper.url)
    ticks = list(zip(trades["trade_ts_ms"].to_list(), trades["price"].to_list(), strict=True))
    candles = page.evaluate(
        """async (ticks) => {
            const { CandleSeries } = await import('./js/charts.js');
            const series = new CandleSeries(60000, 100000);
            for (const [t, p] of ticks) series.addTick(t, p);
            return series.values();
        }""",
        ticks,
    )
    got = pl.DataFrame(candles).select("t", "o", "h", "l", "c")
    assert got.to_dicts() == reference.to_dicts()
