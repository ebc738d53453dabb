"""Fixtures for the data-loading tests: the shared real-data folder and a tiny CSV writer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real market data; CI always has it, so its absence is a failure, not a skip."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real market data folder {SHARED_DATA.resolve()} is missing (see README)")
    return SHARED_DATA


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[Sequence[Sequence[object]]], Path]:
    """Write rows (the first is the header) as ``bars.csv`` and return its path."""

    def write(rows: Sequence[Sequence[object]]) -> Path:
        path = tmp_path / "bars.csv"
        path.write_text("".join(",".join(str(x) for x in row) + "\n" for row in rows))
        return path

    return write
