"""``ttq serve --node``: the API attached to a real paper trading node on the test venue's live
feed, driven over HTTP with an admin token: status, strategies, manual orders, the kill switch,
hot parameters and stopping a strategy all act on the node itself."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration._apikit import ApiServer, start_server
from tests.integration._nodekit import VenueThread, node_config, wait_for

pytestmark = pytest.mark.venue
BTC = "BTC/USDT@BINANCE"


@pytest.fixture
def venue() -> Iterator[VenueThread]:
    v = VenueThread("binance-spot", speed=5.0)
    yield v
    v.close()


@pytest.fixture
def server(tmp_path: Path, venue: VenueThread) -> Iterator[ApiServer]:
    config = node_config(tmp_path, venue.venue, "binance-spot", mode="live", name="api")
    home = tmp_path / "home"
    home.mkdir()
    api = start_server(home, "--node", str(config), "--mode", "paper")
    yield api
    api.stop()


def _open(c: httpx.Client, strategy_id: str | None = None) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = c.get("/orders", params={"open": "true"}).json()
    return [o for o in orders if strategy_id is None or o["strategy_id"] == strategy_id]


def _manual_buy(c: httpx.Client, price: float) -> dict[str, Any]:
    body = {
        "instrument_id": BTC,
        "side": "buy",
        "order_type": "limit",
        "quantity": 0.001,
        "price": price,
    }
    answer = c.post("/orders", json=body)
    assert answer.status_code == 201, answer.text
    order: dict[str, Any] = answer.json()
    return order


def test_the_api_drives_a_paper_node(server: ApiServer) -> None:
    with server.client(server.admin_token) as c:
        status = c.get("/node").json()
        # --mode paper overrides the config's live mode
        assert (status["state"], status["mode"], status["trader_id"]) == ("running", "paper", "api")
        [mm] = c.get("/strategies").json()
        assert (mm["strategy_id"], mm["state"]) == ("mm", "running")
        assert mm["params"]["every"] == 40 and "every" in mm["hot_params"]

        wait_for(lambda: len(_open(c, "mm")) >= 2, 30, "the strategy's quotes")
        bid = min(o["price"] for o in _open(c, "mm") if o["side"] == "buy")

        # a manual limit far below the bid rests at the simulated venue, then is canceled
        manual = _manual_buy(c, round(bid * 0.8, 2))
        assert (manual["status"], manual["strategy_id"]) == ("ACCEPTED", "manual")
        assert manual["client_order_id"] in {o["client_order_id"] for o in _open(c)}
        canceled = c.delete(f"/orders/{manual['client_order_id']}")
        assert canceled.status_code == 200 and canceled.json()["status"] == "CANCELED"
        again = c.delete(f"/orders/{manual['client_order_id']}")
        assert again.status_code == 409

        # the kill switch halts the node and cancels every open order, the strategy's too
        resting = _manual_buy(c, round(bid * 0.8, 2))
        before = {o["client_order_id"] for o in _open(c)}
        assert resting["client_order_id"] in before and len(before) >= 3
        risk = c.post("/risk/kill-switch", json={"active": True, "reason": "test"}).json()
        assert (risk["state"], risk["kill_switch"]) == ("HALTED", True)
        assert _open(c) == []
        statuses = {o["client_order_id"]: o["status"] for o in c.get("/orders").json()}
        assert statuses[resting["client_order_id"]] == "CANCELED"
        # a strategy quote may have filled on the live feed just before the switch
        assert all(statuses[cid] in ("CANCELED", "FILLED") for cid in before)
        assert any(statuses[cid] == "CANCELED" for cid in before - {resting["client_order_id"]})
        refused = c.post("/orders", json={"instrument_id": BTC, "side": "buy", "quantity": 0.001})
        assert refused.status_code == 201 and refused.json()["status"] == "DENIED"
        released = c.post("/risk/kill-switch", json={"active": False}).json()
        assert released["kill_switch"] is False

        # a hot parameter: the strategy runs on with the new value
        patched = c.patch("/strategies/mm/params", json={"params": {"every": 7}})
        assert patched.status_code == 200, patched.text
        assert (patched.json()["params"]["every"], patched.json()["state"]) == (7, "running")
        bad = c.patch("/strategies/mm/params", json={"params": {"every": 0}})
        assert bad.status_code == 422 and "every" in bad.json()["detail"]
        wait_for(lambda: len(_open(c, "mm")) >= 1, 30, "quotes after the resume")

        # stopping the strategy over the API stops it in the node: its orders go, none come
        stopped = c.post("/strategies/mm/stop")
        assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
        assert _open(c, "mm") == []
        placed = len(c.get("/orders").json())
        time.sleep(1.5)  # quotes keep arriving; a running strategy would have placed by now
        assert c.get("/strategies").json()[0]["state"] == "stopped"
        assert len(c.get("/orders").json()) == placed
        assert c.post("/strategies/nope/stop").status_code == 404

    server.stop()
    assert server.process.returncode == 0
    assert "node api stopped" in server.log.read_text()


def test_a_bad_node_config_stops_serve_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('[node]\nname = "x"\nmode = "paper"\n')
    for args, problem in (
        (["--node", str(tmp_path / "missing.toml")], "cannot read config file"),
        (["--node", str(config), "--mode", "bogus"], "--mode must be paper or live"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "ttquant.cli.main", "serve", "--port", "0", *args],
            check=False,
            capture_output=True,
            text=True,
            env={**os.environ, "TTQ_HOME": str(tmp_path)},
            timeout=60,
        )
        assert done.returncode == 2
        assert problem in done.stderr and "Traceback" not in done.stderr
