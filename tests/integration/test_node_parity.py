"""Paper/backtest parity: the market data a paper session recorded, replayed through the
backtest engine, gives the same orders and the same fills as the paper session."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from tests.integration._nodekit import QUOTE_MAKER, NodeThread, VenueThread, node_config, wait_for

from ttquant.data.catalog import Catalog
from ttquant.data.schema import DataType
from ttquant.engine.backtest import BacktestEngine
from ttquant.model.enums import AccountType
from ttquant.strategy.registry import load_strategy_class
from ttquant.venues.sim.models import FeeModel, FillModel

pytestmark = pytest.mark.venue
PARAMS = {"size": 0.05, "every": 7, "max_open": 4, "refresh": 60}


def test_replaying_the_recording_reproduces_the_paper_session(tmp_path: Path) -> None:
    venue = VenueThread("binance-spot", speed=5.0)
    catalog = tmp_path / "catalog"
    params = ", ".join(f"{k} = {v}" for k, v in PARAMS.items())
    config = node_config(
        tmp_path,
        venue.venue,
        "binance-spot",
        mode="paper",
        params=params,
        extra=f'\n[recorder]\ncatalog = "{catalog}"\n',
    )
    text = config.read_text().replace(
        'account = "cash"\nbalances = { USDT = 1000000, BTC = 10 }',
        'account = "margin"\nbalances = { USDT = 1000000 }',
    )
    config.write_text(text)
    try:
        run = NodeThread(config)
        node = run.node
        wait_for(lambda: len(node.execution.fills) >= 12, 40, "paper fills")
        wait_for(lambda: any(o.status.value == "CANCELED" for o in node.cache.orders.values()), 20)
        run.stop()
    finally:
        venue.close()
    inst = node.instruments[0]

    engine = BacktestEngine()
    engine.add_venue(
        inst.venue,
        account_type=AccountType.MARGIN,
        starting_balances={"USDT": 1_000_000.0},
        fill_model=FillModel(volume_limit=1.0),
        fee_model=FeeModel(),
    )
    engine.add_instrument(inst)
    store = Catalog(catalog)
    quotes = store.read(inst.id, DataType("quotes")).sort("ts_init")
    trades = store.read(inst.id, DataType("trades")).sort("ts_init")
    assert quotes.height > 50 and trades.height > 10
    last_data = max(int(quotes["ts_init"].max()), int(trades["ts_init"].max()))  # type: ignore[arg-type]
    paper_orders = _orders(node.cache.orders.values(), last_data)
    paper_fills = [_fill(f) for f in node.execution.fills]
    engine.add_quotes(
        inst.id, *_columns(quotes, "ts_init", "bid_price", "ask_price", "bid_size", "ask_size")
    )
    engine.add_trades(inst.id, *_columns(trades, "ts_init", "price", "size", "aggressor"))
    cls = load_strategy_class(f"{QUOTE_MAKER}:QuoteMaker")
    engine.add_strategy(cls(strategy_id="mm", instruments=[inst.id], **PARAMS))
    engine.run()

    backtest_orders = _orders(engine.cache.orders.values(), last_data)
    backtest_fills = [_fill(f) for f in engine.execution.fills]
    assert len(paper_orders) >= 10
    assert backtest_orders == paper_orders
    assert backtest_fills == paper_fills


def _columns(frame: pl.DataFrame, *names: str) -> list[object]:
    return [frame[n].to_numpy() for n in names]


def _orders(orders: object, last_data_ns: int) -> list[tuple[object, ...]]:
    """What the strategy decided: each order's id, side, size, price and time, and how it
    ended by the last recorded event (the paper stop's cancels came after it)."""
    out = []
    for o in orders:  # type: ignore[attr-defined]
        ended = "open"
        for event in o.events:
            if event.ts_init <= last_data_ns:
                ended = type(event).__name__
        out.append((o.client_order_id, o.side.value, o.quantity, o.price, o.ts_init, ended))
    return sorted(out)


def _fill(f: object) -> tuple[object, ...]:
    return (f.client_order_id, f.trade_id, f.last_qty, f.last_px, f.ts_init, f.commission)  # type: ignore[attr-defined]
