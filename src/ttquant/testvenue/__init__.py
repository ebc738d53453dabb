"""A local exchange for tests and paper runs: replays real feeds, speaks Binance and OKX.

Build one with :func:`binance_venue` or :func:`okx_venue`, ``await venue.start()``, point an
adapter's URLs at ``venue.url`` / ``venue.ws_url``, and command faults through the venue's
methods. ``python -m ttquant.testvenue`` runs one as a process.
"""

from ttquant.testvenue.factory import binance_venue, okx_venue
from ttquant.testvenue.server import TestVenue

__all__ = ["TestVenue", "binance_venue", "okx_venue"]
