"""A paper node on the test venue's live feed: simulated fills, its own store, isolated strategy
failures, hot reload of the config file and the control API, driven from another thread."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from tests.integration._nodekit import (
    NodeThread,
    VenueThread,
    node_config,
    query,
    wait_for,
)

from ttquant.core.errors import ConfigError
from ttquant.model.enums import OrderSide, OrderStatus
from ttquant.model.events import OrderDenied

pytestmark = pytest.mark.venue
STRATS = Path(__file__).with_name("_node_strategies.py")


@pytest.fixture
def venue() -> VenueThread:
    v = VenueThread("binance-spot", speed=5.0)
    yield v  # type: ignore[misc]
    v.close()


def test_paper_fills_simulated_on_live_quotes_into_its_own_store(
    tmp_path: Path, venue: VenueThread
) -> None:
    config = node_config(
        tmp_path,
        venue.venue,
        "binance-spot",
        mode="paper",
        store=False,
        params="size = 0.05, every = 10, max_open = 4, refresh = 100000",
    )
    run = NodeThread(config)
    node = run.node
    wait_for(lambda: len(node.execution.fills) >= 5, 30, "paper fills")
    run.stop()
    # paper never sends an order to the exchange
    assert venue.sync(lambda: len(venue.venue.exchange.orders)) == 0
    fills = node.execution.fills
    for fill in fills:  # resting limits fill at their own price (the simulated venue's rule)
        order = node.cache.order(fill.client_order_id)
        assert order is not None and fill.last_px == order.price
    net = sum(f.last_qty * (1 if f.side is OrderSide.BUY else -1) for f in fills)
    assert node.portfolio.net_position("BTC/USDT@BINANCE") == pytest.approx(net, abs=1e-12)
    assert node.sim is not None
    assert node.sim.account.balance("BTC").total == pytest.approx(10 + net, abs=1e-12)
    # records in the paper store under TTQ_HOME, not in the user's live store
    db = Path(os.environ["TTQ_HOME"]) / "paper.sqlite"
    stored = query(db, "SELECT trade_id FROM fills WHERE run_id = 'paper-t'")
    assert sorted(r.trade_id for r in stored) == sorted(f.trade_id for f in fills)
    assert not (Path(os.environ["TTQ_HOME"]) / "records.sqlite").exists()


def test_a_strategy_that_raises_is_stopped_alone(tmp_path: Path, venue: VenueThread) -> None:
    extra = f"""
[[strategies]]
name = "{STRATS}:Raiser"
id = "bad"
params = {{ fail_after = 20 }}

