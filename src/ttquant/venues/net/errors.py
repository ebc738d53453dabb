"""How a request to a venue can fail, told apart by what we know about its effect.

The difference decides what an adapter may do next: a request that never left may be reported
as failed; one whose fate is unknown may have been executed and must be resolved by a query,
never sent again.
"""

from __future__ import annotations

from ttquant.core.errors import VenueError


class RequestNotSentError(VenueError):
    """The request certainly did not reach the venue (no connection, no free slot)."""


class RequestOutcomeUnknownError(VenueError):
    """The request may have reached the venue (timeout or broken connection after sending)."""


class VenueRejectedError(VenueError):
    """The venue answered with an error; ``code`` is the venue's own error code."""

    def __init__(self, venue: str, code: str, message: str, status: int = 0) -> None:
        super().__init__(f"{venue} error {code}: {message}")
        self.venue = venue
        self.code = code
        self.message = message
        self.status = status
