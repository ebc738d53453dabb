"""The dashboard: the single-page app in ``ttquant/api/web/``, served at ``/ui/``.

Plain files shipped inside the package (no CDN, no build step), so the dashboard works on a
machine without internet. Each answer carries a strict Content-Security-Policy: the page runs
only its own scripts and talks only to this server (HTTP and WebSocket), so even a strategy
name or log line crafted as markup could not run code in an operator's browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse, RedirectResponse

WEB_ROOT: Final = Path(__file__).resolve().parents[1] / "web"
UI_PREFIX: Final = "/ui"
_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate: a new ttquant version serves new files at once
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse(f"{UI_PREFIX}/", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.get(UI_PREFIX)
def ui_root() -> RedirectResponse:
    return RedirectResponse(f"{UI_PREFIX}/", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.get(UI_PREFIX + "/{path:path}")
def asset(path: str) -> FileResponse:
    """A file of the app; the app itself for ``/ui/``."""
    file = _resolve(path or "index.html")
    return FileResponse(file, media_type=_TYPES[file.suffix], headers=_HEADERS)


def _resolve(path: str) -> Path:
    """The file ``path`` names inside the app folder; 404 for anything else (``..`` included)."""
    file = (WEB_ROOT / path).resolve()
    if not file.is_relative_to(WEB_ROOT) or not file.is_file() or file.suffix not in _TYPES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no dashboard file {path!r}")
    return file
