"""``ttq trade`` as a user runs it: a separate process talking to a real API server on loopback,
over a paper kernel trading real BTC/USDT bars."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._paper_api import BTC, START_CASH, PaperApi, paper_api
from tests.conftest import REPO
from tests.integration._nodekit import wait_for

ORDER_ID = re.compile(r"order (\S+) (ACCEPTED|CANCELED|DENIED|FILLED)")


@pytest.fixture(scope="module")
def paper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaperApi]:
    with paper_api(tmp_path_factory.mktemp("trade_cli")) as api:
        yield api


def ttq(
    paper: PaperApi, token: str | None, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TTQ_API_URL": paper.base, "COLUMNS": "200"}
    env.pop("TTQ_API_TOKEN", None)
    if token is not None:
        env["TTQ_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "ttquant.cli.main", "trade", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def _placed(result: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    found = ORDER_ID.search(result.stdout)
    assert found, result.stdout + result.stderr
    return found.group(1), found.group(2)


def _one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and text in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_reads_show_the_nodes_state(paper: PaperApi) -> None:
    viewer = paper.token("read_only")
    with paper.client() as c:  # let the strategy trade a little first
        wait_for(lambda: len(c.get("/fills").json()) >= 2, 30, "the strategy's fills")
    paper.feeder.pause()
    try:
        with paper.client() as c:
            fills = c.get("/fills", params={"limit": 10_000}).json()
            balances = c.get("/balances").json()
        shown = ttq(paper, viewer, "--json", "fills", "--limit", "10000")
        table = ttq(paper, viewer, "balance")
        ticker = ttq(paper, viewer, "ticker", BTC)
        last = paper.kernel.cache.price(BTC)
    finally:
        paper.feeder.resume()
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == fills and fills
    usdt = next(b for b in balances if b["currency"] == "USDT")
    assert table.returncode == 0 and f"{usdt['total']:,.8f}" in table.stdout, table.stdout
    # the strategy's fills moved the account away from its starting cash
    assert usdt["total"] != START_CASH
    assert ticker.returncode == 0 and f"{last:,.2f}" in ticker.stdout, ticker.stdout
    book = ttq(paper, viewer, "book", BTC)
    _one_line_error(book, "no order book for BTC/USDT@BINANCE")


def test_buy_then_cancel_and_cancel_all(paper: PaperApi) -> None:
    trader = paper.token("trader")
    price = round(paper.kernel.cache.price(BTC) * 0.5, 2)
    first = ttq(paper, trader, "buy", BTC, "0.01", "--price", str(price))
    order_id, status = _placed(first)
    assert status == "ACCEPTED" and order_id in paper.open_orders()
    listed = ttq(paper, trader, "orders")
    assert order_id in listed.stdout and f"{price:,.2f}" in listed.stdout
    canceled = ttq(paper, trader, "cancel", order_id)
    assert _placed(canceled) == (order_id, "CANCELED")
    assert order_id not in paper.open_orders()
    again = ttq(paper, trader, "cancel", order_id)
    _one_line_error(again, "CANCELED")
    more = [_placed(ttq(paper, trader, "sell", BTC, "0.01", "--price", str(price * 4)))[0]]
    more.append(_placed(ttq(paper, trader, "buy", BTC, "0.01", "--price", str(price)))[0])
    assert set(more) <= set(paper.open_orders())
    declined = ttq(paper, trader, "cancel-all", stdin="n\n")
    assert declined.returncode == 1 and set(more) <= set(paper.open_orders())
    paper.feeder.pause()  # the strategy's own market orders wait for the next bar
    try:
        pending = len(paper.open_orders())
        done = ttq(paper, trader, "cancel-all", "--yes")
        assert done.returncode == 0 and f"{pending} cancel requests sent" in done.stdout
        assert paper.open_orders() == []
    finally:
        paper.feeder.resume()


def test_an_order_the_risk_engine_denies_exits_non_zero(paper: PaperApi) -> None:
    trader = paper.token("trader")
    denied = ttq(paper, trader, "buy", BTC, "9")  # above max_order_qty = 5
    assert denied.returncode == 1
    assert _placed(denied)[1] == "DENIED"


def test_kill_switch_cancels_every_open_order(paper: PaperApi) -> None:
    trader = paper.token("trader")
    price = round(paper.kernel.cache.price(BTC) * 0.5, 2)
    ids = [_placed(ttq(paper, trader, "buy", BTC, "0.01", "--price", str(price)))[0]]
    ids.append(_placed(ttq(paper, trader, "buy", BTC, "0.02", "--price", str(price)))[0])
    try:
        killed = ttq(paper, trader, "kill", "--yes")
        assert killed.returncode == 0, killed.stderr
        assert "kill switch ON: trading state HALTED; open orders: 0" in killed.stdout
        assert paper.open_orders() == []
        with paper.client() as c:
            statuses = {o["client_order_id"]: o["status"] for o in c.get("/orders").json()}
        assert [statuses[i] for i in ids] == ["CANCELED", "CANCELED"]
        release = ttq(paper, trader, "kill", "--off", "--yes")
        _one_line_error(release, "releasing the kill switch needs admin")
    finally:
        released = ttq(paper, paper.admin, "kill", "--off", "--yes")
    assert released.returncode == 0 and "kill switch off" in released.stdout


def test_bad_input_gets_one_clear_line(paper: PaperApi, tmp_path: Path) -> None:
    _one_line_error(ttq(paper, None, "orders"), "no API token: set TTQ_API_TOKEN")
    _one_line_error(ttq(paper, "ttq_" + "x" * 43, "orders"), "the API refused the token")
    viewer = paper.token("read_only")
    _one_line_error(ttq(paper, viewer, "buy", BTC, "1"), "this needs the trader role")
    _one_line_error(ttq(paper, viewer, "ticker", "DOGE/USDT@BINANCE"), "unknown instrument")
    _one_line_error(ttq(paper, viewer, "ticker", "not an id"), "instrument_id")
    away = ttq(paper, viewer, "--url", "http://127.0.0.1:9", "orders")
    _one_line_error(away, "can't reach the ttquant API at http://127.0.0.1:9")
    bad_url = ttq(paper, viewer, "--url", "127.0.0.1:8000", "orders")
    _one_line_error(bad_url, "--url must start with http:// or https://")
