"""API latency under load, and WebSocket fan-out, on loopback.

1. HTTP: ``ttq serve`` in its own process; an open-loop load generator sends authenticated
   ``GET /api/v1/runs?limit=5`` (token check + a store query) at a fixed rate (default 500 req/s)
   and measures each latency from the moment the request was *due*, so a stalled server can't
   hide its queueing (no coordinated omission).
2. WebSocket: the API app runs in this process; a publisher thread publishes on a topic at a fixed
   rate (default 1,000 msg/s) through the hub, which fans out to N clients (default 100) running in
   two client processes; each message carries its publish time; clients count what they got and
   time the oldest message of each frame (the worst latency in it).

    python benchmarks/api_latency.py [--rate 500] [--seconds 10] [--clients 100] [--ws-rate 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _summary(latencies_s: list[float]) -> dict[str, float]:
    ms = np.array(latencies_s) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
    }


# -- HTTP ---------------------------------------------------------------------------------------
def http_benchmark(rate: float, seconds: float) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="ttq_bench_"))
    token = "ttq_" + secrets.token_urlsafe(32)
    port = _port()
    env = {**os.environ, "TTQ_HOME": str(home), "TTQ_API_ADMIN_TOKEN": token}
    env.pop("TTQ_STORE_URL", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ttquant.cli.main",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/ping", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
        return asyncio.run(_load(base, token, rate, seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _load(base: str, token: str, rate: float, seconds: float) -> dict[str, Any]:
    """Open loop: request i is due at start + i/rate, whether or not earlier ones returned."""
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base}/runs?limit=5"
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        for _ in range(50):  # warm up: connections, caches
            async with session.get(url) as answer:
                await answer.read()

        async def one(due: float) -> None:
            nonlocal errors
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as answer:
                    await answer.read()
                    errors += answer.status != 200
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
            latencies.append(time.perf_counter() - due)

        n = int(rate * seconds)
        tasks = []
        start = time.perf_counter()
        for i in range(n):
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {
        "requests": n,
        "errors": errors,
        "achieved_rps": round(n / elapsed, 1),
        **_summary(latencies),
    }


# -- WebSocket ------------------------------------------------------------------------------------
def ws_benchmark(clients: int, rate: float, seconds: float) -> dict[str, Any]:
    import uvicorn

    from ttquant.api.app import create_app
    from ttquant.api.settings import ApiSettings

    home = Path(tempfile.mkdtemp(prefix="ttq_bench_ws_"))
    token = "ttq_" + secrets.token_urlsafe(32)
    settings = ApiSettings(
        store_url=f"sqlite:///{home / 'records.sqlite'}",
        work_dir=home / "jobs",
        admin_token=token,
        ws_heartbeat_s=30,
    )
    app = create_app(settings)
    hub = app.state.services.hub
    hub.add_topic("bench", lambda principal: None)
    port = _port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    per_worker = [clients // 2, clients - clients // 2]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--ws-worker",
                str(k),
                "--port",
                str(port),
                "--token",
                token,
                "--seconds",
                str(seconds + 3),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in per_worker
        if k
    ]
    time.sleep(3)  # clients connect and subscribe
    n = int(rate * seconds)
    start = time.perf_counter()
    for i in range(n):
        due = start + i / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        hub.publish("bench", {"i": i, "t": time.time_ns()})
    published_s = time.perf_counter() - start
    results = [json.loads(w.communicate(timeout=seconds + 60)[0]) for w in workers]
    server.should_exit = True
    thread.join(timeout=10)
    latencies = [x for r in results for x in r["latencies"]]
    received = sum(r["received"] for r in results)
    return {
        "clients": clients,
        "messages": n,
        "publish_rate": round(n / published_s, 1),
        "delivered": received,
        "expected": n * clients,
        "dropped_clients": sum(r["closed"] for r in results),
        **_summary(latencies),
    }


async def _ws_clients(count: int, port: int, token: str, seconds: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    received = 0
    closed = 0

    async def client() -> None:
        nonlocal received, closed
        async with connect(f"ws://127.0.0.1:{port}/api/v1/ws", max_queue=None) as ws:
            await ws.send(json.dumps({"op": "auth", "token": token}))
            await ws.recv()
            await ws.send(json.dumps({"op": "subscribe", "topics": ["bench"]}))
            end = time.monotonic() + seconds
            try:
                while time.monotonic() < end:
                    try:
                        raw = await asyncio.wait_for(ws.recv(), timeout=end - time.monotonic())
                    except TimeoutError:
                        break
                    # A frame may batch messages, one per line: count the deltas and time the
                    # frame's first (oldest) one, so that the clients' own JSON decoding does
                    # not become what is measured.
                    text = str(raw)
                    count = text.count('"type":"delta"')
                    if count:
                        received += count
                        first = json.loads(text.partition("\n")[0])
                        latencies.append((time.time_ns() - first["data"]["t"]) / 1e9)
            except Exception:
                closed += 1

    await asyncio.gather(*(client() for _ in range(count)))
    return {"latencies": latencies, "received": received, "closed": closed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--ws-rate", type=float, default=1000.0)
    parser.add_argument("--ws-worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ws_worker:
        result = asyncio.run(_ws_clients(args.ws_worker, args.port, args.token, args.seconds))
        print(json.dumps(result))
        return
    http = http_benchmark(args.rate, args.seconds)
    print(f"HTTP GET /api/v1/runs at {args.rate:g} req/s for {args.seconds:g}s: {http}")
    ws = ws_benchmark(args.clients, args.ws_rate, args.seconds)
    print(f"WebSocket fan-out {args.clients} clients at {args.ws_rate:g} msg/s: {ws}")


if __name__ == "__main__":
    main()
