"""Alembic environment for the trading-records schema.

``ttquant.store.migrate`` runs it with an open connection (``config.attributes["connection"]``)
inside the transaction that checked the schema version. A developer writing a new revision runs
Alembic against a scratch database instead::

    alembic -x url=sqlite:///scratch.sqlite -c src/ttquant/store/migrations/alembic.ini \
        revision --autogenerate -m "what changes"
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from ttquant.store.schema import metadata


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by table copy
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
else:
    with sa.create_engine(context.get_x_argument(as_dictionary=True)["url"]).begin() as conn:
        _run(conn)
