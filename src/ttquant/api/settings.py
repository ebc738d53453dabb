"""How ``ttq serve`` is configured: flags first, then ``TTQ_API_*`` environment variables.

Secrets (the bootstrap admin token, the JWT signing key) come from the environment only, never
from flags, so they don't show up in ``ps`` output or shell history.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ttquant.core.errors import ConfigError
from ttquant.monitor.health import HealthLimits
from ttquant.store.location import data_home

ADMIN_TOKEN_ENV = "TTQ_API_ADMIN_TOKEN"
JWT_SECRET_ENV = "TTQ_API_JWT_SECRET"
DEFAULT_PORT = 8000


@dataclass(frozen=True, slots=True)
class ApiSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    store_url: str | None = None  # None: the default store (TTQ_STORE_URL or the user's file)
    job_slots: int = 1  # jobs running at once, each in a process of its own
    max_queued_jobs: int = 100
    work_dir: Path = field(default_factory=lambda: data_home() / "jobs")
    data_root: Path | None = None  # when set, jobs may only read and write files under it
    admin_token: str | None = None  # created as an admin token at startup when missing
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    jwt_ttl_s: int = 3600
    ws_heartbeat_s: float = 5.0
    ws_queue: int = 10_000  # messages buffered per WebSocket client before it is dropped
    backtest_metrics_runs: int = 20  # stored runs exported as ttq_backtest_* gauges
    health: HealthLimits = field(default_factory=HealthLimits)
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be between 0 and 65535, got {self.port}")
        if self.job_slots < 1:
            raise ConfigError(f"--job-slots must be at least 1, got {self.job_slots}")
        if self.jwt_ttl_s < 1:
            raise ConfigError(f"the JWT lifetime must be positive, got {self.jwt_ttl_s}s")
        if len(self.jwt_secret) < 32:
            raise ConfigError(f"{JWT_SECRET_ENV} must be at least 32 characters long")

    @classmethod
    def from_env(cls, **overrides: object) -> ApiSettings:
        """Settings from ``overrides`` (flags) and the environment's secrets."""
        env: dict[str, object] = {}
        if token := os.environ.get(ADMIN_TOKEN_ENV, "").strip():
            env["admin_token"] = token
        if secret := os.environ.get(JWT_SECRET_ENV, "").strip():
            env["jwt_secret"] = secret
        values = {**env, **{k: v for k, v in overrides.items() if v is not None}}
        return cls(**values)  # type: ignore[arg-type]
