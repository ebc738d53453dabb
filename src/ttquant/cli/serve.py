"""``ttq serve``: the REST + WebSocket API (and ``/metrics``) on uvicorn."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from ttquant.api.settings import DEFAULT_PORT


def serve(
    host: Annotated[
        str, typer.Option(help="address to bind; 0.0.0.0 exposes the API to the network")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = DEFAULT_PORT,
    db: Annotated[
        str | None, typer.Option("--db", help="records store URL (default: see ttq runs --help)")
    ] = None,
    job_slots: Annotated[int, typer.Option(help="jobs running at once")] = 1,
    work_dir: Annotated[
        Path | None, typer.Option(help="where jobs write their output (default: TTQ_HOME/jobs)")
    ] = None,
    data_root: Annotated[
        Path | None,
        typer.Option(help="jobs may only read and write files under this folder"),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="also serve /metrics on this port (besides the API's /metrics)"),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
    ws_heartbeat: Annotated[
        float, typer.Option(help="seconds between WebSocket heartbeats", min=0.05)
    ] = 5.0,
    node: Annotated[
        Path | None,
        typer.Option("--node", help="run this trading node (config TOML) and attach it"),
    ] = None,
    mode: Annotated[
        str | None, typer.Option("--mode", help="with --node: paper or live (default: its config)")
    ] = None,
) -> None:
    """Serve the API under /api/v1 (OpenAPI: /api/v1/docs) and Prometheus metrics at /metrics.

    Secrets come from the environment: TTQ_API_ADMIN_TOKEN (an admin token to accept) and
    TTQ_API_JWT_SECRET (the key JWTs are signed with; random per start when unset). With neither
    that variable nor any token in the store, a new admin token is printed once at startup.
    With --node the trading node runs in this process (as ``ttq node run`` would) and stops
    gracefully with the server.
    """
    from ttquant.cli.main import _user_errors, err

    with _user_errors():
        import uvicorn

        from ttquant.api.app import create_app
        from ttquant.api.auth import Role
        from ttquant.api.settings import ApiSettings
        from ttquant.core.errors import ConfigError
        from ttquant.monitor.logging import LogBuffer, configure_logging
        from ttquant.monitor.metrics import MetricsServer

        if log_level.lower() not in ("debug", "info", "warning", "error"):
            raise ConfigError(
                f"--log-level must be debug, info, warning or error, got {log_level!r}"
            )
        settings = ApiSettings.from_env(
            host=host,
            port=port,
            store_url=db,
            job_slots=job_slots,
            work_dir=work_dir,
            data_root=data_root.resolve() if data_root else None,
            log_level=log_level.upper(),
            ws_heartbeat_s=ws_heartbeat,
        )
        buffer = LogBuffer()
        redactor = configure_logging(settings.log_level, buffer=buffer)
        runner = None
        if node is not None:
            from ttquant.api.trading_node import NodeRunner

            runner = NodeRunner(node, mode)
            # uvicorn re-raises the SIGTERM it handled once it has shut down: unwind through
            # the finally below (which stops the node gracefully) instead of dying at once
            signal.signal(signal.SIGTERM, _unwind)
        try:
            handle = runner.start() if runner is not None else None
            app = create_app(settings, handle, log_buffer=buffer, redactor=redactor)
            tokens = app.state.services.tokens
            if not any(t.revoked_ns is None for t in tokens.list()):
                _, secret = tokens.create("bootstrap admin", Role.ADMIN)
                err.print(
                    f"created an admin token (shown once, keep it): {secret}",
                    highlight=False,
                    soft_wrap=True,
                )
            side = None
            if metrics_port is not None:
                side = MetricsServer(app.state.services.metrics.registry, host, metrics_port)
            try:
                uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
            finally:
                if side is not None:
                    side.close()
        finally:
            if runner is not None:
                runner.stop()


def _unwind(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
