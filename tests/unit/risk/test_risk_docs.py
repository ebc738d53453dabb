"""The risk examples in docs/backtesting.md run as printed."""

from __future__ import annotations

import re

from tests.conftest import REPO

DOCS = REPO / "docs" / "backtesting.md"


def test_the_run_time_limits_example_runs_verbatim() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    (example,) = [b for b in blocks if "RiskConfig(" in b]
    namespace: dict[str, object] = {}
    exec(compile(example, str(DOCS), "exec"), namespace)  # its own assertions run too
    assert "engine" in namespace
