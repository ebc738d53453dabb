"""The WebSocket hub on a real server: auth, snapshot then numbered deltas, heartbeats, scopes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests.conftest import DEMO_DATA, REPO
from tests.integration._apikit import ApiServer, start_server
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    home = tmp_path_factory.mktemp("ws_home")
    running = start_server(home, "--data-root", str(REPO.parent), "--ws-heartbeat", "0.3")
    try:
        yield running
    finally:
        running.stop()


JOB = {
    "kind": "backtest",
    "config": {
        "venue": {"name": "BINANCE", "cash": 100_000, "fee_bps": 10},
        "data": [{"file": str(DEMO_DATA), "symbol": "BTC/USDT"}],
        "strategies": [{"name": "sma_cross", "params": {"fast": 10, "slow": 40}}],
    },
    "save": False,
}


_pending: dict[int, list[dict[str, Any]]] = {}


async def _next(ws: ClientConnection, kind: str, timeout: float = 30) -> dict[str, Any]:
    """The next message of type ``kind`` (heartbeats and others in between are skipped).

    A frame may carry several messages, one per line; those not consumed yet wait in
    ``_pending`` for the next call.
    """
    queue = _pending.setdefault(id(ws), [])
    async with asyncio.timeout(timeout):
        while True:
            while queue:
                message = queue.pop(0)
                if message["type"] == kind:
                    return message
            frame = await ws.recv()
            queue.extend(json.loads(line) for line in str(frame).split("\n"))


async def _login(ws: ClientConnection, token: str) -> dict[str, Any]:
    await ws.send(json.dumps({"op": "auth", "token": token}))
    return await _next(ws, "welcome")


def test_bad_or_missing_credentials_close_the_socket(server: ApiServer) -> None:
    async def scenario() -> list[int | None]:
        codes = []
        for first in ({"op": "auth", "token": "ttq_" + "y" * 43}, {"op": "subscribe"}):
            async with connect(server.ws_url) as ws:
                await ws.send(json.dumps(first))
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 10)
                codes.append(ws.close_code)
        return codes

    assert asyncio.run(scenario()) == [4401, 4401]


def test_snapshot_then_numbered_deltas_and_heartbeats(server: ApiServer) -> None:
    trader = server.create_token("trader")

    async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
        headers = {"Authorization": f"Bearer {trader}"}
        async with connect(server.ws_url, additional_headers=headers) as ws:
            welcome = await _next(ws, "welcome")
            assert "jobs" in welcome["topics"] and welcome["role"] == "trader"
            await ws.send(json.dumps({"op": "subscribe", "topics": ["jobs"]}))
            snapshot = await _next(ws, "snapshot")
            with server.client(trader) as c:
                job_id = (await asyncio.to_thread(c.post, "/jobs", json=JOB)).json()["job_id"]
            deltas = []
            while not deltas or deltas[-1]["data"]["state"] not in ("succeeded", "failed"):
                delta = await _next(ws, "delta", timeout=60)
                assert delta["data"]["job_id"] == job_id
                deltas.append(delta)
            heartbeat = await _next(ws, "heartbeat", timeout=5)
            return snapshot, deltas, heartbeat

    snapshot, deltas, heartbeat = asyncio.run(scenario())
    assert snapshot["topic"] == "jobs" and isinstance(snapshot["data"], list)
    seqs = [d["seq"] for d in deltas]
    assert seqs == list(range(snapshot["seq"] + 1, snapshot["seq"] + 1 + len(deltas)))
    states = [d["data"]["state"] for d in deltas]
    assert states[0] == "queued" and states[-1] == "succeeded" and "running" in states
    progress = [d["data"]["progress"] for d in deltas]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert heartbeat["ts_ns"] > 0


def test_scoped_clients_get_only_their_accounts_deltas(server: ApiServer) -> None:
    token_a = server.create_token("trader", account="acct-a")
    token_b = server.create_token("read_only", account="acct-b")

    async def scenario() -> tuple[list[str], list[str], dict[str, Any]]:
        async with connect(server.ws_url) as a, connect(server.ws_url) as b:
            await _login(a, token_a)
            await _login(b, token_b)
            for ws in (a, b):
                await ws.send(json.dumps({"op": "subscribe", "topics": ["jobs"]}))
                await _next(ws, "snapshot")
            await b.send(json.dumps({"op": "subscribe", "topics": ["logs"]}))
            refused = await _next(b, "error")
            with server.client(token_a) as c:
                job_id = (await asyncio.to_thread(c.post, "/jobs", json=JOB)).json()["job_id"]
            seen_a: list[str] = []
            while "succeeded" not in seen_a and "failed" not in seen_a:
                seen_a.append((await _next(a, "delta", timeout=60))["data"]["state"])
            seen_b: list[str] = []
            with contextlib.suppress(TimeoutError):  # nothing must come
                seen_b.append((await _next(b, "delta", timeout=1.5))["data"]["job_id"])
            assert job_id
            return seen_a, seen_b, refused

    seen_a, seen_b, refused = asyncio.run(scenario())
    assert seen_a[-1] == "succeeded"
    assert seen_b == []
    assert "not available to account-scoped tokens" in refused["message"]


def test_unknown_topics_and_ping(server: ApiServer) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with connect(server.ws_url) as ws:
            await _login(ws, server.admin_token)
            await ws.send(json.dumps({"op": "subscribe", "topics": ["nope"]}))
            error = await _next(ws, "error")
            await ws.send(json.dumps({"op": "ping"}))
            return error, await _next(ws, "pong")

    error, pong = asyncio.run(scenario())
    assert "unknown topic 'nope'" in error["message"] and "jobs" in error["message"]
    assert pong["ts_ns"] > 0
