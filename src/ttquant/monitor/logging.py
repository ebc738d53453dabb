"""Structured JSON logs with correlation ids, secrets redacted, recent records kept in memory.

Every line is one JSON object: ``timestamp`` (ISO-8601 UTC), ``level``, ``logger``, ``event`` and
the fields the caller bound. Records from the standard library's ``logging`` (uvicorn, alembic,
ttquant modules that log the plain way) go through the same processors, so the stream stays
machine-readable whoever wrote the line.

A *correlation id* ties together the lines of one request or job: the API binds it per request
(the caller's ``X-Request-ID`` or a new one) with :func:`bind_correlation_id`, and every line
logged while handling it carries ``correlation_id``.

Secrets never reach the output: values of fields named like secrets (``token``, ``password``,
``authorization``...) are replaced, and so is anything anywhere in a line that looks like an
API token or a JWT, or equals a value registered with :meth:`Redactor.add`. The redaction runs
last before rendering, after exceptions are formatted, so a traceback can't leak one either.

:class:`LogBuffer` keeps the newest records for the API's ``/logs`` endpoint and its ``logs``
WebSocket topic.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Final, TextIO

import structlog
from structlog.contextvars import bind_contextvars, unbind_contextvars
from structlog.types import EventDict, Processor, WrappedLogger

REDACTED: Final = "[redacted]"
SECRET_FIELDS: Final = frozenset(
    {
        "token",
        "api_token",
        "access_token",
        "refresh_token",
        "password",
        "secret",
        "api_key",
        "api_secret",
        "authorization",
        "jwt",
        "jwt_secret",
    }
)
# ttquant API tokens ("ttq_" + 43 URL-safe characters) and JWTs (three base64url parts)
SECRET_PATTERNS: Final = re.compile(
    r"ttq_[A-Za-z0-9_-]{43}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
)
CORRELATION_ID: Final = "correlation_id"


class Redactor:
    """A structlog processor that removes secrets from every value of an event."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        """Never print ``secret`` (a configured password, a key read from the environment)."""
        if len(secret) >= 8:  # short strings would blank out ordinary words
            with self._lock:
                self._values = self._values | {secret}

    def scrub(self, text: str) -> str:
        text = SECRET_PATTERNS.sub(REDACTED, text)
        for secret in self._values:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {
                k: REDACTED if _is_secret_field(k) else self._clean(v) for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        return value

    def __call__(self, _logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
        for key, value in event.items():
            event[key] = REDACTED if _is_secret_field(key) else self._clean(value)
        return event


def _is_secret_field(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in SECRET_FIELDS


class LogBuffer:
    """The newest ``capacity`` records, numbered, with listeners told of each new one."""

    def __init__(self, capacity: int = 2000) -> None:
        self._records: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._seq = 0
        self._lock = threading.Lock()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    def subscribe(self, listener: Callable[[dict[str, Any]], None]) -> None:
        with self._lock:
            self._listeners = [*self._listeners, listener]

    def unsubscribe(self, listener: Callable[[dict[str, Any]], None]) -> None:
        with self._lock:
            self._listeners = [x for x in self._listeners if x is not listener]

    def records(
        self, *, after: int = 0, level: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Records numbered above ``after``, at ``level`` or above, the newest ``limit``."""
        floor = _level_number(level) if level else 0
        with self._lock:
            found = [
                r
                for r in self._records
                if r["seq"] > after and _level_number(r.get("level", "info")) >= floor
            ]
        return found[-limit:] if limit > 0 else []

    def __call__(self, _logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
        with self._lock:
            self._seq += 1
            record = {"seq": self._seq, **{k: _plain(v) for k, v in event.items()}}
            self._records.append(record)
            listeners = self._listeners
        for listener in listeners:
            listener(record)
        return event


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def _level_number(level: str) -> int:
    number = logging.getLevelName(level.upper())
    return number if isinstance(number, int) else 0


def bind_correlation_id(value: str | None = None) -> str:
    """Tag every line logged from this context on with ``value`` (a new id when None)."""
    cid = value or uuid.uuid4().hex
    bind_contextvars(**{CORRELATION_ID: cid})
    return cid


def clear_correlation_id() -> None:
    unbind_contextvars(CORRELATION_ID)


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler :func:`configure_logging` installs, so a second call replaces it."""


def configure_logging(
    level: str = "INFO",
    *,
    stream: TextIO | None = None,
    redactor: Redactor | None = None,
    buffer: LogBuffer | None = None,
) -> Redactor:
    """Send every log record, structlog's and the standard library's, as JSON to ``stream``.

    Returns the redactor in use, to register more secrets with.
    """
    redactor = redactor or Redactor()
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    final: list[Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.format_exc_info,
        redactor,
    ]
    if buffer is not None:
        final.append(buffer)
    final.append(structlog.processors.JSONRenderer(default=str))
    formatter = structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=final)
    handler = _OurHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return redactor


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