[[strategies]]
name = "{STRATS}:Counter"
id = "good"
"""
    config = node_config(
        tmp_path, venue.venue, "binance-spot", mode="paper", strategy="", extra=extra
    )
    run = NodeThread(config)
    node = run.node
    wait_for(lambda: node.control.strategy("bad")["status"] == "FAILED", 30, "the failure")
    count_at_failure = node.host.slot("good").strategy.count  # type: ignore[attr-defined]
    wait_for(
        lambda: node.host.slot("good").strategy.count > count_at_failure + 20,  # type: ignore[attr-defined]
        20,
        "the other strategy carrying on",
    )
    info = node.control.strategy("bad")
    assert "ZeroDivisionError in on_quote" in info["error"]
    bad_orders = [o for o in node.cache.orders.values() if o.strategy_id == "bad"]
    assert len(bad_orders) == 1 and bad_orders[0].status is OrderStatus.CANCELED
    alerts = node.alerts.history(key="strategy.failed.bad")
    assert alerts and alerts[0].level.label == "critical"
    assert "_node_strategies.py" in alerts[0].message  # points at the user's line
    run.stop()
    rows = query(
        tmp_path / "records.sqlite", "SELECT kind FROM risk_events WHERE strategy_id='bad'"
    )
    assert [r.kind for r in rows] == ["strategy_failed"]
    # a failed strategy can be started again by the operator
    assert node.host.slot("good").status.value == "STOPPED"  # graceful stop stopped it


def test_config_file_changes_apply_whole_or_not_at_all(tmp_path: Path, venue: VenueThread) -> None:
    config = node_config(
        tmp_path,
        venue.venue,
        "binance-spot",
        mode="paper",
        strategy=f"{STRATS}:Counter",
        params="step = 1",
        extra="\n[risk]\nmax_order_qty = 1.0\n",
    )
    original = config.read_text()
    run = NodeThread(config)
    node = run.node
    try:
        # reloadable: a parameter (applied in place through on_params_changed) and a risk limit
        config.write_text(
            original.replace("step = 1", "step = 5").replace(
                "max_order_qty = 1.0", "max_order_qty = 2.0"
            )
        )
        wait_for(lambda: node.host.slot("mm").strategy.step == 5, 10, "the watcher's reload")  # type: ignore[attr-defined]
        assert node.host.slot("mm").strategy.changes == [{"step": 5}]  # type: ignore[attr-defined]
        assert node.risk.config is not None and node.risk.config.max_order_qty == 2.0
        applied = node.config
        # restart-only: an instrument's rule; refused whole (the parameter change with it)
        config.write_text(
            original.replace("step = 1", "step = 7").replace(
                "price_increment = 0.01", "price_increment = 0.1"
            )
        )
        with pytest.raises(
            ConfigError, match=r"restart to change: instruments\[0\].price_increment"
        ):
            node.control.reload_config()
        assert node.config is applied and node.host.slot("mm").strategy.step == 5  # type: ignore[attr-defined]
        # a parameter declared reloadable=False needs a restart too
        config.write_text(original.replace("step = 1", 'step = 1, label = "b"'))
        with pytest.raises(ConfigError, match="parameter 'label' is not reloadable"):
            node.control.reload_config()
        # a file that does not parse changes nothing either, with the reason
        config.write_text(original.replace("step = 1", "step = "))
        with pytest.raises(ConfigError, match="not valid TOML"):
            node.control.reload_config()
        # strategies added and removed through the file
        config.write_text(original.replace('id = "mm"', 'id = "mm2"').replace("[risk]", "[risk]"))
        plan = node.control.reload_config()
        assert plan is not None and {c.action for c in plan.strategies} == {"add", "remove"}
        assert [s.id for s in node.control.strategies()] == ["mm2"]
        assert node.control.strategy("mm2")["status"] == "RUNNING"
    finally:
        run.stop()


def test_control_api_from_another_thread(tmp_path: Path, venue: VenueThread) -> None:
    code = tmp_path / "live_edit.py"
    code.write_text(_EDITABLE.format(version=1))
    config = node_config(tmp_path, venue.venue, "binance-spot", mode="paper", strategy="")
    run = NodeThread(config)
    control = run.node.control
    node = run.node
    try:
        sid = control.add_strategy(
            {"name": f"{STRATS}:Buyer", "id": "buyer", "params": {"size": 0.01}}
        )
        wait_for(lambda: node.portfolio.net_position("BTC/USDT@BINANCE") > 0, 10, "a paper buy")
        assert control.strategy(sid)["position"] == {"BTC/USDT@BINANCE": pytest.approx(0.01)}
        control.stop_strategy("buyer", orders="flatten")
        wait_for(lambda: abs(node.portfolio.net_position("BTC/USDT@BINANCE")) < 1e-12, 10, "flat")
        assert control.strategy("buyer")["status"] == "STOPPED"
        # code changed on disk: reload picks it up, parameters can change on the way
        control.add_strategy({"name": f"{code}:Editable", "id": "ed"})
        assert node.host.slot("ed").strategy.VERSION == 1  # type: ignore[attr-defined]
        code.write_text(_EDITABLE.format(version=2))
        control.reload_strategy("ed", {"size": 0.02})
        slot = node.host.slot("ed")
        assert slot.strategy.VERSION == 2 and slot.strategy.size == 0.02  # type: ignore[attr-defined]
        assert control.strategy("ed")["status"] == "RUNNING"
        # paused: new orders are denied, with the reason
        control.pause("maintenance")
        control.add_strategy({"name": f"{STRATS}:Buyer", "id": "late", "params": {"size": 0.01}})
        wait_for(lambda: any(o.strategy_id == "late" for o in node.cache.orders.values()), 10)
        late = next(o for o in node.cache.orders.values() if o.strategy_id == "late")
        wait_for(lambda: late.status is OrderStatus.DENIED, 5, "the denial")
        denied = late.events[-1]
        assert isinstance(denied, OrderDenied) and "maintenance" in denied.message
        control.resume()
        assert control.status().paused == ""
        control.remove_strategy("late")
        assert "late" not in {s.id for s in control.strategies()}
        with pytest.raises(ConfigError, match="no strategy 'nope'"):
            control.start_strategy("nope")
        with pytest.raises(ConfigError, match="orders must be"):
            control.stop_strategy("ed", orders="sell-everything")
    finally:
        run.stop()
    time.sleep(0)


_EDITABLE = """
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy


class Editable(Strategy):
    VERSION = {version}
    size: float = Param(0.01, min=0.0)

    def on_start(self) -> None:
        self.subscribe_quotes()
"""
