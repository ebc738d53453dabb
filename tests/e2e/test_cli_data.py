"""``ttq data`` end to end: import, list, info, validate (--repair), resample, download, and
one-line errors for bad input."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import REPO
from tests.integration.test_catalog_download import BinanceRest
from tests.integration.test_catalog_download import binance as binance_server
from typer.testing import CliRunner

from ttquant.cli.main import app
from ttquant.data.catalog import Catalog
from ttquant.data.schema import DataType

runner = CliRunner()
BTC = "BTC/USDT@BINANCE"


@pytest.fixture
def binance() -> Iterator[BinanceRest]:
    yield from binance_server.__wrapped__()  # type: ignore[attr-defined]


def ttq(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def march_2023(tmp_path: Path, shared_data: Path) -> Path:
    """The BTC minutes of March 2023 (the month with the real outage) as a CSV."""
    source = shared_data / "bars_1m" / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz"
    with gzip.open(source, "rt") as f:
        header, *rows = f.read().splitlines()
    month = [r for r in rows if 1_677_628_800_000 <= int(r.split(",")[0]) < 1_680_307_200_000]
    path = tmp_path / "march.csv"
    path.write_text("\n".join([header, *month, month[100]]) + "\n")  # plus one duplicate row
    return path


def test_import_list_info_validate_repair_resample(tmp_path: Path, march_2023: Path) -> None:
    catalog = str(tmp_path / "catalog")
    code, out, _ = ttq(
        "data",
        "import",
        str(march_2023),
        "--catalog",
        catalog,
        "--symbol",
        "BTC/USDT",
        "--venue",
        "BINANCE",
        "--type",
        "bars_1m",
    )
    assert code == 0 and "BTC/USDT@BINANCE bars_1m" in out
    code, out, _ = ttq("data", "list", "--catalog", catalog)
    assert code == 0 and "BTC/USDT@BINANCE" in out and "44,560" in out
    code, out, _ = ttq("data", "validate", BTC, "--catalog", catalog)
    assert code == 1
    assert "2023-03-24T12:40:00Z gap: 80 bar(s) missing until 2023-03-24T14:00:00Z" in out
    code, out, _ = ttq("data", "validate", BTC, "--catalog", catalog, "--repair")
    assert code == 0 and "1 gaps recorded" in out
    code, out, _ = ttq("data", "validate", BTC, "--catalog", catalog)
    assert code == 0  # the gap is recorded: known, not a defect
    code, out, _ = ttq("data", "info", BTC, "--catalog", catalog)
    assert code == 0 and "recorded gaps: 1" in out and "2023-03-24T12:40:00Z" in out
    code, out, _ = ttq("data", "resample", BTC, "--to", "1h", "--catalog", catalog)
    assert code == 0 and "743 bars (1 incomplete)" in out
    hours = Catalog(catalog).read(BTC, DataType.bars("1h"))
    assert hours.height == 743  # 744 hours in March, 13:00 on the 24th had no trading


def test_validate_a_file_reports_its_duplicate(march_2023: Path) -> None:
    code, out, _ = ttq("data", "validate", "--file", str(march_2023), "--type", "bars_1m")
    assert code == 1
    assert "2 duplicate" in out and "1 gap" in out and "2023-03-01T01:40:00Z duplicate" in out
    # importing needs the instrument: one clear error, no traceback
    code, out, err = ttq(
        "data", "import", str(march_2023), "--catalog", str(march_2023.parent / "c"), "-t", "bars"
    )
    assert code == 2 and "error:" in err and "Traceback" not in err


def test_bad_files_give_one_line_errors(tmp_path: Path, shared_data: Path) -> None:
    whole = (shared_data / "bars_1m" / "binance_spot_SUIUSDT_1m_2024.csv.gz").read_bytes()
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[:100_000])
    code, _, err = ttq(
        "data",
        "import",
        str(cut),
        "--catalog",
        str(tmp_path / "c"),
        "--symbol",
        "SUI/USDT",
        "--venue",
        "BINANCE",
        "-t",
        "bars",
    )
    assert code == 2
    assert "truncated gzip file" in err and len(err.strip().splitlines()) == 1
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(
        "ts,open,high,low,close\n1704067200000,1,1,1,1\n1704067260,1,1,1,1\n1704067320000,1,1,1,1\n"
    )
    code, _, err = ttq(
        "data",
        "import",
        str(mixed),
        "--catalog",
        str(tmp_path / "c"),
        "--symbol",
        "X/Y",
        "--venue",
        "V",
        "-t",
        "bars_1m",
    )
    assert code == 2 and "line 3" in err and "mixed units" in err


def test_download_through_the_cli(tmp_path: Path, binance: BinanceRest) -> None:
    catalog = str(tmp_path / "catalog")
    args = [
        "data",
        "download",
        "--symbol",
        "BTC/USDT",
        "--since",
        "20220101",
        "--until",
        "20220102",
        "--api-url",
        binance.url,
        "--catalog",
        catalog,
    ]
    code, out, _ = ttq(*args)
    assert code == 0 and "1,440 rows" in out
    code, out, _ = ttq(*args)  # a rerun resumes from the last stored bar
    assert code == 0 and "resumed at 2022-01-01T23:59:00Z" in out
    assert Catalog(catalog).read(BTC, DataType.bars("1m")).height == 1440


def test_the_docs_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "data.md").read_text(), re.S)
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "docs/data.md", "exec"), {})
    assert (
        tmp_path / "catalog" / "BINANCE" / "BTC%2FUSDT" / "bars_1m" / "2024-01.parquet"
    ).exists()
