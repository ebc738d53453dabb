"""MarketWatch: the ticker and book an in-process kernel serves to ``GET /market/*``, from a
real Binance futures top-5 book (Tardis sample) and a real quote and trade published on a bus."""

from __future__ import annotations

import csv
import threading
from types import SimpleNamespace

import pytest
from tests.conftest import SHARED_DATA

from ttquant.api.market import MarketWatch, market_view
from ttquant.api.node import NodeCommandError
from ttquant.core.bus import MessageBus
from ttquant.model.cache import Cache
from ttquant.model.data import QuoteTick, TradeTick
from ttquant.model.enums import AggressorSide
from ttquant.model.instruments import instrument_from_symbol
from ttquant.venues.book import BookDepth

BTC = "BTC/USDT@BINANCE"
BOOK_CSV = (
    SHARED_DATA / "orderbook" / "tardis_samples" / "binance-futures_book_snapshot_5_BTCUSDT.csv"
)


def _books(count: int) -> list[dict[str, str]]:
    with BOOK_CSV.open() as f:
        reader = csv.DictReader(f)
        return [next(reader) for _ in range(count)]


def _depth(row: dict[str, str]) -> BookDepth:
    bids = [(float(row[f"bids[{i}].price"]), float(row[f"bids[{i}].amount"])) for i in range(5)]
    asks = [(float(row[f"asks[{i}].price"]), float(row[f"asks[{i}].amount"])) for i in range(5)]
    ts = int(row["timestamp"]) * 1000  # microseconds -> ns
    return BookDepth(BTC, tuple(bids), tuple(asks), 0, ts, ts)


@pytest.fixture
def kernel() -> SimpleNamespace:
    cache = Cache(lambda: 0)
    cache.add_instrument(instrument_from_symbol("BTC/USDT", "BINANCE", price_increment=0.01))
    return SimpleNamespace(bus=MessageBus(), cache=cache)


def test_book_and_ticker_follow_the_bus(kernel: SimpleNamespace) -> None:
    watch = MarketWatch(kernel, threading.RLock())
    with pytest.raises(NodeCommandError, match="no order book for BTC/USDT@BINANCE"):
        watch.book(BTC, 5, None)
    first, second = (_depth(r) for r in _books(2))
    kernel.bus.publish(f"data.books.{BTC}", first)
    kernel.bus.publish(f"data.books.{BTC}", second)
    book = watch.book(BTC, 3, None)
    assert book.bids == list(second.bids[:3]) and book.asks == list(second.asks[:3])
    assert book.bids[0][0] < book.asks[0][0]  # a real book is not crossed
    # an older quote loses to the newer book; a newer one wins
    old = QuoteTick(BTC, 1.0, 2.0, 3.0, 4.0, second.ts_event - 1, second.ts_event - 1)
    kernel.cache.quotes[BTC] = old
    ticker = watch.ticker(BTC, None)
    assert (ticker.bid, ticker.bid_size) == second.bids[0]
    assert (ticker.ask, ticker.ask_size) == second.asks[0]
    new = QuoteTick(BTC, 11_657.0, 11_658.0, 1.5, 2.5, second.ts_event + 1, second.ts_event + 1)
    kernel.cache.quotes[BTC] = new
    ticker = watch.ticker(BTC, None)
    assert (ticker.bid, ticker.ask, ticker.bid_size, ticker.ask_size) == (
        11_657.0,
        11_658.0,
        1.5,
        2.5,
    )
    assert ticker.last is None  # no trade and no price yet
    kernel.cache.prices[BTC] = 11_657.5
    assert watch.ticker(BTC, None).last == 11_657.5
    trade = TradeTick(BTC, 11_657.9, 0.25, AggressorSide.BUYER, "t1", new.ts_event + 5, 0)
    kernel.bus.publish(f"data.trades.{BTC}", trade)
    ticker = watch.ticker(BTC, None)
    assert (ticker.last, ticker.last_size, ticker.ts_ns) == (11_657.9, 0.25, trade.ts_event)


def test_instruments_and_accounts_are_checked(kernel: SimpleNamespace) -> None:
    watch = MarketWatch(kernel, threading.RLock())
    with pytest.raises(
        NodeCommandError, match=r"unknown instrument 'ETH/USDT@BINANCE' \(known: BTC"
    ):
        watch.ticker("ETH/USDT@BINANCE", None)
    with pytest.raises(NodeCommandError, match="unknown instrument"):
        watch.ticker(BTC, "OKX")  # a token scoped to OKX does not see BINANCE
    assert watch.ticker(BTC, "BINANCE").instrument_id == BTC


def test_market_view_is_made_once_per_node(kernel: SimpleNamespace) -> None:
    node = SimpleNamespace(kernel=kernel, lock=threading.RLock())
    views: dict[int, object] = {}
    first = market_view(node, views)  # type: ignore[arg-type]
    assert first is not None and market_view(node, views) is first  # type: ignore[arg-type]
    assert market_view(object(), {}) is None  # nothing to watch
