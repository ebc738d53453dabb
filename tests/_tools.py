"""External programs the tests need (promtool, prometheus), installed from Debian when missing.

``require_tool`` finds a program on PATH or installs its Debian package once (under a file
lock, so parallel xdist workers don't run apt-get twice). When it still can't be had, the test
fails in CI (``CI=true``: the checks it guards must run there) and is skipped elsewhere with
the reason.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

_LOCK = Path("/tmp/ttquant-test-tools.lock")


def require_tool(name: str, apt_package: str) -> str:
    """The path of program ``name``, installing ``apt_package`` first if needed."""
    found = shutil.which(name)
    if found:
        return found
    problem = _install(apt_package)
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} not available ({problem or f'installing {apt_package} did not provide it'})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _install(package: str) -> str | None:
    """Install a Debian package; the reason when that is impossible or failed."""
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine"
    if os.geteuid() != 0:
        return f"not root: run apt-get install {package}"
    with _LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        steps = [
            ["apt-get", "update", "-q"],
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", package],
        ]
        for step in steps:
            proc = subprocess.run(step, capture_output=True, text=True, env=env, check=False)
            if proc.returncode != 0 and step[1] == "install":
                return f"apt-get install {package} failed: {proc.stderr.strip()[-300:]}"
    return None
