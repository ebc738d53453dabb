"""Raw bytes of a market data file, decompressed, with a precise error for a broken file.

Compression is recognised by its magic bytes, not the file name, and decompressed here rather than
inside the CSV reader so that a broken archive is reported as what it is (a truncated gzip stream,
a zip with a bad checksum) instead of as a confusing parse error somewhere in the middle.
"""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from pathlib import Path
from typing import Final, Literal

import polars as pl

from ttquant.core.errors import DataError
from ttquant.data.columns import first_line

__all__ = ["Content", "csv_frame", "read_content"]

Content = tuple[bytes, Literal["text", "parquet", "ipc"]]

_GZIP: Final = b"\x1f\x8b"
_ZIP: Final = b"PK\x03\x04"
_PARQUET: Final = b"PAR1"
_IPC: Final = b"ARROW1"


def read_content(path: Path) -> Content:
    """The file's decompressed bytes and what they are: text, Parquet or Arrow IPC (Feather)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    if data.startswith(_GZIP):
        data = _gunzip(data, path)
    elif data.startswith(_ZIP):
        data = _unzip(data, path)
    if not data.strip():
        raise DataError(f"{path}: empty file")
    if data.startswith(_PARQUET):
        return data, "parquet"
    if data.startswith(_IPC):
        return data, "ipc"
    if b"\x00" in data[:4096]:
        raise DataError(f"{path}: not a text, Parquet or Feather file (binary content)")
    return data, "text"


def csv_frame(data: bytes, path: Path, *, has_header: bool) -> pl.DataFrame:
    """Every field as text, so that converting a column can name the line of a bad value."""
    try:
        return pl.read_csv(io.BytesIO(data), has_header=has_header, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{path}: unreadable as CSV: {first_line(exc)}") from None


def _gunzip(data: bytes, path: Path) -> bytes:
    try:
        return gzip.decompress(data)
    except EOFError:
        raise DataError(
            f"{path}: truncated gzip file: the compressed data ends before its end marker "
            f"({len(data):,} bytes; an interrupted download or copy?)"
        ) from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: corrupt gzip file ({first_line(exc)})") from None


def _unzip(data: bytes, path: Path) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                names = ", ".join(m.filename for m in members) or "none"
                raise DataError(f"{path}: a zip must hold exactly one data file; found {names}")
            return archive.read(members[0])
    except zipfile.BadZipFile as exc:
        raise DataError(f"{path}: corrupt or truncated zip archive ({first_line(exc)})") from None
    except (EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt zip member ({first_line(exc)})") from None
