"""Shared fixtures: the shared real market data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
BTC_1M = SHARED_DATA / "bars_1m" / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz"
DEMO_DATA = REPO / "examples" / "data" / "binance_spot_BTCUSDT_1m_2024-01.csv.gz"

pytest_plugins = ["tests.unit.store.backends"]  # store_url/store fixtures: SQLite and PostgreSQL


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared market data not found at {SHARED_DATA}: tests need ../shared/data")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _private_ttq_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test has its own user data folder: nothing touches the real one (e.g. the store)."""
    monkeypatch.setenv("TTQ_HOME", str(tmp_path_factory.mktemp("ttq_home")))
    monkeypatch.delenv("TTQ_STORE_URL", raising=False)
