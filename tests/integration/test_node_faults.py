"""End to end: a node against a misbehaving test venue, paper and live, Binance and OKX formats.

The venue drops every connection, stalls (connections open, nothing flowing), withholds a book
message (a sequence gap) and restarts, while the node's orders rest and fill. Afterwards every
fill is in the node's books exactly once (live: the venue's fills, by trade id), its position
equals the venue's, and its order book equals the venue's (OKX: checksums verify again).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from tests.integration._nodekit import NodeThread, VenueThread, node_config, wait_for

from ttquant.model.enums import OrderSide

pytestmark = pytest.mark.venue

CASES = [("binance-spot", "live"), ("okx", "live"), ("binance-spot", "paper"), ("okx", "paper")]


@pytest.mark.parametrize(("exchange", "mode"), CASES, ids=[f"{e}-{m}" for e, m in CASES])
def test_faults_lose_no_fill_duplicate_none_and_books_resync(
    tmp_path: Path, exchange: str, mode: str
) -> None:
    venue = VenueThread(exchange, speed=5.0 if exchange != "okx" else 2.0)
    # OKX's recording is short (a loop of 31 tickers): quote often, refresh stale quotes
    params = (
        "size = 0.2, every = 10, max_open = 4, refresh = 100000"
        if exchange != "okx"
        else "size = 0.05, every = 2, max_open = 4, refresh = 6"
    )
    config = node_config(
        tmp_path,
        venue.venue,
        exchange,
        mode=mode,
        params=params,
        data='["quotes", "trades", "book"]',
    )
    run = NodeThread(config)
    node = run.node
    try:
        wait_for(lambda: len(node.execution.fills) >= 2, 30, "first fills")
        for fault in (
            venue.venue.drop_connections,
            lambda: venue.venue.stall(2.0),
            lambda: venue.venue.gap(1),
            lambda: venue.venue.restart(down_for=1.0),
        ):
            before = node.inbox.handled
            venue.call(fault())
            wait_for(lambda b=before: node.inbox.handled > b + 50, 20, "data flowing again")
        fills_after_faults = len(node.execution.fills)
        wait_for(lambda: len(node.execution.fills) > fills_after_faults, 30, "fills after faults")
        wait_for(lambda: not node.stale_feeds, 10, "fresh feeds")
        venue.sync(venue.venue.pause)
        time.sleep(1.0)  # what was sent has arrived; back-fills of the last reconnect finish
        fills = node.execution.fills
        counts = Counter(f.trade_id for f in fills)
        assert [t for t, n in counts.items() if n > 1] == [], "duplicated fills"
        iid = node.instruments[0].id
        net = sum(f.last_qty * (1 if f.side is OrderSide.BUY else -1) for f in fills)
        assert node.portfolio.net_position(iid) == pytest.approx(net, abs=1e-9)
        if mode == "live":
            ours = {str(t.trade_id) for t in venue.trades() if t.client_id.startswith("ttq")}
            assert set(counts) == ours, "missed fills"
            assert net == pytest.approx(venue.position(), abs=1e-9)
            assert node.control.status().reconciliations >= 2  # start, and after reconnects
        else:
            assert venue.sync(lambda: len(venue.venue.exchange.orders)) == 0
        _assert_book_equals_venue(node, venue, iid)
        venue.sync(venue.venue.resume)
    finally:
        run.stop()
        venue.close()


def _assert_book_equals_venue(node: object, venue: VenueThread, iid: str) -> None:
    depth = node.data_step.books[iid]  # type: ignore[attr-defined]
    dialect = venue.venue.dialect
    book = dialect.books[venue.symbol]  # type: ignore[attr-defined]
    book = getattr(book, "book", book)
    levels = len(depth.bids)
    assert levels >= 5
    assert list(depth.bids) == venue.sync(lambda: book.bids.top(levels))
    assert list(depth.asks) == venue.sync(lambda: book.asks.top(len(depth.asks)))
