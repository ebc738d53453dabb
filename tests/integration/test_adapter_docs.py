"""docs/adapters.md's example runs as written, against the local test venue."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from tests.conftest import REPO

pytestmark = pytest.mark.venue


def test_adapters_doc_example_runs() -> None:
    (block,) = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "adapters.md").read_text(), re.S)
    proc = subprocess.run(
        [sys.executable, "-c", block],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "SendRecord(client_order_id='demo-1'" in proc.stdout  # saved before it was sent
    assert "OrderAccepted(client_order_id='demo-1'" in proc.stdout
    assert "OrderFilled(client_order_id='demo-1'" in proc.stdout
    assert "BookDepth(instrument_id='BTC/USDT@BINANCE'" in proc.stdout
