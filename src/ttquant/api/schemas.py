"""Request and response bodies of the REST API (they make up its OpenAPI document).

Timestamps are int64 nanoseconds UTC, as everywhere in ttquant; names end in ``_ns``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ttquant.api.auth import Role

Responses = dict[int | str, dict[str, Any]]  # extra answers of a route, for the OpenAPI document
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w.@/:-]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- system -----------------------------------------------------------------------------------
class Ping(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    time_ns: int


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class HealthOut(BaseModel):
    ok: bool
    checks: list[CheckOut]


class Problem(BaseModel):
    """The body of every error answer."""

    detail: str


# -- auth ---------------------------------------------------------------------------------------
class Me(BaseModel):
    token_id: str
    name: str
    role: Role
    account: str | None


class TokenIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w .@/:()-]+$")]
    role: Role
    account: Name | None = None


class TokenOut(BaseModel):
    token_id: str
    name: str
    role: Role
    account: str | None
    created_ns: int
    revoked_ns: int | None


class TokenCreated(TokenOut):
    token: str = Field(description="the secret: shown once, store it now")


class LoginIn(Strict):
    token: Annotated[str, Field(min_length=1, max_length=200)]


class LoginOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


# -- runs ---------------------------------------------------------------------------------------
class RunSummary(BaseModel):
    run_id: str
    kind: str
    created_ns: int
    strategy: str
    instruments: str
    start_ns: int | None
    end_ns: int | None
    final_equity: float | None
    n_orders: int
    n_fills: int
    n_trades: int
    results_hash: str


class RunOut(RunSummary):
    config: dict[str, Any]
    statistics: dict[str, Any]
    ttquant_version: str


class EquityOut(BaseModel):
    run_id: str
    ts_ns: list[int]
    equity: list[float]


class StatisticChangeOut(BaseModel):
    key: str
    a: Any
    b: Any
    delta: float | None


class ConfigChangeOut(BaseModel):
    path: str
    a: Any
    b: Any


class CompareOut(BaseModel):
    a: RunSummary
    b: RunSummary
    statistics: list[StatisticChangeOut]
    config: list[ConfigChangeOut]


class FillOut(BaseModel):
    trade_id: str
    client_order_id: str
    venue_order_id: str
    strategy_id: str
    instrument_id: str
    side: str
    qty: float
    price: float
    commission: float
    commission_currency: str
    liquidity_side: str
    ts_event: int


# -- jobs ---------------------------------------------------------------------------------------
Config = Annotated[
    dict[str, Any],
    Field(description="a backtest config, as the TOML file's tables (ttquant.engine.config)"),
]
Assignments = Annotated[
    dict[str, str], Field(description="parameter name -> spec, as the CLI's NAME=SPEC")
]
Duration = Annotated[str, Field(pattern=r"^\d+[smhdw]$", description="e.g. 90d, 12h, 4w, 30m")]


class BacktestJobIn(Strict):
    kind: Literal["backtest"]
    config: Config
    save: bool = Field(True, description="save the run in the store")


class SweepJobIn(Strict):
    kind: Literal["sweep"]
    config: Config
    grid: Assignments = Field(default_factory=dict)
    fixed: Assignments = Field(default_factory=dict)
    random: Annotated[int, Field(ge=1, le=100_000)] | None = None
    seed: Annotated[int, Field(ge=0, le=2**31)] = 0
    engine: Literal["auto", "vectorized", "event"] = "auto"
    objective: Annotated[str, Field(min_length=1, max_length=64)] = "sharpe"


class WalkForwardJobIn(Strict):
    kind: Literal["walkforward"]
    config: Config
    in_sample: Duration
    out_of_sample: Duration
    step: Duration | None = None
    anchored: bool = False
    params: Assignments = Field(default_factory=dict)
    fixed: Assignments = Field(default_factory=dict)
    optimizer: Literal["grid", "tpe", "cmaes", "random"] = "grid"
    trials: Annotated[int, Field(ge=1, le=10_000)] = 50
    objective: Annotated[str, Field(min_length=1, max_length=64)] = "sharpe"


class DownloadJobIn(Strict):
    kind: Literal["download"]
    exchange: Annotated[str, Field(pattern=r"^[a-z0-9]{2,32}$")]
    symbol: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20})?$")]
    timeframe: Duration = "1m"
    since: Annotated[str, Field(pattern=r"^\d{8}$", description="YYYYMMDD, UTC")]
    until: Annotated[str, Field(pattern=r"^\d{8}$")] | None = None
    catalog: Annotated[str, Field(min_length=1, max_length=500)]
    api_url: Annotated[str, Field(pattern=r"^https?://", max_length=500)] | None = None


JobIn = Annotated[
    BacktestJobIn | SweepJobIn | WalkForwardJobIn | DownloadJobIn, Field(discriminator="kind")
]
JobKind = Literal["backtest", "sweep", "walkforward", "download"]
JobState = Literal["queued", "running", "succeeded", "failed", "canceled"]


class JobOut(BaseModel):
    job_id: str
    kind: JobKind
    state: JobState
    progress: float = Field(description="0..1")
    submitted_ns: int
    started_ns: int | None
    finished_ns: int | None
    account: str | None
    request: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None


# -- logs ---------------------------------------------------------------------------------------
class LogsOut(BaseModel):
    records: list[dict[str, Any]]
    last_seq: int


# -- node ---------------------------------------------------------------------------------------
Side = Literal["buy", "sell"]


class NodeStatusOut(BaseModel):
    state: str
    mode: Literal["paper", "live", "sandbox"]
    trader_id: str
    started_ns: int | None
    entries_paused: bool


class StrategyOut(BaseModel):
    strategy_id: str
    name: str
    state: str
    instruments: list[str]
    params: dict[str, Any]
    hot_params: list[str] = Field(description="parameters that change without a restart")


class ParamsPatch(Strict):
    params: dict[str, Any]


class PositionOut(BaseModel):
    account: str
    strategy_id: str
    instrument_id: str
    quantity: float
    avg_px: float
    last_price: float | None
    unrealized_pnl: float
    realized_pnl: float


class OrderOut(BaseModel):
    account: str
    client_order_id: str
    venue_order_id: str
    strategy_id: str
    instrument_id: str
    side: Side
    order_type: str
    quantity: float
    price: float | None
    trigger_price: float | None
    status: str
    filled_qty: float
    avg_px: float | None
    ts_init: int
    ts_last: int


class OrderIn(Strict):
    instrument_id: Annotated[str, Field(min_length=3, max_length=64)]
    side: Side
    quantity: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    order_type: Literal["market", "limit"] = "market"
    price: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    strategy_id: Name = "manual"


class CancelAllOut(BaseModel):
    canceled: int


class BalanceOut(BaseModel):
    account: str
    currency: str
    total: float
    locked: float
    free: float


class PnlRow(BaseModel):
    period: Literal["day", "week", "month", "total"]
    strategy_id: str
    instrument_id: str
    realized: float
    unrealized: float
    commissions: float


class PnlOut(BaseModel):
    equity: float
    rows: list[PnlRow]


class RiskOut(BaseModel):
    state: str
    kill_switch: bool
    scopes: dict[str, str]
    denials: dict[str, int]
    limits: dict[str, Any]


class KillSwitchIn(Strict):
    active: bool
    reason: Annotated[str, Field(max_length=200)] = "api"


class ReconciliationOut(BaseModel):
    ok: bool
    last_run_ns: int | None
    mismatches: list[dict[str, Any]]
