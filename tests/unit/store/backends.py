"""Store fixtures: every store test runs against SQLite and against PostgreSQL.

``store_url`` is parametrized over both backends; the PostgreSQL case carries the ``postgres``
marker and gets a schema of its own (random name, dropped afterwards), so parallel xdist workers
and tests never see each other's rows. The server is ``$TTQ_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Without a server, a PostgreSQL case
fails when ``CI=true`` (CI must test both backends) and is skipped with the reason otherwise.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from tests.conftest import DEMO_DATA

from ttquant.engine.config import BacktestConfig, DataConfig, StrategyConfig, VenueConfig
from ttquant.engine.runner import BacktestResult, run_backtest
from ttquant.store import TradingStore, open_store

POSTGRES_URL = os.environ.get(
    "TTQ_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@functools.cache
def _postgres_problem() -> str | None:
    """Why the test server can't be used, or None when it answers."""
    engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        return str(getattr(exc, "orig", exc)).splitlines()[0]
    finally:
        engine.dispose()
    return None


def require_postgres() -> None:
    problem = _postgres_problem()
    if problem is None:
        return
    message = f"PostgreSQL at {POSTGRES_URL} is unreachable ({problem})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}: CI runs the store tests against PostgreSQL too")
    pytest.skip(f"{message}; with CI=true this fails instead")


@functools.cache
def admin_engine() -> sa.Engine:
    """A connection pool to the test server itself (no schema), for setup and sabotage."""
    return sa.create_engine(POSTGRES_URL)


def postgres_schema_url() -> tuple[str, str]:
    """A fresh schema and a URL whose connections use it."""
    require_postgres()
    schema = f"ttq_test_{uuid.uuid4().hex[:12]}"
    with admin_engine().begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    return schema, f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def drop_postgres_schema(schema: str) -> None:
    with admin_engine().begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of an empty store (not yet created) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'records.sqlite'}"
        return
    schema, url = postgres_schema_url()
    try:
        yield url
    finally:
        drop_postgres_schema(schema)


@pytest.fixture
def store(store_url: str) -> Iterator[TradingStore]:
    with open_store(store_url) as opened:
        yield opened


def bare_run_row(run_id: str, strategy: str = "test") -> tuple[object, ...]:
    """A ``strategy_runs`` row with nothing but an id and a strategy label."""
    return (run_id, "backtest", 1, strategy, "", None, None, None, 0, 0, 0, "", {}, {}, "test")


def demo_config(fast: int, slow: int) -> BacktestConfig:
    """SMA cross on the demo month of real BTC/USDT bars, with fees so that fills carry them."""
    return BacktestConfig(
        data=[DataConfig(file=str(DEMO_DATA), symbol="BTC/USDT")],
        strategies=[StrategyConfig(name="sma_cross", params={"fast": fast, "slow": slow})],
        venue=VenueConfig(name="BINANCE", cash=100_000.0, fee_bps=10.0),
    )


@pytest.fixture(scope="session")
def demo_results() -> tuple[BacktestResult, BacktestResult]:
    """Two real backtests that differ only in their parameters."""
    return run_backtest(demo_config(50, 200)), run_backtest(demo_config(20, 100))
