"""Run ``ttq serve`` as a real process on a loopback port, for the API tests."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

READY_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ApiServer:
    base: str
    admin_token: str
    home: Path
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/api/v1/ws"

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{self.base}/api/v1", headers=headers, timeout=30)

    def create_token(self, role: str, account: str | None = None, name: str = "test") -> str:
        with self.client(self.admin_token) as c:
            answer = c.post("/auth/tokens", json={"name": name, "role": role, "account": account})
        assert answer.status_code == 201, answer.text
        token: str = answer.json()["token"]
        return token

    def wait_job(
        self, job_id: str, token: str | None = None, timeout: float = 120
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.client(token or self.admin_token) as c:
            while True:
                job: dict[str, Any] = c.get(f"/jobs/{job_id}").json()
                if job["state"] in ("succeeded", "failed", "canceled"):
                    return job
                assert time.monotonic() < deadline, f"job {job_id} still {job['state']}"
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(home: Path, *args: str) -> ApiServer:
    """``ttq serve`` with a store and work folder under ``home`` and an admin token."""
    port = free_port()
    token = "ttq_" + secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "TTQ_HOME": str(home),
        "TTQ_API_ADMIN_TOKEN": token,
        "TTQ_API_JWT_SECRET": secrets.token_urlsafe(32),
    }
    env.pop("TTQ_STORE_URL", None)
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ttquant.cli.main", "serve", "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = ApiServer(f"http://127.0.0.1:{port}", token, home, log, process)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"ttq serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.base}/api/v1/ping", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"ttq serve did not answer: {log.read_text()[-2000:]}")
        time.sleep(0.2)
