"""Opening a store migrates it to exactly the Core schema; bad URLs and schemas fail in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from tests.unit.store.backends import POSTGRES_URL, drop_postgres_schema, postgres_schema_url

from ttquant.core.errors import StoreError
from ttquant.store import TradingStore, open_store
from ttquant.store import postgres as pg
from ttquant.store.migrate import HEAD, head_revision
from ttquant.store.schema import TABLES, TIME_PARTITIONED, VIEWS, metadata


def test_migrations_build_exactly_the_core_schema(store: TradingStore) -> None:
    with store.read() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == head_revision()
        assert compare_metadata(context, metadata) == []
        inspector = sa.inspect(conn)
        assert set(TABLES) <= set(inspector.get_table_names())
        assert set(VIEWS) <= set(inspector.get_view_names())


def test_the_known_head_is_alembics() -> None:
    assert head_revision() == HEAD


def test_a_current_store_opens_without_alembic(store_url: str) -> None:
    """Every ``ttq`` command imports ttquant.store.location; ``ttq backtest`` opens a store at
    head. Neither pays for importing Alembic (nor psycopg for SQLite, nor SQLAlchemy for the
    location alone)."""
    open_store(store_url).close()
    script = (
        "import sys\n"
        "import ttquant.store.location\n"
        "assert 'sqlalchemy' not in sys.modules\n"
        "from ttquant.store import open_store\n"
        f"open_store({store_url!r}).close()\n"
        "print(sorted(m for m in ('alembic', 'psycopg') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    expected = ["psycopg"] if store_url.startswith("postgresql") else []
    assert proc.stdout.strip() == str(expected)


def test_reopening_keeps_the_schema_and_its_rows(store_url: str) -> None:
    with open_store(store_url) as first:
        first.write({"equity": [("r1", 1, 100.0)]})
    with open_store(store_url) as again, again.read() as conn:
        assert conn.execute(sa.text("SELECT run_id, ts, equity FROM equity")).all() == [
            ("r1", 1, 100.0)
        ]


def test_a_schema_newer_than_the_code_is_refused(store_url: str) -> None:
    with open_store(store_url) as store, store.transaction() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    with pytest.raises(StoreError) as info:
        open_store(store_url)
    message = str(info.value)
    assert "revision f00d, newer than this ttquant knows" in message
    assert head_revision() in message and "\n" not in message


@pytest.mark.postgres
def test_postgres_time_tables_are_partitioned_by_month_without_timescale() -> None:
    schema, url = postgres_schema_url()
    try:
        with open_store(url) as store, store.read() as conn:
            assert pg.TIMESCALE not in pg.available_extensions(conn)  # not installable here
            assert store.backend.layout == pg.PARTITIONED
            rows = conn.execute(
                sa.text(
                    "SELECT c.relname, pg_get_partkeydef(c.oid) FROM pg_partitioned_table p "
                    "JOIN pg_class c ON c.oid = p.partrelid "
                    "WHERE c.relnamespace = to_regnamespace(:s)"
                ),
                {"s": schema},
            ).all()
        expected = {t.name: f"RANGE ({t.info['time_column']})" for t in TIME_PARTITIONED}
        assert dict(rows) == expected
    finally:
        drop_postgres_schema(schema)


def test_layout_follows_the_available_extensions() -> None:
    assert pg.choose_layout({"plpgsql", "pg_trgm"}) == pg.PARTITIONED
    assert pg.choose_layout({"plpgsql", "timescaledb"}) == pg.TIMESCALE


def test_timescale_path_makes_compressed_hypertables_on_the_time_column() -> None:
    statements = pg.timescale_statements("fills", "ts_event")
    assert statements[0].startswith("SELECT create_hypertable('fills', 'ts_event'")
    assert f"chunk_time_interval => {30 * 86_400 * 10**9}::bigint" in statements[0]
    assert "set_integer_now_func('fills', 'ttq_now_ns')" in statements[1]
    assert "timescaledb.compress_segmentby = 'run_id'" in statements[2]
    assert statements[3] == f"SELECT add_compression_policy('fills', {7 * 86_400 * 10**9}::bigint)"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "not a database URL: 'not a url'"),
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://u@h/db", "driver 'psycopg2' is not supported"),
        ("sqlite://", "in-memory SQLite store would vanish"),
        (
            "postgresql+psycopg://postgres:secret@127.0.0.1:1/test",
            "cannot open store postgresql+psycopg://postgres:***@127.0.0.1:1/test: "
            "connection failed",
        ),
    ],
)
def test_bad_urls_give_one_line_errors(url: str, expected: str) -> None:
    with pytest.raises(StoreError) as info:
        open_store(url)
    assert expected in str(info.value)
    assert "\n" not in str(info.value) and "secret" not in str(info.value)


def test_an_unwritable_sqlite_folder_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match=r"cannot create folder .*file/sub for the store"):
        open_store(f"sqlite:///{blocker / 'sub' / 'records.sqlite'}")


@pytest.mark.postgres
def test_a_search_path_without_a_schema_is_named() -> None:
    from tests.unit.store.backends import require_postgres

    require_postgres()
    with pytest.raises(
        StoreError, match=r"search_path \(no_such_schema\) names no existing schema"
    ):
        open_store(f"{POSTGRES_URL}?options=-csearch_path%3Dno_such_schema")
