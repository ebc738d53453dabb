"""Result files of research runs: tables as Parquet and CSV, JSON summaries, TOML configs.

Every file is written whole under a temporary name and renamed, so an interrupted run never
leaves a truncated file that looks complete.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from ttquant.core.errors import ConfigError

__all__ = ["prepare_folder", "write_json", "write_table", "write_text"]


def prepare_folder(path: str | Path) -> Path:
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output folder {out}: {exc.strerror}") from None
    return out


def write_table(folder: Path, name: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """``name.parquet`` and ``name.csv`` with one row per mapping (missing keys are null)."""
    frame = pl.from_dicts(list(rows), infer_schema_length=None) if rows else pl.DataFrame()
    _atomic(folder / f"{name}.parquet", frame.write_parquet)
    _atomic(folder / f"{name}.csv", frame.write_csv)


def write_json(path: Path, document: object) -> None:
    write_text(path, json.dumps(_finite(document), indent=2, default=str) + "\n")


def write_text(path: Path, text: str) -> None:
    _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
