"""The ``[risk]`` TOML section: parsed into scopes, every mistake one line naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.risk._kernel import Kernel

from ttquant.core.errors import ConfigError
from ttquant.engine.config import load_config
from ttquant.risk.config import (
    Limits,
    LossStreak,
    Rate,
    RiskConfig,
    StrategyRisk,
    validate_risk,
)

TOML = """
[[data]]
file = "bars.csv"

[[strategies]]
name = "sma_cross"
id = "trend"

[risk]
max_order_notional = 50_000
price_band_pct = 5
order_rate = { limit = 20, per = "1s" }
max_daily_loss_pct = 3
self_trade = "account"

[risk.strategies.trend]
capital_weight = 0.5
max_drawdown_pct = 8
loss_streak = { losses = 4, cooldown = "6h" }

[risk.instruments."BTC/USDT@BINANCE"]
max_position_qty = 2
max_daily_cancels = 400
"""


def _load(tmp_path: Path, text: str) -> RiskConfig | None:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return load_config(path).risk


def test_a_full_risk_section_parses_into_its_scopes(tmp_path: Path) -> None:
    risk = _load(tmp_path, TOML)
    assert risk == RiskConfig(
        max_order_notional=50_000,
        price_band_pct=5,
        order_rate=Rate(limit=20, per="1s"),
        max_daily_loss_pct=3,
        self_trade="account",
        strategies={
            "trend": StrategyRisk(
                capital_weight=0.5,
                max_drawdown_pct=8,
                loss_streak=LossStreak(losses=4, cooldown="6h"),
            )
        },
        instruments={"BTC/USDT@BINANCE": Limits(max_position_qty=2, max_daily_cancels=400)},
    )
    validate_risk(risk)
    assert load_config_without_risk(tmp_path) is None


def load_config_without_risk(tmp_path: Path) -> RiskConfig | None:
    return _load(tmp_path, TOML.split("[risk]", maxsplit=1)[0])


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[risk]\nmax_order_qty = -1", r"risk\.max_order_qty must be a positive number, got -1"),
        ("[risk]\nmax_drawdown_pct = 150", r"risk\.max_drawdown_pct must be a percentage in"),
        ("[risk]\nmax_cancel_ratio = 2", r"risk\.max_cancel_ratio must be in \(0, 1\], got 2"),
        ("[risk]\nmax_open_orders = 0", r"risk\.max_open_orders must be at least 1, got 0"),
        ("[risk]\norder_rate = { limit = 5, per = 'soon' }", r"risk\.order_rate\.per: 'soon'"),
        ("[risk]\nself_trade = 'maybe'", r"Expected `str` matching regex|Invalid enum value"),
        ("[risk]\nmax_qty = 1", r"unknown field `max_qty` - at `\$\.risk`"),
        (
            "[risk.instruments.'BTC/USDT']\nmax_gross_exposure = 1",
            r"unknown field `max_gross_exposure` - at `\$\.risk\.instruments",
        ),
        (
            "[risk.strategies.a]\nmax_drawdown_pct = 5",
            r"risk\.strategies\.a\.max_drawdown_pct is a percentage of the strategy's capital",
        ),
        (
            "[risk.strategies.a]\ncapital = 5\ncapital_weight = 0.5",
            r"risk\.strategies\.a: give capital or capital_weight, not both",
        ),
        (
            "[risk.strategies.a]\ncapital_weight = 0.7\n[risk.strategies.b]\ncapital_weight = 0.4",
            r"capital weights add up to 1\.1, more than 1",
        ),
        (
            "[risk.strategies.a]\nloss_streak = { losses = 0, cooldown = '1h' }",
            r"risk\.strategies\.a\.loss_streak\.losses must be at least 1",
        ),
    ],
)
def test_mistakes_are_one_line_errors_naming_the_field(
    tmp_path: Path, toml: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        risk = _load(tmp_path, toml)
        assert risk is not None
        validate_risk(risk)
    assert "\n" not in str(info.value)


def test_names_are_checked_against_the_run() -> None:
    with pytest.raises(ConfigError, match=r"risk\.strategies: no strategy 'trend' in this run"):
        Kernel(RiskConfig(strategies={"trend": StrategyRisk(max_order_qty=1)}))
    with pytest.raises(ConfigError, match=r"risk\.instruments: unknown instrument 'BTC/USDT'"):
        Kernel(RiskConfig(instruments={"BTC/USDT": Limits(max_order_qty=1)}))
    with pytest.raises(ConfigError, match=r"capital adds up to 1,500,000\.00, more than the"):
        Kernel(
            RiskConfig(
                strategies={
                    "s1": StrategyRisk(capital=1_000_000),
                    "s2": StrategyRisk(capital=500_000),
                }
            )
        )


def test_capital_weights_become_amounts_of_the_starting_equity() -> None:
    k = Kernel(
        RiskConfig(
            strategies={"s1": StrategyRisk(capital_weight=0.25), "s2": StrategyRisk(capital=1e5)}
        ),
        cash=2_000_000.0,
    )
    assert k.portfolio.capitals == {"s1": 500_000.0, "s2": 100_000.0}
    assert k.portfolio.strategy_equity("s1") == 500_000.0
