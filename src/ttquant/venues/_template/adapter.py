"""Template of an exchange adapter: every method a venue must provide, and what it must do.

Copy this package to ``venues/<exchange>/``, rename the classes, and replace each
``NotImplementedError`` with the exchange's calls. Keep parsing in a ``parse.py`` of pure
functions (message struct in, event or report out) so it can be tested on recorded messages,
and message shapes in ``messages.py`` as msgspec structs. What the base class already does for
you (do not redo it): client order ids and ``save_before_send``, unknown-send resolution,
exactly-once acceptance and fills, back-filling fills a terminal report counts, cancel and
modify flows, thread-safe commands. The tests in ``tests/unit/venues/test_template.py`` keep
this template in step with the base class.
"""

from __future__ import annotations

from ttquant.model.data import BarType
from ttquant.model.instruments import Instrument
from ttquant.venues.adapter import AdapterConfig, LiveAdapter, TrackedOrder
from ttquant.venues.reports import FillReport, OrderReport


class TemplateConfig(AdapterConfig, kw_only=True):
    """Add the exchange's endpoints and options; keep production URLs as defaults."""

    rest_url: str = "https://api.example.com"
    ws_url: str = "wss://stream.example.com"


class TemplateAdapter(LiveAdapter):
    def venue_symbol(self, instrument: Instrument) -> str:
        """Map ``BTC/USDT`` (spot), ``BTC/USDT:USDT`` (perpetual) to the exchange's symbol."""
        raise NotImplementedError

    async def _connect(self) -> None:
        """Sync the clock, authenticate, open the private stream (a ``WsFeed`` whose
        ``on_open`` logs in and subscribes, and after a reconnect calls ``resync_orders``);
        fail with a one-line ``VenueError`` when credentials are refused."""
        raise NotImplementedError

    async def _disconnect(self) -> None:
        """Stop every feed and close the HTTP client."""
        raise NotImplementedError

    async def subscribe_quotes(self, instrument_id: str) -> None:
        """Open (or reuse) the public ``WsFeed`` with ``on_stale=self._feed_stale_changed``,
        add it to ``self.market_feeds``, subscribe, and resubscribe in its ``on_open``. Emit
        ``QuoteTick`` through ``self._emit_data``. Trades, bars and books follow the same
        pattern; a book must be rebuilt from a snapshot after every reconnect and gap."""
        raise NotImplementedError

    async def subscribe_trades(self, instrument_id: str) -> None:
        raise NotImplementedError

    async def subscribe_bars(self, bar_type: BarType) -> None:
        raise NotImplementedError

    async def subscribe_book(self, instrument_id: str) -> None:
        raise NotImplementedError

    async def _place(self, track: TrackedOrder) -> OrderReport:
        """Send the order under ``track.venue_client_id``; return the venue's answer as a
        report. Let ``RequestNotSentError``/``RequestOutcomeUnknownError`` (from the REST client)
        and ``VenueRejectedError`` (the exchange's error code) propagate: the base class
        decides what each means."""
        raise NotImplementedError

    async def _cancel_order(self, track: TrackedOrder) -> OrderReport | None:
        raise NotImplementedError

    async def _amend(
        self, track: TrackedOrder, quantity: float, price: float | None, trigger_price: float | None
    ) -> OrderReport:
        """Raise ``VenueRejectedError`` if the exchange cannot modify; a cancel-replace must
        ``self.rebind`` the track to the new client id (saved before sending)."""
        raise NotImplementedError

    async def _query(self, track: TrackedOrder) -> OrderReport | None:
        """None only when the venue says the order does not exist."""
        raise NotImplementedError

    async def _order_fills(self, track: TrackedOrder) -> list[FillReport]:
        raise NotImplementedError
