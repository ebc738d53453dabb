"""Where the trading-records store lives when the user names none.

The default is one SQLite file in the user's data folder, so ``ttq backtest`` records its runs
with no setup: ``$TTQ_HOME`` when set (tests and containers point it at a folder of their own),
else the platform's user data folder (``~/.local/share/ttquant`` on Linux). ``TTQ_STORE_URL``
points every command at another database, such as a shared PostgreSQL server.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_ENV = "TTQ_HOME"
STORE_URL_ENV = "TTQ_STORE_URL"
STORE_FILE = "records.sqlite"


def data_home() -> Path:
    """The folder for ttquant's own files (not created here)."""
    home = os.environ.get(HOME_ENV, "").strip()
    return Path(home).expanduser() if home else Path(platformdirs.user_data_dir("ttquant"))


def default_store_url() -> str:
    """``$TTQ_STORE_URL``, else the SQLite file in :func:`data_home`."""
    url = os.environ.get(STORE_URL_ENV, "").strip()
    return url or f"sqlite:///{data_home() / STORE_FILE}"
