"""Several strategies sharing one account: PnL attributed per strategy adds up to the account's,
to the cent, on real data; the breakdown reaches results.json, the summary and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.conftest import REPO, SHARED_DATA
from typer.testing import CliRunner

from ttquant.cli.main import app
from ttquant.engine.config import BacktestConfig, DataConfig, StrategyConfig, VenueConfig
from ttquant.engine.runner import BacktestResult, run_backtest
from ttquant.model.enums import OrderSide
from ttquant.risk.config import Limits, RiskConfig, StrategyRisk

HOURLY = SHARED_DATA / "bars_1h_1d"
CASH = 1_000_000.0


@pytest.fixture(scope="module")
def result(shared_data: Any) -> BacktestResult:
    """2022 on hourly BTC/USDT and ETH/USDT: four strategies, two of them on the same
    instrument in opposite directions at times (the venue nets them), market and limit orders,
    maker and taker fees."""
    config = BacktestConfig(
        venue=VenueConfig(
            name="BINANCE", cash=CASH, leverage=3.0, maker_fee_bps=2.0, taker_fee_bps=5.0
        ),
        data=[
            DataConfig(
                file=str(HOURLY / "binance_spot_BTCUSDT_1h_until2024.csv.gz"),
                symbol="BTC/USDT",
                size_increment=1e-5,
            ),
            DataConfig(
                file=str(HOURLY / "binance_spot_ETHUSDT_1h_until2024.csv.gz"),
                symbol="ETH/USDT",
                size_increment=1e-4,
            ),
        ],
        strategies=[
            StrategyConfig(
                name="sma_cross",
                id="trend",
                params={"fast": 12, "slow": 48, "long_only": False, "size": 2.0},
                instruments=["BTC/USDT"],
            ),
            StrategyConfig(
                name="bollinger_reversion",
                id="bands",
                params={"period": 24, "nbdev": 2.0, "long_short": True, "size": 1.5},
                instruments=["BTC/USDT"],
            ),
            StrategyConfig(
                name="rsi_reversion",
                id="rsi",
                params={"period": 14, "long_short": True, "size": 20.0},
                instruments=["ETH/USDT"],
            ),
            StrategyConfig(
                name="grid",
                id="grid",
                params={"width_pct": 30.0, "levels": 31, "order_size": 2.0},
                instruments=["ETH/USDT"],
            ),
        ],
        timerange="20220101-20230101",
        risk=RiskConfig(
            max_order_notional=200_000,
            strategies={
                "trend": StrategyRisk(capital_weight=0.4),
                "bands": StrategyRisk(capital=200_000, max_drawdown_pct=30),
                "rsi": StrategyRisk(capital_weight=0.2),
                "grid": StrategyRisk(capital_weight=0.2),
            },
            instruments={"ETH/USDT": Limits(max_position_qty=30)},
        ),
    )
    return run_backtest(config)


def _pnl_from_fills(result: BacktestResult, owner: str) -> float:
    """Money paid and received for the owner's fills, plus what it still holds at the last
    prices: computed here from the fills alone."""
    cash = 0.0
    held: dict[str, float] = {}
    for f in result.fills:
        if f.strategy_id != owner:
            continue
        signed = f.last_qty if f.side is OrderSide.BUY else -f.last_qty
        cash -= signed * f.last_px + f.commission
        held[f.instrument_id] = held.get(f.instrument_id, 0.0) + signed
    last = {iid: float(marks[-1]) for iid, marks in result.curve.marks.items()}
    return cash + sum(q * last[iid] for iid, q in held.items())


def test_strategy_pnl_adds_up_to_the_account_pnl_to_the_cent(result: BacktestResult) -> None:
    strategies = {s.strategy_id: s for s in result.strategies}
    assert list(strategies) == ["trend", "bands", "rsi", "grid"]
    fills = {o: sum(1 for f in result.fills if f.strategy_id == o) for o in strategies}
    assert min(fills.values()) >= 100  # every one of them traded
    account = result.final_equity - CASH
    assert abs(account) > 1_000.0  # a run that moved the account
    assert sum(s.pnl for s in strategies.values()) == pytest.approx(account, abs=0.005)
    for owner, s in strategies.items():
        reference = _pnl_from_fills(result, owner)
        assert s.pnl == pytest.approx(reference, abs=0.005), owner
        assert s.realized + s.unrealized == pytest.approx(reference, abs=0.005), owner
        assert s.commissions == pytest.approx(
            sum(f.commission for f in result.fills if f.strategy_id == owner), abs=1e-6
        )
    # ... and at every sample of the equity curve, not only at the end
    paths = result.curve.pnl_by_owner
    total = np.sum([paths[o] for o in strategies], axis=0)
    assert np.max(np.abs(total - (result.curve.equity - CASH))) < 0.005
    # trend and bands were on opposite sides of BTC at times: the venue netted them
    held = {"trend": 0.0, "bands": 0.0}
    opposite = 0
    for f in result.fills:
        if f.strategy_id in held:
            held[f.strategy_id] += f.last_qty if f.side is OrderSide.BUY else -f.last_qty
            opposite += held["trend"] * held["bands"] < 0
    assert opposite > 10


def test_capital_and_budgets_are_per_strategy(result: BacktestResult) -> None:
    capital = {s.strategy_id: s.capital for s in result.strategies}
    assert capital == {"trend": 400_000.0, "bands": 200_000.0, "rsi": 200_000.0, "grid": 200_000.0}
    for s in result.strategies:
        assert s.capital is not None
        assert s.return_pct == pytest.approx(s.pnl / s.capital * 100.0)
        path = s.capital + result.curve.pnl_by_owner[s.strategy_id]
        peak = np.maximum.accumulate(np.concatenate([[s.capital], path]))[1:]
        assert s.max_drawdown_pct == pytest.approx(np.max(1.0 - path / peak) * 100.0)
    denied = {s.strategy_id: s.denied for s in result.strategies}
    orders = [o for o in result.orders if o.status.value == "DENIED"]
    assert orders and sum(denied.values()) == len(orders)
    assert sum(result.risk_engine["denials"].values()) == len(orders)


def test_the_example_config_runs_and_reports_each_strategy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)  # the example names its data relative to the repository
    out = tmp_path / "out"
    run = CliRunner().invoke(app, ["backtest", "--config", "examples/risk.toml", "--out", str(out)])
    assert run.exit_code == 0, run.output
    assert "STRATEGIES" in run.output and "RISK ENGINE" in run.output
    doc = json.loads((out / "results.json").read_text())
    ids = [s["strategy_id"] for s in doc["strategies"]]
    assert ids == ["trend", "rsi", "bands"]
    for sid in ids:
        assert sid in run.output
    assert sum(s["pnl"] for s in doc["strategies"]) == pytest.approx(
        doc["final_equity"] - 100_000.0, abs=0.005
    )
    assert doc["config"]["risk"]["strategies"]["bands"]["capital"] == 25_000
    assert doc["risk_engine"]["configured"] is True
    denied = sum(s["denied"] for s in doc["strategies"])
    assert denied > 0 and sum(doc["risk_engine"]["denials"].values()) == denied
    html = (out / "report.html").read_text()
    assert "<h2>Strategies</h2>" in html and 'id="chart-strategies"' in html
    for sid in ids:
        assert f"<td>{sid}</td>" in html


def test_a_wrong_risk_section_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    config = tmp_path / "bad.toml"
    text = (REPO / "examples" / "risk.toml").read_text()
    config.write_text(text.replace("[risk.strategies.rsi]", "[risk.strategies.rsi_typo]"))
    run = CliRunner().invoke(app, ["backtest", "--config", str(config), "-q"])
    assert run.exit_code == 2
    assert run.output.strip() == (
        "error: risk.strategies: no strategy 'rsi_typo' in this run (strategies: trend, rsi, bands)"
    )
