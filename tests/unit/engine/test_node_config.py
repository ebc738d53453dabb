"""The node's config file: one-line errors naming the field, and how a changed file reloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttquant.core.errors import ConfigError
from ttquant.engine.node_config import load_node_config, parse_node_config, reload_plan
from ttquant.engine.node_venues import adapter_config, redacted
from ttquant.venues.binance import BinanceConfig

BASE = """
[node]
name = "demo"
[venue]
exchange = "binance"
market = "spot"
api_key = "k"
api_secret = "s"
[[instruments]]
symbol = "BTC/USDT"
price_increment = 0.01
size_increment = 0.00001
[[strategies]]
name = "sma_cross"
id = "trend"
params = { fast = 10, slow = 30 }
[risk]
max_order_qty = 1.0
[risk.instruments."BTC/USDT"]
max_position_qty = 2.0
"""


def parse(text: str, mode: str | None = None):  # type: ignore[no-untyped-def]
    return parse_node_config(text.encode(), "node.toml", mode)


def test_a_valid_config_and_what_follows_from_it() -> None:
    config = parse(BASE)
    assert config.node.mode == "paper"
    assert config.venue_name == "BINANCE"
    assert [i.id for i in config.build_instruments()] == ["BTC/USDT@BINANCE"]
    assert config.strategy_ids() == ["trend"]
    # risk limits of an instrument named without its venue are on the node's venue
    assert config.risk is not None and list(config.risk.instruments) == ["BTC/USDT@BINANCE"]
    assert parse(BASE, "live").node.mode == "live"
    usdm = parse(BASE.replace('market = "spot"', 'market = "usdm"'))
    assert usdm.venue_name == "BINANCEUSDM"


MISTAKES = [
    (("[node]", "[node]\nmodee = 1"), r"unknown field `modee` - at `\$.node`"),
    (('exchange = "binance"', 'exchange = "kraken"'), "venue.exchange must be one of binance"),
    (("price_increment = 0.01", "price_increment = -1"), "instruments: .*must be positive"),
    (
        ('id = "trend"', 'id = "trend"\n[[strategies]]\nname = "sma_cross"\nid = "trend"'),
        "strategy id 'trend' is used twice",
    ),
    (("max_order_qty = 1.0", "max_order_qty = -1.0"), "risk.max_order_qty must be a positive"),
    (
        ("max_order_qty = 1.0", "max_order_qty = 1.0\n[risk.strategies.ghost]\nmax_order_qty = 1"),
        "risk.strategies: no strategy 'ghost'",
    ),
    (('name = "demo"', 'name = "de mo"'), "node.name 'de mo' must be letters"),
    (
        ("size_increment = 0.00001", 'size_increment = 0.00001\ndata = ["candles"]'),
        "'candles' is not quotes, trades, book or bars_<step>",
    ),
    (("[node]", "[node\n"), "not valid TOML"),
]


@pytest.mark.parametrize(("change", "message"), MISTAKES)
def test_every_mistake_is_one_line_naming_it(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse(BASE.replace(*change))
    assert "\n" not in str(info.value)


def test_missing_file_and_bad_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_node_config(tmp_path / "none.toml")
    with pytest.raises(ConfigError, match="--mode must be paper or live, got 'real'"):
        parse(BASE, "real")


def test_adapter_settings_are_checked_against_the_exchange_config() -> None:
    config = parse(BASE.replace('api_key = "k"', 'api_key = "k"\nrecv_windw = 5'))
    with pytest.raises(ConfigError, match=r"venue\.recv_windw: not a setting of the binance"):
        adapter_config(config, BinanceConfig)
    good = parse(BASE.replace('api_key = "k"', 'api_key = "k"\nrecv_window_ms = 3000'))
    live = adapter_config(parse(BASE, "live"), BinanceConfig)
    assert isinstance(live, BinanceConfig) and live.api_key == "k"
    paper = adapter_config(good, BinanceConfig)  # paper: market data only, keys left out
    assert isinstance(paper, BinanceConfig) and paper.api_key == "" and paper.recv_window_ms == 3000


def test_secrets_are_redacted_in_messages() -> None:
    assert redacted("abc", "venue.api_secret") == "***"
    assert redacted("abc", "venue.api_key") == "***"
    assert redacted("spot", "venue.market") == "spot"


def test_reload_plan_sorts_changes_into_applicable_and_refused() -> None:
    old = parse(BASE)
    new = parse(
        BASE.replace("fast = 10", "fast = 12")
        .replace("max_order_qty = 1.0", "max_order_qty = 3.0")
        .replace('[node]\nname = "demo"', '[node]\nname = "demo"\non_stop = "keep"')
        + '[[strategies]]\nname = "sma_cross"\nid = "second"\n'
    )
    plan = reload_plan(old, new)
    assert not plan.refused
    assert plan.risk_changed and plan.node_changed
    assert [(c.strategy_id, c.action) for c in plan.strategies] == [
        ("trend", "reload"),
        ("second", "add"),
    ]
    paths = [p for p, _, _ in plan.differences]
    assert "strategies.trend.params.fast" in paths and "risk.max_order_qty" in paths
    refused = reload_plan(old, parse(BASE.replace('market = "spot"', 'market = "usdm"')))
    assert refused.refused == ["venue.market"]
    without = BASE.split("[[strategies]]", maxsplit=1)[0] + "[risk]\nmax_order_qty = 1.0\n"
    removed = reload_plan(old, parse(without))
    assert [(c.strategy_id, c.action) for c in removed.strategies] == [("trend", "remove")]
    assert reload_plan(old, parse(BASE)).empty
