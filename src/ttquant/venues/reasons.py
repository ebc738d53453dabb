"""Reject reason codes of live venues: the simulated venue's, plus what only live venues say.

Adapters map each exchange's error codes onto these, so a strategy or the risk engine reacts
to ``INSUFFICIENT_BALANCE`` the same way in a backtest, on paper and live.
"""

from __future__ import annotations

from typing import Final

from ttquant.venues.sim.venue import RejectReason


class LiveRejectReason(RejectReason):
    AUTHENTICATION: Final = "AUTHENTICATION"  # key, signature or permissions refused
    TIMESTAMP: Final = "TIMESTAMP"  # request time outside the venue's window
    RATE_LIMITED: Final = "RATE_LIMITED"
    DUPLICATE_ORDER_ID: Final = "DUPLICATE_ORDER_ID"
    UNSUPPORTED_ORDER: Final = "UNSUPPORTED_ORDER"  # an order type or list this venue lacks
    NOT_SENT: Final = "NOT_SENT"  # the request never reached the venue
    NOT_FOUND_AFTER_TIMEOUT: Final = "NOT_FOUND_AFTER_TIMEOUT"  # unknown send, venue has no trace
    VENUE_REJECTED: Final = "VENUE_REJECTED"  # any other refusal; the message has the details
