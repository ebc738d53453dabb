"""Errors a user can act on.

Every error raised for bad input (a malformed file, an unknown strategy, an order that breaks an
instrument's rules) is a :class:`TTQuantError`. Its message is complete on one line, names the
thing at fault (file, row, parameter, order) and is shown to the user as-is by the CLI, without a
traceback. Anything else that escapes is a bug in ttquant.
"""

from __future__ import annotations


class TTQuantError(Exception):
    """Base class of errors that carry a user-facing, one-line message."""


class ConfigError(TTQuantError):
    """A configuration file, flag or strategy parameter is invalid."""


class DataError(TTQuantError):
    """A market data file or stream is malformed or violates a data invariant."""


class InstrumentError(TTQuantError):
    """A price or quantity breaks an instrument's rules, or the instrument is unknown."""


class OrderStateError(TTQuantError):
    """An order event would move an order through an illegal state transition."""


class StrategyError(TTQuantError):
    """A user strategy raised inside a callback; the message carries where and when."""


class VenueError(TTQuantError):
    """A venue refused a request, could not be reached, or answered in a way we cannot use."""


class StoreError(TTQuantError):
    """The trading-records store can't be opened, read or written (URL, server, schema, run id)."""


class TaskError(TTQuantError):
    """Tasks of a research run still failed after their retries; finished ones were kept."""


class ApiClientError(TTQuantError):
    """The ttquant API server refused a client's request or could not be reached."""
