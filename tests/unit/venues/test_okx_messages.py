"""OKX parsers and book checksums on real captured pushes and the API's examples."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import SHARED_DATA

from ttquant.model.data import BarType
from ttquant.model.enums import AccountType, AggressorSide, LiquiditySide, OrderSide, OrderType
from ttquant.venues.okx import messages as m
from ttquant.venues.okx import parse
from ttquant.venues.okx.book import BookResult, OkxBookSync, checksum
from ttquant.venues.reasons import LiveRejectReason
from ttquant.venues.reports import ReportStatus

CAPTURE = SHARED_DATA / "raw_messages" / "cryptofeed_captures" / "OKX.ws.1.0.txt"
FIXTURES = SHARED_DATA / "raw_messages" / "nautilus_fixtures" / "okx"
_push = msgspec.json.Decoder(m.Push)


def _pushes() -> list[m.Push]:
    out = []
    for line in CAPTURE.read_bytes().splitlines():
        head, sep, body = line.partition(b": ")
        if sep and b" " not in head:
            push = _push.decode(body)
            if push.arg is not None and not push.event:
                out.append(push)
    return out


@pytest.fixture(scope="module")
def pushes() -> list[m.Push]:
    return _pushes()


def test_every_captured_book_message_passes_its_checksum(pushes: list[m.Push]) -> None:
    syncs: dict[str, OkxBookSync] = {}
    for push in pushes:
        if push.arg is not None and push.arg.channel == "books":
            sync = syncs.setdefault(push.arg.instId, OkxBookSync(push.arg.instId))
            for data in msgspec.json.decode(push.data, type=list[m.BookData]):
                assert sync.on_message(push.action, data) is BookResult.APPLIED
    assert set(syncs) == {"BTC-USDT", "BTC-USD-220527", "UNI-USD-SWAP"}
    assert sum(s.checked for s in syncs.values()) == 290  # 3 snapshots + 287 updates
    assert all(s.mismatches == 0 and not s.book.crossed for s in syncs.values())


@settings(max_examples=20, deadline=None)
@given(skip=st.integers(min_value=1, max_value=80))
def test_a_lost_update_breaks_the_checksum(skip: int, pushes: list[m.Push]) -> None:
    books = [
        p
        for p in pushes
        if p.arg is not None and p.arg.channel == "books" and p.arg.instId == "BTC-USDT"
    ]
    sync = OkxBookSync("BTC-USDT")
    results = []
    for i, push in enumerate(books):
        if i == skip:
            continue
        data = msgspec.json.decode(push.data, type=list[m.BookData])[0]
        results.append(sync.on_message(push.action, data))
    # the next update after the lost one cannot produce OKX's checksum (or a later one fails)
    assert BookResult.MISMATCH in results
    assert results.index(BookResult.MISMATCH) >= skip - 1


def test_sequence_ids_chain_when_present() -> None:
    snap = msgspec.json.decode((FIXTURES / "ws_books_snapshot.json").read_bytes(), type=m.Push)
    data = msgspec.json.decode(snap.data, type=list[m.BookData])[0]
    data = msgspec.structs.replace(
        data, checksum=None
    )  # the docs' example checksum is illustrative
    sync = OkxBookSync("BTC-USDT")
    assert sync.on_message("snapshot", data) is BookResult.APPLIED
    follow = m.BookData(asks=[], bids=[], seqId=123457, prevSeqId=123456)
    assert sync.on_message("update", follow) is BookResult.APPLIED
    broken = m.BookData(asks=[], bids=[], seqId=123460, prevSeqId=123458)
    assert sync.on_message("update", broken) is BookResult.MISMATCH
    assert sync.on_message("update", follow) is BookResult.WAITING  # nothing until a snapshot


def test_checksum_over_fewer_than_25_levels_interleaves_what_exists() -> None:
    sync = OkxBookSync("X")
    data = m.BookData(
        asks=[("3366.8", "9", "0", "1")], bids=[("3366.1", "7", "0", "1"), ("3366", "6", "0", "1")]
    )
    sync.on_message("snapshot", msgspec.structs.replace(data, checksum=None))
    import zlib

    expected = zlib.crc32(b"3366.1:7:3366.8:9:3366:6")
    assert checksum(sync.book) == (expected - (1 << 32) if expected >= 1 << 31 else expected)


def test_tickers_and_trades_become_quotes_and_trade_ticks(pushes: list[m.Push]) -> None:
    quotes = trades = 0
    for push in pushes:
        assert push.arg is not None
        if push.arg.channel == "tickers":
            for t in msgspec.json.decode(push.data, type=list[m.Ticker]):
                quote = parse.quote_tick(t, "X@OKX", 1)
                assert quote.bid_price < quote.ask_price and quote.ts_event > 0
                quotes += 1
        elif push.arg.channel == "trades":
            for t in msgspec.json.decode(push.data, type=list[m.TradeData]):
                tick = parse.trade_tick(t, "X@OKX", 1)
                assert tick.price == float(t.px) and tick.size == float(t.sz)
                expected = AggressorSide.BUYER if t.side == "buy" else AggressorSide.SELLER
                assert tick.aggressor_side is expected
                trades += 1
    assert quotes >= 25 and trades >= 70


def test_order_push_with_a_fill() -> None:
    push = msgspec.json.decode((FIXTURES / "ws_orders.json").read_bytes(), type=m.Push)
    [order] = msgspec.json.decode(push.data, type=list[m.OrderData])
    report = parse.order_report(order, with_fill=True)
    assert report.status is ReportStatus.FILLED and report.order_type is OrderType.MARKET
    assert report.filled_qty == 0.03 and report.price is None  # a market order has no price
    fill = report.fill
    assert fill is not None
    assert (fill.trade_id, fill.last_qty, fill.last_px) == ("1518905529", 0.03, 103698.9)
    assert fill.liquidity_side is LiquiditySide.MAKER and fill.side is OrderSide.BUY
    assert parse.order_report(order, with_fill=False).fill is None


@pytest.mark.parametrize(
    "name",
    [
        "ws_orders_fok.json",
        "ws_orders_ioc.json",
        "ws_orders_adl.json",
        "ws_orders_liquidation.json",
        "ws_orders_optimal_limit_ioc.json",
    ],
)
def test_order_push_variants_parse(name: str) -> None:
    push = msgspec.json.decode((FIXTURES / name).read_bytes(), type=m.Push)
    for order in msgspec.json.decode(push.data, type=list[m.OrderData]):
        report = parse.order_report(order, with_fill=True)
        assert report.quantity > 0 and report.status in ReportStatus


def test_post_only_canceled_for_taking_is_a_rejection() -> None:
    order = m.OrderData(
        instId="BTC-USDT",
        ordId="1",
        clOrdId="ttq1",
        side="buy",
        ordType="post_only",
        state="canceled",
        sz="1",
        px="10",
        cancelSource="31",
    )
    report = parse.order_report(order, with_fill=True)
    assert report.status is ReportStatus.REJECTED
    assert report.reason == LiveRejectReason.POST_ONLY_WOULD_TAKE


def test_rest_answers_parse() -> None:
    pending = msgspec.json.decode(
        (FIXTURES / "http_get_orders_pending.json").read_bytes(), type=m.Response
    )
    [order] = msgspec.json.decode(pending.data, type=list[m.OrderData])
    assert parse.order_report(order, with_fill=False).status is ReportStatus.NEW
    fill = msgspec.json.decode(
        (FIXTURES / "http_transaction_detail.json").read_bytes(), type=m.FillData
    )
    report = parse.fill_report(fill)
    assert (report.last_qty, report.last_px, report.commission) == (0.001, 42000.5, -0.042)
    balance = msgspec.json.decode(
        (FIXTURES / "http_get_account_balance.json").read_bytes(), type=m.Response
    )
    [account] = msgspec.json.decode(balance.data, type=list[m.AccountData])
    state = parse.account_state(account, "OKX", AccountType.MARGIN, "USDT")
    assert state.balances["USDT"] == (94.42612990333333, 5.468566666666667)
    positions = msgspec.json.decode(
        (FIXTURES / "http_get_positions.json").read_bytes(), type=m.Response
    )
    [pos] = msgspec.json.decode(positions.data, type=list[m.PositionData])
    assert parse.position_report(pos, "BTC/USDT:USDT@OKX").quantity == 0.5
    ack = msgspec.json.decode(
        (FIXTURES / "http_place_order_response.json").read_bytes(), type=m.OrderAck
    )
    assert (ack.sCode, ack.ordId) == ("0", "12345678901234567890")


def test_account_push_and_confirmed_candle() -> None:
    push = msgspec.json.decode((FIXTURES / "ws_account.json").read_bytes(), type=m.Push)
    [account] = msgspec.json.decode(push.data, type=list[m.AccountData])
    state = parse.account_state(account, "OKX", AccountType.CASH, "USDT")
    assert state.balances["USDT"][0] == 100.52768569797846
    candle_push = msgspec.json.decode((FIXTURES / "ws_candle.json").read_bytes(), type=m.Push)
    [candle] = msgspec.json.decode(candle_push.data, type=list[m.Candle])
    bar = parse.closed_bar(candle, BarType.time("BTC/USDT@OKX", "1d"), 0)
    assert bar is not None and (bar.open, bar.close, bar.volume) == (8533.02, 8548.26, 45247.0)
    assert bar.ts_init - bar.ts_event == 86_400 * 10**9
    forming = msgspec.structs.replace(candle, confirm="0")
    assert parse.closed_bar(forming, BarType.time("BTC/USDT@OKX", "1d"), 0) is None
