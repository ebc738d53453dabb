"""The node split into three processes (market data, strategy, gateway) over ZeroMQ, with the
shared-memory price board readable from this (fourth) process."""

from __future__ import annotations

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
from ttquant.engine.shm import PriceReader

pytestmark = pytest.mark.venue


@pytest.mark.parametrize("mode", ["live", "paper"])
def test_md_strategy_gateway_processes_trade_like_one_node(tmp_path: Path, mode: str) -> None:
    venue = VenueThread("binance-spot", speed=5.0)
    shm = f"ttq-test-{tmp_path.name[-20:]}-{mode}"
    ipc = f"""
[ipc]
market_data = "ipc://{tmp_path}/md"
orders = "ipc://{tmp_path}/orders"
returns = "ipc://{tmp_path}/returns"
shm = "{shm}"
"""
    config = node_config(
        tmp_path,
        venue.venue,
        "binance-spot",
        mode=mode,
        params="size = 0.2, every = 10, max_open = 4, refresh = 100000",
        extra=ipc,
    )
    processes = []
    try:
        for role in ("gateway", "md", "strategy"):
            log = tmp_path / f"{role}.log"
            processes.append(start_node(config, role, log=log))
        db = tmp_path / "records.sqlite"
        wait_for(lambda: len(query(db, "SELECT 1 FROM fills")) >= 5, 40, "fills via the gateway")
        # the price board, read from outside the three processes
        reader = PriceReader(shm)
        snapshot = reader.read("BTC/USDT@BINANCE")
        assert snapshot is not None
        quote = venue.sync(lambda: venue.venue.exchange.cache.quotes["BTC/USDT@BINANCE"])
        assert snapshot.bid <= snapshot.ask
        assert abs(snapshot.bid - quote.bid_price) / quote.bid_price < 0.01
        assert time.time_ns() - snapshot.ts_ns < 5e9
        reader.close()
        for process in reversed(processes):
            assert stop_node(process) == 0
        processes.clear()
        fills = query(db, f"SELECT trade_id, strategy_id FROM fills WHERE run_id = '{mode}-t'")
        assert {f.strategy_id for f in fills} == {"mm"}
        counts = Counter(f.trade_id for f in fills)
        assert max(counts.values()) == 1
        if mode == "live":
            ours = {str(t.trade_id) for t in venue.trades() if t.client_id.startswith("ttq")}
            assert set(counts) == ours
        else:
            assert venue.sync(lambda: len(venue.venue.exchange.orders)) == 0
        # the strategy process saw the market data and the fills (its journaled state)
        states = [
            r
            for r in read_journal(tmp_path / "state" / "strategy.journal")
            if isinstance(r, StrategyState)
        ]
        assert states and states[-1].values["quotes_seen"] > 10
        assert states[-1].values["orders_sent"] >= 2
    finally:
        for process in processes:
            process.kill()
            process.wait(10)
        venue.close()
