"""OKX v5 signing: base64 HMAC-SHA256 of timestamp + method + request path + body."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime


def sign(secret: str, timestamp: str, method: str, path: str, body: str = "") -> str:
    """``path`` includes the query string of a GET; ``body`` is the JSON text of a POST."""
    message = f"{timestamp}{method.upper()}{path}{body}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def iso_timestamp(ns: int) -> str:
    """REST header time: ISO 8601 UTC with milliseconds, e.g. ``2020-12-08T09:08:57.715Z``."""
    moment = datetime.fromtimestamp(ns // 1_000_000 / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ns // 1_000_000 % 1000:03d}Z"


def login_args(api_key: str, secret: str, passphrase: str, ns: int) -> dict[str, str]:
    """The private WebSocket's login arguments (time in whole seconds)."""
    timestamp = str(ns // 1_000_000_000)
    return {
        "apiKey": api_key,
        "passphrase": passphrase,
        "timestamp": timestamp,
        "sign": sign(secret, timestamp, "GET", "/users/self/verify"),
    }
