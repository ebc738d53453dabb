"""Crash recovery: SIGKILL a live node while its orders rest and fill at the test venue, restart
it, and every fill the venue made is in the node's records exactly once, its position equals
the venue's, and its strategy carries on where it was (ids, declared variables)."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from tests.integration._nodekit import (
    VenueThread,
    node_config,
    query,
    start_node,
    stop_node,
    wait_for,
)

from ttquant.engine.journal import StrategyState, read_journal
from ttquant.model.enums import OrderSide, OrderStatus

pytestmark = [pytest.mark.recovery, pytest.mark.venue]
_TERMINAL = {"FILLED", "CANCELED", "REJECTED", "EXPIRED", "DENIED"}


def _our_trades(venue: VenueThread) -> list[object]:
    return [t for t in venue.trades() if t.client_id.startswith("ttq")]


@pytest.mark.parametrize("exchange", ["binance-spot", "binance-usdm"])
def test_sigkill_mid_run_every_fill_once_and_positions_equal_the_venue(
    tmp_path: Path, exchange: str
) -> None:
    venue = VenueThread(exchange, speed=5.0)
    size = "0.2"  # larger than most trades: fills keep coming, partial by partial
    try:
        config = node_config(
            tmp_path,
            venue.venue,
            exchange,
            mode="live",
            params=f"size = {size}, every = 15, max_open = 6, refresh = 100000",
        )
        db = tmp_path / "records.sqlite"
        node = start_node(config)
        # orders rest at the touch and the replayed trades fill some of them
        wait_for(lambda: len(_our_trades(venue)) >= 3, 40, "first fills at the venue")
        wait_for(lambda: venue.open_orders() >= 2, 20, "orders resting at the venue")
        os.kill(node.pid, signal.SIGKILL)
        node.wait(10)
        killed_with = len(_our_trades(venue))
        stored_at_kill = len(query(db, "SELECT trade_id FROM fills"))
        # fills keep arriving at the venue while the node is down
        wait_for(lambda: len(_our_trades(venue)) > killed_with, 30, "fills while the node is down")
        quotes_before = _journal_quotes(tmp_path)

        reconciled = "SELECT 1 FROM risk_events WHERE kind = 'reconcile.done'"
        done_before = len(query(db, reconciled))
        node = start_node(config)
        wait_for(
            lambda: len(query(db, reconciled)) > done_before, 40, "reconciliation after the restart"
        )
        wait_for(lambda: len(_our_trades(venue)) > killed_with + 2, 30, "fills after the restart")
        assert stop_node(node) == 0
        venue.sync(venue.venue.pause)
        time.sleep(0.3)

        venue_trades = _our_trades(venue)
        fills = query(db, "SELECT trade_id, side, qty FROM fills WHERE run_id = 'live-t'")
        counts = Counter(f.trade_id for f in fills)
        assert not [t for t, n in counts.items() if n > 1], "a fill was recorded twice"
        assert set(counts) == {str(t.trade_id) for t in venue_trades}, "missed or foreign fills"
        assert stored_at_kill < len(venue_trades)  # the restart had fills to recover
        net = sum((f.qty if f.side == OrderSide.BUY.value else -f.qty) for f in fills)
        assert net == pytest.approx(venue.position(), abs=1e-9)
        last = query(
            db,
            "SELECT quantity FROM position_snapshots WHERE run_id = 'live-t' "
            "AND strategy_id = 'mm' ORDER BY id DESC LIMIT 1",
        )
        assert last and last[0].quantity == pytest.approx(venue.position(), abs=1e-9)
        restored = query(db, "SELECT message FROM risk_events WHERE kind = 'recovery.restored'")
        assert restored, "the restart restored nothing"
        # a graceful stop cancels what is open: nothing of ours rests at the venue
        assert venue.open_orders() == 0
        # the strategy continued: its declared variables and its order ids
        assert _journal_quotes(tmp_path) > quotes_before >= 1
        orders = query(db, "SELECT client_order_id, status FROM orders WHERE run_id = 'live-t'")
        assert len(orders) == len({o.client_order_id for o in orders})
        unsettled = [o for o in orders if o.status not in _TERMINAL]
        assert not unsettled, f"orders left unresolved after recovery and stop: {unsettled}"
    finally:
        venue.close()


def _journal_quotes(tmp: Path) -> int:
    records = read_journal(tmp / "state" / "node.journal")
    states = [r for r in records if isinstance(r, StrategyState) and r.strategy_id == "mm"]
    return int(states[-1].values["quotes_seen"]) if states else 0


def _place_at_venue(
    venue: VenueThread, client_id: str, side: OrderSide, qty: float, price: float | None
) -> None:
    from ttquant.model.enums import OrderType

    def place() -> None:
        result = venue.venue.exchange.place(
            venue.symbol,
            client_id,
            side,
            OrderType.LIMIT if price is not None else OrderType.MARKET,
            qty,
            type_text="LIMIT" if price is not None else "MARKET",
            price=price,
        )
        assert not hasattr(result, "reason"), result

    venue.sync(place)


@pytest.mark.parametrize("policy", ["cancel", "adopt"])
def test_orphan_orders_with_our_prefix_are_adopted_or_canceled(tmp_path: Path, policy: str) -> None:
    from tests.integration._nodekit import NodeThread

    venue = VenueThread("binance-spot")
    try:
        bid = venue.sync(lambda: venue.venue.exchange.cache.quotes["BTC/USDT@BINANCE"].bid_price)
        _place_at_venue(venue, "ttqorphan1", OrderSide.BUY, 0.001, round(bid * 0.9, 2))
        config = node_config(
            tmp_path,
            venue.venue,
            "binance-spot",
            mode="live",
            strategy="",
            node_extra=f'orphans = "{policy}"\non_stop = "keep"',
        )
        run = NodeThread(config)
        node = run.node
        order = node.cache.order("ttqorphan1")
        assert order is not None and order.strategy_id == "unattributed"
        if policy == "cancel":
            wait_for(lambda: order.status is OrderStatus.CANCELED, 10, "the orphan canceled")
            assert venue.open_orders() == 0
        else:
            assert order.status is OrderStatus.ACCEPTED and venue.open_orders() == 1
        run.stop()
        kinds = [r.kind for r in query(tmp_path / "records.sqlite", "SELECT kind FROM risk_events")]
        assert f"reconcile.orphan_{policy}" in kinds
    finally:
        venue.close()


@pytest.mark.parametrize("policy", ["adopt", "flatten", "pause"])
def test_a_position_the_venue_disagrees_with_is_handled_per_policy(
    tmp_path: Path, policy: str
) -> None:
    from tests.integration._nodekit import NodeThread

    venue = VenueThread("binance-spot")
    try:
        config = node_config(
            tmp_path,
            venue.venue,
            "binance-spot",
            mode="live",
            strategy="",
            node_extra=f'reconcile = "{policy}"',
        )
        NodeThread(config).stop()  # first run: the baseline balances
        # someone trades on the account while the node is down (not with our prefix)
        _place_at_venue(venue, "manual1", OrderSide.BUY, 0.01, None)
        wait_for(lambda: abs(venue.position() - 0.01) < 1e-12, 10, "the manual fill")
        run = NodeThread(config)
        node = run.node
        iid = "BTC/USDT@BINANCE"
        try:
            if policy == "adopt":
                assert node.cache.position("unattributed", iid).quantity == pytest.approx(0.01)
                assert node.portfolio.net_position(iid) == pytest.approx(venue.position())
            elif policy == "flatten":
                wait_for(lambda: abs(venue.position()) < 1e-12, 10, "the difference traded away")
                wait_for(lambda: abs(node.portfolio.net_position(iid)) < 1e-12, 10, "books flat")
            else:
                assert "position" in node.control.status().paused
                node.control.add_strategy({"name": f"{_STRATS}:Buyer", "id": "b"})
                wait_for(lambda: any(o.strategy_id == "b" for o in node.cache.orders.values()), 10)
                order = next(o for o in node.cache.orders.values() if o.strategy_id == "b")
                wait_for(lambda: order.status is OrderStatus.DENIED, 5, "denied while paused")
                node.control.resume()
                assert node.control.status().paused == ""
            alerts = node.alerts.history(key=f"reconcile.position.{iid}")
            assert alerts and "difference +0.01" in alerts[0].message
        finally:
            run.stop()
    finally:
        venue.close()


_STRATS = Path(__file__).with_name("_node_strategies.py")
