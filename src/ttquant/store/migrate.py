"""Bring a database to the schema this ttquant knows, or refuse one that is newer.

Runs ``alembic upgrade head`` from the migrations shipped inside the package, in one transaction
that first checks the recorded revision: a database migrated by a newer ttquant is left alone
with a one-line error rather than written in a shape this code doesn't understand. On PostgreSQL
an advisory lock per schema serializes processes that open a fresh store at the same moment.

A store already at :data:`HEAD` is recognised with one query, without importing Alembic (a
quarter of a second, which every ``ttq backtest`` saving its run would pay).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ttquant.core.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"
HEAD = "0002"  # the newest revision in migrations/versions (a test keeps the two equal)
VERSION_TABLE = "alembic_version"


def _config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision according to Alembic's reading of the migration scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the store ships at least one migration"
    return head


def current_revision(conn: sa.Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _recorded_revisions(conn: sa.Connection) -> list[str]:
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return []
    return list(conn.scalars(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")))


def upgrade(conn: sa.Connection) -> None:
    """Migrate to head inside the caller's transaction on ``conn``."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext('ttquant.store.' || current_schema()))")
        )
    if _recorded_revisions(conn) == [HEAD]:
        return
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    current = current_revision(conn)
    if current is not None:
        scripts = ScriptDirectory.from_config(_config())
        try:
            scripts.get_revision(current)
        except CommandError:
            raise StoreError(
                f"the store's schema is at revision {current}, newer than this ttquant knows "
                f"(latest {head_revision()}): upgrade ttquant to use it"
            ) from None
        if current == scripts.get_current_head():
            return
    command.upgrade(_config(conn), "head")
