"""Binance request signing: HMAC-SHA256 of the query string, hex-encoded."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode


def signature(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signed_query(
    params: dict[str, str], secret: str, timestamp_ms: int, recv_window_ms: int
) -> str:
    """``params`` plus ``recvWindow`` and ``timestamp``, urlencoded, with ``signature`` last."""
    query = urlencode({**params, "recvWindow": str(recv_window_ms), "timestamp": str(timestamp_ms)})
    return f"{query}&signature={signature(secret, query)}"
