"""Node control, strategies, orders, positions, fills, balances, PnL, risk and the kill switch.

Every route goes through the attached :class:`~ttquant.api.node.NodeHandle`; without one they
answer 503. Reads are filtered to the caller's account; commands refuse other accounts' orders.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status

from ttquant.api.auth import Admin, ReadOnly, Role, Trader
from ttquant.api.node import NodeCommandError
from ttquant.api.schemas import (
    BalanceOut,
    CancelAllOut,
    FillOut,
    KillSwitchIn,
    NodeStatusOut,
    OrderIn,
    OrderOut,
    ParamsPatch,
    PnlOut,
    PositionOut,
    Problem,
    ReconciliationOut,
    RiskOut,
    StrategyOut,
)
from ttquant.api.services import Node

router = APIRouter(
    tags=["node"],
    responses={
        503: {"model": Problem, "description": "no trading node is attached"},
        409: {"model": Problem, "description": "the node refused the command in its state"},
    },
)

StrategyId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[\w.@:-]+$")]
OrderId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[\w.@:-]+$")]
NodeAction = Literal["start", "stop", "pause-entries", "resume-entries", "reload-config"]
StrategyAction = Literal["start", "stop", "pause"]


def _run(command: Any, *args: Any) -> Any:
    try:
        return command(*args)
    except NodeCommandError as exc:
        raise HTTPException(exc.status, detail=exc.detail) from None


@router.get("/node", response_model=NodeStatusOut)
def node_status(_: ReadOnly, node: Node) -> NodeStatusOut:
    return node.status()


@router.post("/node/{action}", response_model=NodeStatusOut)
def node_control(action: NodeAction, _: Admin, node: Node) -> NodeStatusOut:
    result: NodeStatusOut = _run(node.control, action)
    return result


@router.get("/strategies", response_model=list[StrategyOut])
def strategies(_: ReadOnly, node: Node) -> list[StrategyOut]:
    return node.strategies()


@router.post("/strategies/{strategy_id}/{action}", response_model=StrategyOut)
def strategy_action(
    strategy_id: StrategyId, action: StrategyAction, _: Trader, node: Node
) -> StrategyOut:
    result: StrategyOut = _run(node.strategy_action, strategy_id, action)
    return result


@router.get("/strategies/{strategy_id}/params", response_model=dict[str, Any])
def strategy_params(strategy_id: StrategyId, _: ReadOnly, node: Node) -> dict[str, Any]:
    for strategy in node.strategies():
        if strategy.strategy_id == strategy_id:
            return strategy.params
    raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no strategy {strategy_id!r}")


@router.patch("/strategies/{strategy_id}/params", response_model=StrategyOut)
def patch_params(strategy_id: StrategyId, body: ParamsPatch, _: Trader, node: Node) -> StrategyOut:
    """Change parameters that hot-reload; 409 names those that need a restart."""
    result: StrategyOut = _run(node.patch_params, strategy_id, body.params)
    return result


@router.get("/positions", response_model=list[PositionOut])
def positions(principal: ReadOnly, node: Node) -> list[PositionOut]:
    return node.positions(principal.account)


@router.get("/orders", response_model=list[OrderOut])
def orders(
    principal: ReadOnly,
    node: Node,
    open_only: Annotated[bool, Query(alias="open")] = False,
) -> list[OrderOut]:
    return node.orders(principal.account, open_only)


@router.post("/orders", response_model=OrderOut, status_code=status.HTTP_201_CREATED)
def submit_order(body: OrderIn, principal: Trader, node: Node) -> OrderOut:
    """A manual order; it passes the same pre-trade risk checks as a strategy's."""
    result: OrderOut = _run(node.submit_order, body, principal.account)
    return result


@router.delete("/orders/{client_order_id}", response_model=OrderOut)
def cancel_order(client_order_id: OrderId, principal: Trader, node: Node) -> OrderOut:
    result: OrderOut = _run(node.cancel_order, client_order_id, principal.account)
    return result


@router.delete("/orders", response_model=CancelAllOut)
def cancel_all(
    principal: Trader,
    node: Node,
    instrument_id: Annotated[str | None, Query(max_length=64)] = None,
) -> CancelAllOut:
    count: int = _run(node.cancel_all, principal.account, instrument_id)
    return CancelAllOut(canceled=count)


@router.get("/fills", response_model=list[FillOut])
def fills(
    principal: ReadOnly, node: Node, limit: Annotated[int, Query(ge=1, le=10_000)] = 500
) -> list[FillOut]:
    return node.fills(principal.account, limit)


@router.get("/balances", response_model=list[BalanceOut])
def balances(principal: ReadOnly, node: Node) -> list[BalanceOut]:
    return node.balances(principal.account)


@router.get("/pnl", response_model=PnlOut)
def pnl(principal: ReadOnly, node: Node) -> PnlOut:
    """PnL per strategy and instrument, for today, this week, this month and in total."""
    return node.pnl(principal.account)


@router.get("/risk", response_model=RiskOut)
def risk(_: ReadOnly, node: Node) -> RiskOut:
    return node.risk()


@router.post("/risk/kill-switch", response_model=RiskOut)
def kill_switch(body: KillSwitchIn, principal: Trader, node: Node) -> RiskOut:
    """On (trader): halt trading and cancel every open order. Off: admin only."""
    if principal.account is not None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="the kill switch acts on every account: a scoped token can't use it",
        )
    if not body.active and not principal.role.allows(Role.ADMIN):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="releasing the kill switch needs admin"
        )
    result: RiskOut = _run(node.kill_switch, body.active, body.reason)
    return result


@router.get("/reconciliation", response_model=ReconciliationOut)
def reconciliation(_: ReadOnly, node: Node) -> ReconciliationOut:
    return node.reconciliation()
