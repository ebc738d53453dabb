"""The latest market data of the attached node: ticker (best bid/ask, last trade) and book."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from ttquant.api.auth import ReadOnly
from ttquant.api.market import BookOut, MarketView, TickerOut, market_view
from ttquant.api.node import NodeCommandError
from ttquant.api.schemas import Problem
from ttquant.api.services import Node

router = APIRouter(
    prefix="/market",
    tags=["node", "market"],
    responses={
        404: {
            "model": Problem,
            "description": "unknown instrument, no book for it, or a node without market data",
        },
        503: {"model": Problem, "description": "no trading node is attached"},
    },
)

InstrumentId = Annotated[
    str,
    Query(
        min_length=3,
        max_length=64,
        pattern=r"^[\w./:-]+@[\w.-]+$",
        description="an instrument id, e.g. BTC/USDT@BINANCE",
    ),
]


def _view(request: Request, node: Node) -> MarketView:
    state = request.app.state
    if not hasattr(state, "market_views"):
        state.market_views = {}
    view = market_view(node, state.market_views)
    if view is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail="the attached node serves no market data"
        )
    return view


@router.get("/ticker", response_model=TickerOut)
def ticker(
    request: Request, principal: ReadOnly, node: Node, instrument_id: InstrumentId
) -> TickerOut:
    """Best bid and ask (from quotes or the book, whichever is newer) and the last trade."""
    try:
        return _view(request, node).ticker(instrument_id, principal.account)
    except NodeCommandError as exc:
        raise HTTPException(exc.status, detail=exc.detail) from None


@router.get("/book", response_model=BookOut)
def book(
    request: Request,
    principal: ReadOnly,
    node: Node,
    instrument_id: InstrumentId,
    depth: Annotated[int, Query(ge=1, le=1000, description="levels per side")] = 10,
) -> BookOut:
    """The best ``depth`` levels of each side of the latest book the node received."""
    try:
        return _view(request, node).book(instrument_id, depth, principal.account)
    except NodeCommandError as exc:
        raise HTTPException(exc.status, detail=exc.detail) from None
