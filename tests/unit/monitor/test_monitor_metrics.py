"""The metrics registry: naming rules, kernel counters against a real backtest, backtest export."""

from __future__ import annotations

import math
import re

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from tests.unit.store.backends import demo_config

from ttquant.engine.runner import build_engine
from ttquant.model.enums import OrderStatus
from ttquant.monitor.kernel_metrics import KernelMetrics
from ttquant.monitor.metrics import (
    BACKTEST_GAUGES,
    BacktestRunCollector,
    Metrics,
    MetricsServer,
    RunStatistics,
)
from ttquant.risk.state import TradingState

_NAME = re.compile(r"^ttq_[a-z][a-z0-9_]*$")
_FORBIDDEN_LABELS = {"order_id", "client_order_id", "venue_order_id", "trade_id"}


def _families(registry: CollectorRegistry) -> dict[str, object]:
    text = generate_latest(registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    found = False
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
                found = True
    assert found, f"no sample {name}{labels}"
    return total


def test_names_follow_prometheus_conventions() -> None:
    metrics = Metrics()
    metrics.registry.register(BacktestRunCollector(lambda: []))
    for family in metrics.registry.collect():
        assert _NAME.match(family.name), family.name
        assert not family.name.endswith("_total"), "the client adds _total to counters"
        if family.type == "counter":
            assert f"{family.name}_total" in metrics.exposition_names()
        assert family.documentation, f"{family.name} has no help text"
    for collector_family in metrics.registry.collect():
        for sample in collector_family.samples:
            assert not (_FORBIDDEN_LABELS & sample.labels.keys())
    labels = {
        label
        for m in vars(metrics).values()
        if hasattr(m, "_labelnames")
        for label in m._labelnames
    }
    assert not (_FORBIDDEN_LABELS & labels), "order ids would make label sets unbounded"
    # seconds, ratios and totals: units spelled out
    names = metrics.exposition_names()
    assert "ttq_order_round_trip_seconds_bucket" in names
    assert "ttq_orders_total" in names
    assert "ttq_drawdown_ratio" in names


def test_every_issue_metric_is_registered() -> None:
    names = Metrics().exposition_names()
    for wanted in (
        "ttq_event_loop_lag_seconds",
        "ttq_bus_messages_total",
        "ttq_bus_queue_depth",
        "ttq_tick_to_order_seconds_bucket",
        "ttq_order_round_trip_seconds_bucket",
        "ttq_orders_total",
        "ttq_fills_total",
        "ttq_order_rejects_total",
        "ttq_feed_lag_seconds",
        "ttq_reconnects_total",
        "ttq_position_quantity",
        "ttq_position_notional",
        "ttq_pnl_realized",
        "ttq_equity",
        "ttq_drawdown_ratio",
        "ttq_risk_state",
        "ttq_kill_switch_active",
        "ttq_reconciliation_mismatches_total",
        "ttq_store_write_lag_seconds",
        "ttq_job_progress_ratio",
    ):
        assert wanted in names


def test_kernel_metrics_count_a_real_backtest() -> None:
    engine, _ = build_engine(demo_config(50, 200))
    metrics = Metrics()
    kernel_metrics = KernelMetrics(metrics, engine, mode="backtest").attach()
    curve = engine.run()
    kernel_metrics.sample()
    r = metrics.registry

    orders = list(engine.cache.orders.values())
    fills = engine.execution.fills
    submitted = [o for o in orders if o.status is not OrderStatus.DENIED]
    assert len(fills) > 100  # a month of SMA(50/200) crosses on 1-minute bars
    assert _value(r, "ttq_orders_total", mode="backtest") == len(submitted)
    assert _value(r, "ttq_orders_total", side="buy") == sum(o.side.name == "BUY" for o in submitted)
    assert _value(r, "ttq_fills_total", venue="BINANCE") == len(fills)
    notional = sum(abs(f.last_qty * f.last_px) for f in fills)
    assert _value(r, "ttq_fill_notional_total") == pytest.approx(notional, rel=1e-12)
    # every submitted order got an answer: one round-trip observation each
    assert _value(r, "ttq_order_round_trip_seconds_count") == len(submitted)

    equity = _value(r, "ttq_equity", venue="BINANCE")
    assert equity == pytest.approx(float(curve.equity[-1]), rel=1e-9)
    position = engine.cache.positions[("sma_cross", "BTC/USDT@BINANCE")]
    assert _value(r, "ttq_position_quantity", strategy="sma_cross") == position.quantity
    pnl = engine.portfolio.pnl_by_strategy()["sma_cross"]
    assert _value(r, "ttq_pnl_realized", strategy="sma_cross") == pytest.approx(pnl.realized)
    assert _value(r, "ttq_risk_state", scope="account", state="ACTIVE") == 1.0
    assert _value(r, "ttq_kill_switch_active", scope="account") == 0.0
    assert _value(r, "ttq_bus_messages_total") == engine.bus.published_count


def test_drawdown_follows_the_running_peak() -> None:
    engine, _ = build_engine(demo_config(50, 200))
    metrics = Metrics()
    kernel_metrics = KernelMetrics(metrics, engine, mode="paper")
    values = [100.0, 120.0, 90.0, 130.0, 117.0]
    expected = [0.0, 0.0, 0.25, 0.0, 0.1]
    for equity, want in zip(values, expected, strict=True):
        kernel_metrics._drawdown("account", equity)
        got = _value(metrics.registry, "ttq_drawdown_ratio", scope="account")
        assert got == pytest.approx(want)


def test_kill_switch_and_state_are_exported_when_they_change() -> None:
    engine, _ = build_engine(demo_config(50, 200))
    metrics = Metrics()
    KernelMetrics(metrics, engine, mode="paper").attach()
    engine.run()
    engine.risk.halt("test")
    r = metrics.registry
    assert _value(r, "ttq_kill_switch_active", mode="paper", scope="account") == 1.0
    assert _value(r, "ttq_risk_state", scope="account", state=TradingState.HALTED) == 1.0
    assert _value(r, "ttq_risk_state", scope="account", state=TradingState.ACTIVE) == 0.0
    engine.risk.resume()
    assert _value(r, "ttq_kill_switch_active", scope="account") == 0.0
    assert _value(r, "ttq_risk_state", scope="account", state=TradingState.ACTIVE) == 1.0


def test_backtest_statistics_are_exported_in_base_units() -> None:
    stats = {
        "total_return_pct": 12.5,
        "max_drawdown_pct": 8.0,
        "sharpe": 1.25,
        "n_trades": 42,
        "avg_trade_duration": 3600.0,
        "start": "2024-01-01T00:00:00Z",  # a timestamp: a label's business, not a value
        "profit_factor": None,
    }
    run = RunStatistics("abc123def456", "sma_cross", "BTC/USDT@BINANCE", stats)
    registry = CollectorRegistry()
    registry.register(BacktestRunCollector(lambda: [run]))
    labels = {"run": "abc123def456", "strategy": "sma_cross"}
    assert _value(registry, "ttq_backtest_total_return_ratio", **labels) == pytest.approx(0.125)
    assert _value(registry, "ttq_backtest_max_drawdown_ratio", **labels) == pytest.approx(0.08)
    assert _value(registry, "ttq_backtest_sharpe", **labels) == 1.25
    assert _value(registry, "ttq_backtest_n_trades", **labels) == 42
    assert _value(registry, "ttq_backtest_avg_trade_duration_seconds", **labels) == 3600.0
    families = _families(registry)
    assert not families["ttq_backtest_profit_factor"].samples  # type: ignore[attr-defined]
    assert {"start", "end"}.isdisjoint(g.key for g in BACKTEST_GAUGES)
    assert all(math.isfinite(g.scale) for g in BACKTEST_GAUGES)


def test_standalone_server_serves_the_registry() -> None:
    metrics = Metrics()
    metrics.venue_connected.labels("paper", "BINANCE").set(1)
    server = MetricsServer(metrics.registry, "127.0.0.1", 0)
    try:
        response = httpx.get(server.url, timeout=5)
    finally:
        server.close()
    assert response.status_code == 200
    assert 'ttq_venue_connected{mode="paper",venue="BINANCE"} 1.0' in response.text
