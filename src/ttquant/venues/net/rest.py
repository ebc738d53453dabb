"""An HTTP client that classifies failures by whether the request may have taken effect."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from ttquant.venues.net.errors import RequestNotSentError, RequestOutcomeUnknownError

# raised before any byte of the request could reach the venue
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class RestClient:
    """Thin async wrapper over ``httpx.AsyncClient`` with one base URL and one timeout."""

    def __init__(self, base_url: str, timeout: float, name: str) -> None:
        self.name = name
        self.base_url = base_url
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        url = f"{path}?{query}" if query else path
        try:
            return await self._client.request(method, url, headers=headers, content=content)
        except _NOT_SENT as exc:
            raise RequestNotSentError(
                f"{self.name}: {method} {path} not sent: {_describe(exc)}"
            ) from exc
        except httpx.TransportError as exc:
            raise RequestOutcomeUnknownError(
                f"{self.name}: {method} {path} outcome unknown: {_describe(exc)}"
            ) from exc

    async def aclose(self) -> None:
        await self._client.aclose()


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__} {exc}".strip()
