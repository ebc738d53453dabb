"""The REST client of ``ttq trade`` and ``ttq console``: where the API is, the token, errors.

The server comes from ``--url`` or ``TTQ_API_URL`` (default ``http://127.0.0.1:8000``), the
token from ``--token`` or ``TTQ_API_TOKEN`` (the environment keeps it out of ``ps`` and shell
history). Every failure becomes one :class:`~ttquant.core.errors.ApiClientError` line that says
what to do: the server's own ``detail`` when it answered, the connection problem when it did not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Final

import httpx

from ttquant.core.errors import ApiClientError

URL_ENV: Final = "TTQ_API_URL"
TOKEN_ENV: Final = "TTQ_API_TOKEN"
DEFAULT_URL: Final = "http://127.0.0.1:8000"
API_PREFIX: Final = "/api/v1"


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    token: str

    @classmethod
    def resolve(cls, url: str | None, token: str | None) -> Endpoint:
        """Flags first, then the environment; an error naming both when the token is missing."""
        base = (url or os.environ.get(URL_ENV, "") or DEFAULT_URL).strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ApiClientError(f"--url must start with http:// or https://, got {base!r}")
        secret = (token or os.environ.get(TOKEN_ENV, "")).strip()
        if not secret:
            raise ApiClientError(f"no API token: set {TOKEN_ENV} or pass --token")
        return cls(base, secret)

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http") + API_PREFIX + "/ws"


class ApiClient:
    """JSON over HTTP to one server; each call returns the decoded body or raises."""

    def __init__(self, endpoint: Endpoint, timeout: float = 15.0) -> None:
        self.endpoint = endpoint
        self._http = httpx.Client(
            base_url=endpoint.url + API_PREFIX,
            headers={"Authorization": f"Bearer {endpoint.token}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params=_present(params))

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, json=body)

    def delete(self, path: str, **params: Any) -> Any:
        return self._call("DELETE", path, params=_present(params))

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiClientError(
                f"can't reach the ttquant API at {self.endpoint.url} ({_reason(exc)}): is "
                f"`ttq serve` running there? (--url or {URL_ENV})"
            ) from None
        if response.is_success:
            return response.json() if response.content else None
        detail = _detail(response)
        if response.status_code == 401:
            raise ApiClientError(f"the API refused the token: {detail} (--token or {TOKEN_ENV})")
        raise ApiClientError(f"{method} {path}: {detail} (HTTP {response.status_code})")


def _present(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):  # a request the server's validation refused
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', [])[1:]) or 'request'}: {d.get('msg')}"
            for d in detail
            if isinstance(d, dict)
        )
    return response.reason_phrase


def _reason(exc: httpx.TransportError) -> str:
    return str(exc).strip() or type(exc).__name__
