"""``ttq node`` end to end: the example paper config against the test venue, stopped by
SIGTERM; one-line errors for bad input."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
from tests.conftest import REPO
from tests.integration._nodekit import VenueThread, query, start_node, wait_for
from typer.testing import CliRunner

from ttquant.cli.main import app

runner = CliRunner()


def ttq(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stderr


@pytest.mark.venue
def test_the_example_paper_config_runs_and_stops_gracefully(tmp_path: Path) -> None:
    venue = VenueThread("binance-spot", speed=5.0)
    try:
        text = (REPO / "examples" / "paper.toml").read_text()
        text = text.replace("http://127.0.0.1:8900", venue.venue.url)
        text = text.replace("ws://127.0.0.1:8900", venue.venue.ws_url)
        config = tmp_path / "paper.toml"
        config.write_text(text)
        log = tmp_path / "node.log"
        store = Path(os.environ["TTQ_HOME"]) / "paper.sqlite"  # paper's own store by default
        process = start_node(config, "run", log=log)
        try:
            wait_for(lambda: "node paper-demo running" in log.read_text(), 30, "the node running")
            wait_for(lambda: bool(query(store, "SELECT 1 FROM fills")), 40, "paper fills")
            process.send_signal(signal.SIGINT)
            assert process.wait(30) == 0
        finally:
            if process.poll() is None:
                process.kill()
        output = log.read_text()
        assert "node paper-demo stopped" in output and "Traceback" not in output
        runs = query(store, "SELECT run_id, kind, n_fills FROM strategy_runs")
        assert [(r.run_id, r.kind) for r in runs] == [("paper-paper-demo", "paper")]
        assert runs[0].n_fills >= 1
        assert venue.sync(lambda: len(venue.venue.exchange.orders)) == 0  # paper sends nothing
    finally:
        venue.close()


def test_missing_config_is_one_line(tmp_path: Path) -> None:
    code, err = ttq("node", "run", str(tmp_path / "nope.toml"))
    assert code == 2
    assert re.fullmatch(r"error: \S+nope\.toml: cannot read config file \(.+\)\n", err)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('exchange = "binance"', 'exchange = "bitmex"'), "venue.exchange must be one of"),
        (('mode = "paper"', 'mode = "real"'), "at `$.node.mode`"),
        (('market = "spot"', 'market = "spot"\nsecret_sauce = 1'), "venue.secret_sauce: not a"),
        (("size = 0.001,", "size = -1.0,"), "parameter 'size' must be >= 0.0"),
    ],
)
def test_bad_configs_are_one_line_errors(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    text = (REPO / "examples" / "paper.toml").read_text().replace(*edit)
    text = text.replace("http://127.0.0.1:8900", "http://127.0.0.1:9")  # nothing listens there
    config = tmp_path / "bad.toml"
    config.write_text(text)
    code, err = ttq("node", "run", str(config), "--log-level", "warning")
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err


def test_an_unreachable_exchange_is_one_line(tmp_path: Path) -> None:
    text = (REPO / "examples" / "paper.toml").read_text()
    text = text.replace("127.0.0.1:8900", "127.0.0.1:9")
    config = tmp_path / "down.toml"
    config.write_text(text)
    code, err = ttq("node", "run", str(config), "--log-level", "error")
    assert code == 2
    assert "not sent" in err and err.count("\n") == 1


def test_bad_mode_flag(tmp_path: Path) -> None:
    code, err = ttq("node", "run", str(REPO / "examples" / "paper.toml"), "--mode", "real")
    assert code == 2 and "--mode must be paper or live, got 'real'" in err
