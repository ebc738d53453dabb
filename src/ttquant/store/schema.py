"""The trading-records schema: one SQLAlchemy Core definition for SQLite and PostgreSQL.

Every timestamp is int64 nanoseconds UTC, as in the kernel, so a stored record compares equal to
the event it came from. Rows of the high-volume tables (orders, order events, fills, equity) are
keyed by run and time: PostgreSQL partitions them by month of ``TIME_COLUMN`` (or makes them
TimescaleDB hypertables), which needs the time column in every unique key.

Table ``info`` says how the store writes a table:

- ``time_column``: the column a PostgreSQL table is range-partitioned on (monthly) and
  retention cuts by; tables without it are never partitioned and never expire.
- ``upsert``: rows replace the stored row with the same primary key (an order's latest state);
  other tables are append-only, written with ``COPY`` on PostgreSQL.

Changing a table here needs an Alembic migration in ``migrations/versions``; a test compares the
migrated database with this module and fails on any difference.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

Json = sa.JSON()  # json, not jsonb, on PostgreSQL: keeps the key order reports show
Ns = sa.BigInteger  # int64 nanoseconds since the epoch, UTC
Float = sa.Double
# A surrogate key that autoincrements on both backends (SQLite needs INTEGER for its rowid alias).
SurrogateKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id_column() -> sa.Column[int]:
    return sa.Column("id", SurrogateKey, primary_key=True, autoincrement=True)


instruments = sa.Table(
    "instruments",
    metadata,
    sa.Column("instrument_id", sa.Text, primary_key=True),
    sa.Column("symbol", sa.Text, nullable=False),
    sa.Column("venue", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("base", sa.Text, nullable=False),
    sa.Column("quote", sa.Text, nullable=False),
    sa.Column("settle", sa.Text, nullable=False),
    sa.Column("price_increment", Float, nullable=False),
    sa.Column("size_increment", Float, nullable=False),
    sa.Column("multiplier", Float, nullable=False),
    sa.Column("is_inverse", sa.Boolean, nullable=False),
    sa.Column("spec", Json, nullable=False),  # every field of the Instrument, for reloading
    sa.Column("updated_ns", Ns, nullable=False),
    info={"upsert": True},
)

strategy_runs = sa.Table(
    "strategy_runs",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),  # backtest | paper | live
    sa.Column("created_ns", Ns, nullable=False),
    sa.Column("strategy", sa.Text, nullable=False),  # strategy names, "+"-joined
    sa.Column("instruments", sa.Text, nullable=False),  # instrument ids, ","-joined
    sa.Column("start_ns", Ns),
    sa.Column("end_ns", Ns),
    sa.Column("final_equity", Float),
    sa.Column("n_orders", sa.Integer, nullable=False),
    sa.Column("n_fills", sa.Integer, nullable=False),
    sa.Column("n_trades", sa.Integer, nullable=False),
    sa.Column("results_hash", sa.Text, nullable=False),
    sa.Column("config", Json, nullable=False),
    sa.Column("statistics", Json, nullable=False),
    sa.Column("ttquant_version", sa.Text, nullable=False),
    sa.Index("ix_strategy_runs_created_ns", "created_ns"),
    info={"upsert": True},
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("client_order_id", sa.Text, primary_key=True),
    sa.Column("ts_init", Ns, primary_key=True),
    sa.Column("venue_order_id", sa.Text, nullable=False),
    sa.Column("strategy_id", sa.Text, nullable=False),
    sa.Column("instrument_id", sa.Text, nullable=False),
    sa.Column("side", sa.Text, nullable=False),
    sa.Column("order_type", sa.Text, nullable=False),
    sa.Column("quantity", Float, nullable=False),
    sa.Column("price", Float),
    sa.Column("trigger_price", Float),
    sa.Column("time_in_force", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("filled_qty", Float, nullable=False),
    sa.Column("avg_px", Float),  # NULL until the first fill
    sa.Column("ts_last", Ns, nullable=False),
    sa.Column("reduce_only", sa.Boolean, nullable=False),
    sa.Column("post_only", sa.Boolean, nullable=False),
    sa.Column("contingency", sa.Text, nullable=False),
    sa.Column("order_list_id", sa.Text, nullable=False),
    sa.Column("parent_order_id", sa.Text, nullable=False),
    sa.Column("exit_reason", sa.Text, nullable=False),
    sa.Column("tags", Json, nullable=False),
    info={"time_column": "ts_init", "upsert": True},
)

order_events = sa.Table(
    "order_events",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("client_order_id", sa.Text, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),  # position in the order's event list
    sa.Column("ts_event", Ns, primary_key=True),
    sa.Column("ts_init", Ns, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),  # class name: OrderAccepted, OrderFilled...
    sa.Column("venue_order_id", sa.Text, nullable=False),
    sa.Column("strategy_id", sa.Text, nullable=False),
    sa.Column("instrument_id", sa.Text, nullable=False),
    sa.Column("payload", Json, nullable=False),  # the event type's own fields
    info={"time_column": "ts_event"},
)

fills = sa.Table(
    "fills",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("trade_id", sa.Text, primary_key=True),
    sa.Column("ts_event", Ns, primary_key=True),
    sa.Column("ts_init", Ns, nullable=False),
    sa.Column("client_order_id", sa.Text, nullable=False),
    sa.Column("venue_order_id", sa.Text, nullable=False),
    sa.Column("strategy_id", sa.Text, nullable=False),
    sa.Column("instrument_id", sa.Text, nullable=False),
    sa.Column("venue", sa.Text, nullable=False),  # from the instrument id, for per-venue views
    sa.Column("side", sa.Text, nullable=False),
    sa.Column("qty", Float, nullable=False),
    sa.Column("price", Float, nullable=False),
    sa.Column("commission", Float, nullable=False),
    sa.Column("commission_currency", sa.Text, nullable=False),
    sa.Column("liquidity_side", sa.Text, nullable=False),
    info={"time_column": "ts_event"},
)

equity = sa.Table(
    "equity",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("ts", Ns, primary_key=True),
    sa.Column("equity", Float, nullable=False),  # account base currency
    info={"time_column": "ts"},
)

position_snapshots = sa.Table(
    "position_snapshots",
    metadata,
    _id_column(),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("strategy_id", sa.Text, nullable=False),
    sa.Column("instrument_id", sa.Text, nullable=False),
    sa.Column("ts", Ns, nullable=False),
    sa.Column("quantity", Float, nullable=False),  # signed: positive long, negative short
    sa.Column("avg_px", Float, nullable=False),
    sa.Column("realized_pnl", Float, nullable=False),
    sa.Column("commissions", Float, nullable=False),
    sa.Index("ix_position_snapshots_run", "run_id", "strategy_id", "instrument_id", "ts"),
)

account_balances = sa.Table(
    "account_balances",
    metadata,
    _id_column(),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("venue", sa.Text, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("ts", Ns, nullable=False),
    sa.Column("total", Float, nullable=False),
    sa.Column("locked", Float, nullable=False),
    sa.Index("ix_account_balances_run", "run_id", "venue", "ts"),
)

risk_events = sa.Table(
    "risk_events",
    metadata,
    _id_column(),
    sa.Column("run_id", sa.Text),
    sa.Column("ts", Ns, nullable=False),
    sa.Column("strategy_id", sa.Text, nullable=False),
    sa.Column("instrument_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # order_denied, trading_halted, ...
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Index("ix_risk_events_ts", "ts"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    _id_column(),
    sa.Column("run_id", sa.Text),
    sa.Column("ts", Ns, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),  # info | warning | critical
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Column("resolved_ns", Ns),
    sa.Index("ix_alerts_ts", "ts"),
)

# API credentials (``ttquant.api.auth``): only the SHA-256 of each token is kept
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("account", sa.Text),  # None: every account
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),
    sa.Column("created_ns", Ns, nullable=False),
    sa.Column("revoked_ns", Ns),
)

TABLES: dict[str, sa.Table] = dict(metadata.tables)
TIME_PARTITIONED = [t for t in metadata.sorted_tables if "time_column" in t.info]
VIEWS = ("daily_pnl", "fills_per_venue")


def table(name: str) -> sa.Table:
    """The table called ``name``; a KeyError names the known tables."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"no table {name!r}; tables: {', '.join(sorted(TABLES))}") from None


def row_columns(t: sa.Table) -> list[sa.Column[object]]:
    """The columns a row tuple for ``t`` holds, in order: all but autoincrementing keys."""
    return [c for c in t.columns if not (c.primary_key and c.autoincrement is True)]


def is_json(column: sa.Column[object]) -> bool:
    return isinstance(column.type, sa.JSON)
