"""Trading records: instruments, runs, orders and their events, fills, equity, positions,
balances, risk events, alerts; daily PnL and per-venue fill views.

On PostgreSQL the time-keyed tables become monthly range-partitioned tables, or TimescaleDB
hypertables when the extension is available (``ttquant.store.postgres.choose_layout``).

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

from ttquant.store import postgres

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON()  # json, not jsonb, on PostgreSQL: keeps the key order reports show
Ns = sa.BigInteger()
Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

TIME_TABLES = {"orders": "ts_init", "order_events": "ts_event", "fills": "ts_event", "equity": "ts"}


def _day(column: str, dialect: str) -> str:
    """SQL for the UTC date of an int64-nanosecond column."""
    if dialect == "postgresql":
        return f"(to_timestamp({column} / 1000000000) AT TIME ZONE 'UTC')::date"
    return f"date({column} / 1000000000, 'unixepoch')"


def _text(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _float(name: str, nullable: bool = False) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    layout = "sqlite"
    if dialect == "postgresql":
        layout = postgres.choose_layout(postgres.available_extensions(bind))
        if layout == postgres.TIMESCALE:
            for statement in postgres.timescale_setup_statements():
                op.execute(statement)

    def time_table(name: str, *columns: SchemaItem) -> None:
        partition: dict[str, Any] = {}
        if layout == postgres.PARTITIONED:
            partition = {"postgresql_partition_by": f"RANGE ({TIME_TABLES[name]})"}
        op.create_table(name, *columns, **partition)
        if layout == postgres.TIMESCALE:
            for statement in postgres.timescale_statements(name, TIME_TABLES[name]):
                op.execute(statement)

    op.create_table(
        "instruments",
        _text("instrument_id"),
        _text("symbol"),
        _text("venue"),
        _text("kind"),
        _text("base"),
        _text("quote"),
        _text("settle"),
        _float("price_increment"),
        _float("size_increment"),
        _float("multiplier"),
        sa.Column("is_inverse", sa.Boolean(), nullable=False),
        sa.Column("spec", Json, nullable=False),
        sa.Column("updated_ns", Ns, nullable=False),
        sa.PrimaryKeyConstraint("instrument_id"),
    )
    op.create_table(
        "strategy_runs",
        _text("run_id"),
        _text("kind"),
        sa.Column("created_ns", Ns, nullable=False),
        _text("strategy"),
        _text("instruments"),
        sa.Column("start_ns", Ns, nullable=True),
        sa.Column("end_ns", Ns, nullable=True),
        _float("final_equity", nullable=True),
        sa.Column("n_orders", sa.Integer(), nullable=False),
        sa.Column("n_fills", sa.Integer(), nullable=False),
        sa.Column("n_trades", sa.Integer(), nullable=False),
        _text("results_hash"),
        sa.Column("config", Json, nullable=False),
        sa.Column("statistics", Json, nullable=False),
        _text("ttquant_version"),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_strategy_runs_created_ns", "strategy_runs", ["created_ns"])
    time_table(
        "orders",
        _text("run_id"),
        _text("client_order_id"),
        sa.Column("ts_init", Ns, nullable=False),
        _text("venue_order_id"),
        _text("strategy_id"),
        _text("instrument_id"),
        _text("side"),
        _text("order_type"),
        _float("quantity"),
        _float("price", nullable=True),
        _float("trigger_price", nullable=True),
        _text("time_in_force"),
        _text("status"),
        _float("filled_qty"),
        _float("avg_px", nullable=True),
        sa.Column("ts_last", Ns, nullable=False),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("post_only", sa.Boolean(), nullable=False),
        _text("contingency"),
        _text("order_list_id"),
        _text("parent_order_id"),
        _text("exit_reason"),
        sa.Column("tags", Json, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "client_order_id", "ts_init"),
    )
    time_table(
        "order_events",
        _text("run_id"),
        _text("client_order_id"),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("ts_event", Ns, nullable=False),
        sa.Column("ts_init", Ns, nullable=False),
        _text("event_type"),
        _text("venue_order_id"),
        _text("strategy_id"),
        _text("instrument_id"),
        sa.Column("payload", Json, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "client_order_id", "seq", "ts_event"),
    )
    time_table(
        "fills",
        _text("run_id"),
        _text("trade_id"),
        sa.Column("ts_event", Ns, nullable=False),
        sa.Column("ts_init", Ns, nullable=False),
        _text("client_order_id"),
        _text("venue_order_id"),
        _text("strategy_id"),
        _text("instrument_id"),
        _text("venue"),
        _text("side"),
        _float("qty"),
        _float("price"),
        _float("commission"),
        _text("commission_currency"),
        _text("liquidity_side"),
        sa.PrimaryKeyConstraint("run_id", "trade_id", "ts_event"),
    )
    time_table(
        "equity",
        _text("run_id"),
        sa.Column("ts", Ns, nullable=False),
        _float("equity"),
        sa.PrimaryKeyConstraint("run_id", "ts"),
    )
    op.create_table(
        "position_snapshots",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        _text("run_id"),
        _text("strategy_id"),
        _text("instrument_id"),
        sa.Column("ts", Ns, nullable=False),
        _float("quantity"),
        _float("avg_px"),
        _float("realized_pnl"),
        _float("commissions"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_position_snapshots_run",
        "position_snapshots",
        ["run_id", "strategy_id", "instrument_id", "ts"],
    )
    op.create_table(
        "account_balances",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        _text("run_id"),
        _text("venue"),
        _text("currency"),
        sa.Column("ts", Ns, nullable=False),
        _float("total"),
        _float("locked"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_account_balances_run", "account_balances", ["run_id", "venue", "ts"])
    op.create_table(
        "risk_events",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        _text("run_id", nullable=True),
        sa.Column("ts", Ns, nullable=False),
        _text("strategy_id"),
        _text("instrument_id"),
        _text("kind"),
        _text("message"),
        sa.Column("payload", Json, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_risk_events_ts", "risk_events", ["ts"])
    op.create_table(
        "alerts",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        _text("run_id", nullable=True),
        sa.Column("ts", Ns, nullable=False),
        _text("severity"),
        _text("source"),
        _text("rule"),
        _text("message"),
        sa.Column("payload", Json, nullable=False),
        sa.Column("resolved_ns", Ns, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alerts_ts", "alerts", ["ts"])

    # Daily PnL of each run (labelled with its strategies): the day's last equity less the
    # previous day's last (the run's first equity on its first day).
    op.execute(
        f"""
        CREATE VIEW daily_pnl AS
        SELECT r.strategy, d.run_id, d.day, d.close_equity,
               d.close_equity - COALESCE(
                   LAG(d.close_equity) OVER (PARTITION BY d.run_id ORDER BY d.day),
                   d.open_equity) AS pnl
        FROM (
            SELECT run_id, day, equity AS close_equity, open_equity FROM (
                SELECT run_id, {_day("ts", dialect)} AS day, equity,
                       ROW_NUMBER() OVER (
                           PARTITION BY run_id, {_day("ts", dialect)} ORDER BY ts DESC) AS rn,
                       FIRST_VALUE(equity) OVER (PARTITION BY run_id ORDER BY ts) AS open_equity
                FROM equity
            ) ranked WHERE rn = 1
        ) d LEFT JOIN strategy_runs r ON r.run_id = d.run_id
        """
    )
    op.execute(
        f"""
        CREATE VIEW fills_per_venue AS
        SELECT {_day("ts_event", dialect)} AS day, venue, instrument_id, commission_currency,
               COUNT(*) AS n_fills, SUM(qty) AS quantity, SUM(qty * price) AS notional,
               SUM(commission) AS commission
        FROM fills
        GROUP BY {_day("ts_event", dialect)}, venue, instrument_id, commission_currency
        """
    )


def downgrade() -> None:
    op.execute("DROP VIEW fills_per_venue")
    op.execute("DROP VIEW daily_pnl")
    for name in (
        "alerts",
        "risk_events",
        "account_balances",
        "position_snapshots",
        "equity",
        "fills",
        "order_events",
        "orders",
        "strategy_runs",
        "instruments",
    ):
        op.drop_table(name)
