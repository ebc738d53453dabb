"""The installed ttquant version, for ``/ping`` and ``ttq_build_info``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def _version() -> str:
    try:
        return version("ttquant")
    except PackageNotFoundError:
        return "unknown"


VERSION = _version()
