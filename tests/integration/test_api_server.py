"""``ttq serve`` as a real server on loopback: auth, roles, jobs, runs, node seam, metrics, logs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import BTC_1M, DEMO_DATA, REPO
from tests.integration._apikit import ApiServer, start_server
from tests.unit.store.backends import demo_config

from ttquant.api.node import NO_NODE
from ttquant.engine.runner import run_backtest

NODE_READS = ["/node", "/strategies", "/positions", "/orders", "/fills", "/balances", "/pnl"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    home = tmp_path_factory.mktemp("api_home")
    running = start_server(home, "--data-root", str(REPO.parent), "--job-slots", "1")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def tokens(server: ApiServer) -> dict[str, str]:
    return {
        "read_only": server.create_token("read_only", name="viewer"),
        "trader": server.create_token("trader", name="desk"),
        "trader_a": server.create_token("trader", account="acct-a", name="desk a"),
        "trader_b": server.create_token("trader", account="acct-b", name="desk b"),
    }


def _backtest_job(fast: int, slow: int) -> dict[str, Any]:
    return {
        "kind": "backtest",
        "config": {
            "venue": {"name": "BINANCE", "cash": 100_000, "fee_bps": 10},
            "data": [{"file": str(DEMO_DATA.relative_to(REPO.parent)), "symbol": "BTC/USDT"}],
            "strategies": [{"name": "sma_cross", "params": {"fast": fast, "slow": slow}}],
        },
    }


def test_public_endpoints(server: ApiServer) -> None:
    with server.client() as c:
        assert c.get("/ping").json()["status"] == "ok"
        health = c.get("/health")
        assert health.status_code == 200 and health.json()["ok"]
        ready = c.get("/ready").json()
        checks = {x["name"]: x for x in ready["checks"]}
        assert set(checks) == {"event_loop", "store"}
        assert checks["store"] == {"name": "store", "ok": True, "detail": "reachable"}
        assert ready["ok"] == all(
            x["ok"] for x in ready["checks"]
        )  # the loop may lag on a busy box
        spec = c.get("/openapi.json").json()
    assert "/api/v1/jobs" in spec["paths"]
    assert spec["paths"]["/api/v1/jobs"]["post"]["x-required-role"] == "trader"
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_missing_wrong_and_low_role_tokens_are_refused(
    server: ApiServer, tokens: dict[str, str]
) -> None:
    wrong = "ttq_" + "x" * 43
    with server.client() as anonymous, server.client(wrong) as forged:
        for path in ("/runs", "/jobs", "/auth/me", "/positions", "/logs"):
            assert anonymous.get(path).status_code == 401, path
            assert forged.get(path).status_code == 401, path
        assert anonymous.get("/runs").headers["www-authenticate"] == "Bearer"
    with server.client(tokens["read_only"]) as viewer:
        assert viewer.get("/runs").status_code == 200
        assert viewer.post("/jobs", json=_backtest_job(10, 30)).status_code == 403
        assert viewer.post("/risk/kill-switch", json={"active": True}).status_code == 403
        assert viewer.get("/auth/tokens").status_code == 403
    with server.client(tokens["trader"]) as trader:
        assert trader.get("/auth/tokens").status_code == 403
        assert trader.post("/node/stop").status_code == 403
        refused = trader.post("/risk/kill-switch", json={"active": False})
        assert refused.status_code in (403, 503)  # role first when a node is attached


def test_jwt_login_and_revocation(server: ApiServer) -> None:
    token = server.create_token("trader", name="to revoke")
    with server.client() as c:
        assert c.post("/auth/login", json={"token": "ttq_nope"}).status_code == 401
        login = c.post("/auth/login", json={"token": token}).json()
    jwt = login["access_token"]
    assert login["expires_in"] > 0 and jwt.count(".") == 2
    with server.client(jwt) as c:
        me = c.get("/auth/me").json()
    assert me["role"] == "trader" and me["name"] == "to revoke"
    with server.client(server.admin_token) as admin:
        listed = {t["name"]: t for t in admin.get("/auth/tokens").json()}
        assert "token" not in listed["to revoke"]  # secrets are never listed
        revoked = admin.delete(f"/auth/tokens/{me['token_id']}")
        assert revoked.status_code == 200 and revoked.json()["revoked_ns"] is not None
        assert admin.delete(f"/auth/tokens/{me['token_id']}").status_code == 404
    for credential in (token, jwt):
        with server.client(credential) as c:
            assert c.get("/auth/me").status_code == 401


def test_backtest_job_runs_and_its_run_is_stored(server: ApiServer, tokens: dict[str, str]) -> None:
    with server.client(tokens["trader"]) as c:
        submitted = c.post("/jobs", json=_backtest_job(50, 200))
        assert submitted.status_code == 202, submitted.text
        job = server.wait_job(submitted.json()["job_id"])
        assert job["state"] == "succeeded", job["error"]
        assert job["progress"] == 1.0
        run_id = job["result"]["run_id"]
        run = c.get(f"/runs/{run_id}").json()
        equity = c.get(f"/runs/{run_id}/equity", params={"points": 100}).json()
        fills = c.get(f"/runs/{run_id}/fills").json()
    reference = run_backtest(demo_config(50, 200))  # the same backtest, in this process
    assert run["results_hash"] == reference.results_hash
    assert run["statistics"]["sharpe"] == pytest.approx(reference.statistics["sharpe"])
    assert run["n_fills"] == len(fills) == len(reference.fills)
    assert [f["price"] for f in fills] == [f.last_px for f in reference.fills]
    assert len(equity["equity"]) <= 101
    assert equity["equity"][-1] == pytest.approx(reference.final_equity)
    assert equity["ts_ns"] == sorted(equity["ts_ns"])


def test_compare_two_runs(server: ApiServer, tokens: dict[str, str]) -> None:
    with server.client(tokens["trader"]) as c:
        ids = [
            c.post("/jobs", json=_backtest_job(f, s)).json()["job_id"]
            for f, s in ((20, 60), (30, 90))
        ]
        runs = [server.wait_job(i)["result"]["run_id"] for i in ids]
        a = c.get(f"/runs/{runs[0]}").json()
        b = c.get(f"/runs/{runs[1]}").json()
        compared = c.get("/runs/compare", params={"a": runs[0][:6], "b": runs[1]}).json()
        assert c.get("/runs/compare", params={"a": "ffffffff", "b": runs[1]}).status_code == 404
    sharpe = next(s for s in compared["statistics"] if s["key"] == "sharpe")
    assert sharpe["delta"] == pytest.approx(b["statistics"]["sharpe"] - a["statistics"]["sharpe"])
    changed = {c["path"]: (c["a"], c["b"]) for c in compared["config"]}
    assert changed["strategies[0].params.fast"] == (20, 30)
    assert changed["strategies[0].params.slow"] == (60, 90)


def test_cancel_a_running_job(server: ApiServer, tokens: dict[str, str]) -> None:
    job = _backtest_job(10, 30)
    job["config"]["data"][0]["file"] = str(BTC_1M)  # three years: long enough to cancel
    with server.client(tokens["trader"]) as c:
        job_id = c.post("/jobs", json=job).json()["job_id"]
        deadline = time.monotonic() + 60
        while c.get(f"/jobs/{job_id}").json()["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        canceled = c.delete(f"/jobs/{job_id}").json()
        final = server.wait_job(job_id, timeout=30)
    assert canceled["state"] in ("running", "canceled")
    assert final["state"] == "canceled" and final["result"] is None


def test_bad_jobs_are_refused_with_a_reason(server: ApiServer, tokens: dict[str, str]) -> None:
    with server.client(tokens["trader"]) as c:
        missing = _backtest_job(10, 30)
        missing["config"]["data"][0]["file"] = "main/examples/data/nope.csv.gz"
        answer = c.post("/jobs", json=missing)
        assert answer.status_code == 422 and "not found on the server" in answer.json()["detail"]
        outside = _backtest_job(10, 30)
        outside["config"]["data"][0]["file"] = "/etc/passwd"
        answer = c.post("/jobs", json=outside)
        assert answer.status_code == 422 and "outside the server's data root" in answer.text
        typo = _backtest_job(10, 30)
        typo["config"]["venue"]["cahs"] = 5
        answer = c.post("/jobs", json=typo)
        assert answer.status_code == 422 and "cahs" in answer.text
        unknown = _backtest_job(10, 30)
        unknown["config"]["strategies"][0]["name"] = "no_such_strategy"
        job = server.wait_job(c.post("/jobs", json=unknown).json()["job_id"])
    assert job["state"] == "failed" and "no_such_strategy" in job["error"]


def test_node_endpoints_answer_503_without_a_node(
    server: ApiServer, tokens: dict[str, str]
) -> None:
    with server.client(tokens["trader"]) as c:
        for path in NODE_READS:
            answer = c.get(path)
            assert answer.status_code == 503, path
            assert answer.json()["detail"] == NO_NODE
        order = {"instrument_id": "BTC/USDT@BINANCE", "side": "buy", "quantity": 0.01}
        assert c.post("/orders", json=order).status_code == 503
        assert c.post("/risk/kill-switch", json={"active": True}).status_code == 503
    with server.client() as anonymous:
        assert anonymous.get("/positions").status_code == 401  # auth before availability


def test_account_scoped_tokens_see_only_their_jobs(
    server: ApiServer, tokens: dict[str, str]
) -> None:
    with server.client(tokens["trader_a"]) as a:
        job_id = a.post("/jobs", json=_backtest_job(15, 45)).json()["job_id"]
        assert any(j["job_id"] == job_id for j in a.get("/jobs").json())
        assert a.get("/logs").status_code == 403  # process-wide
    with server.client(tokens["trader_b"]) as b:
        assert all(j["account"] == "acct-b" for j in b.get("/jobs").json())
        assert b.get(f"/jobs/{job_id}").status_code == 404
        assert b.delete(f"/jobs/{job_id}").status_code == 404
    with server.client(server.admin_token) as admin:
        assert admin.get(f"/jobs/{job_id}").json()["account"] == "acct-a"
    server.wait_job(job_id)


def test_metrics_endpoint(server: ApiServer, tokens: dict[str, str]) -> None:
    with server.client(tokens["trader"]) as c:
        job = server.wait_job(c.post("/jobs", json=_backtest_job(40, 120)).json()["job_id"])
    with server.client(tokens["read_only"]) as c:
        c.get("/runs")
    text = httpx.get(f"{server.base}/metrics", timeout=10).text
    assert 'ttq_http_requests_total{method="GET",route="/runs",status="200"}' in text
    assert "ttq_build_info{" in text and "ttq_event_loop_lag_seconds{" in text
    assert (
        f'ttq_backtest_sharpe{{instruments="BTC/USDT@BINANCE",run="{job["result"]["run_id"]}"'
        in text
    )
    assert 'ttq_jobs{kind="backtest",state="succeeded"}' in text


def test_logs_have_correlation_ids_and_no_secrets(
    server: ApiServer, tokens: dict[str, str]
) -> None:
    with server.client(server.admin_token) as c:
        answer = c.get("/runs", headers={"X-Request-ID": "trace-me-42"})
        assert answer.headers["x-request-id"] == "trace-me-42"
        records = c.get("/logs", params={"limit": 2000}).json()["records"]
    mine = [r for r in records if r.get("correlation_id") == "trace-me-42"]
    assert mine and mine[0]["route"] == "/runs" and mine[0]["status"] == 200
    text = server.log.read_text()
    assert '"correlation_id": "trace-me-42"' in text
    for secret in (server.admin_token, *tokens.values()):
        assert secret not in text
