"""Who am I, JWT login, and API token management (admin)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, status

from ttquant.api.auth import Admin, ReadOnly, TokenInfo
from ttquant.api.schemas import (
    LoginIn,
    LoginOut,
    Me,
    Problem,
    Responses,
    TokenCreated,
    TokenIn,
    TokenOut,
)
from ttquant.api.services import Svc

router = APIRouter(prefix="/auth", tags=["auth"])

_401: Responses = {401: {"model": Problem, "description": "missing, invalid or revoked token"}}
_403: Responses = {403: {"model": Problem, "description": "the token's role is too low"}}


@router.post("/login", response_model=LoginOut, responses=_401)
async def login(body: LoginIn, svc: Svc) -> LoginOut:
    """Trade an API token for a JWT that expires (for browsers: keep the token out of storage)."""
    principal = await asyncio.to_thread(svc.tokens.verify, body.token)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="invalid or revoked token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    jwts = svc.auth.jwts
    return LoginOut(access_token=jwts.issue(principal), expires_in=jwts.ttl_s)


@router.get("/me", response_model=Me, responses=_401)
def me(principal: ReadOnly) -> Me:
    return Me(
        token_id=principal.token_id,
        name=principal.name,
        role=principal.role,
        account=principal.account,
    )


@router.get("/tokens", response_model=list[TokenOut], responses={**_401, **_403})
def list_tokens(_: Admin, svc: Svc) -> list[TokenOut]:
    return [_out(t) for t in svc.tokens.list()]


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    responses={**_401, **_403},
)
def create_token(body: TokenIn, principal: Admin, svc: Svc) -> TokenCreated:
    """A new token; its secret is in this answer only."""
    if principal.account is not None and body.account != principal.account:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"a token scoped to account {principal.account} can only create tokens "
            "scoped to that account",
        )
    info, secret = svc.tokens.create(body.name, body.role, body.account)
    return TokenCreated(**_out(info).model_dump(), token=secret)


@router.delete(
    "/tokens/{token_id}",
    response_model=TokenOut,
    responses={**_401, **_403, 404: {"model": Problem}},
)
def revoke_token(token_id: str, principal: Admin, svc: Svc) -> TokenOut:
    """Revoke a token and every JWT issued for it."""
    target = next((t for t in svc.tokens.list() if t.token_id == token_id), None)
    if target is None or not principal.sees(target.account) or not svc.tokens.revoke(token_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no active token {token_id!r}")
    revoked = next(t for t in svc.tokens.list() if t.token_id == token_id)
    return _out(revoked)


def _out(info: TokenInfo) -> TokenOut:
    return TokenOut(
        token_id=info.token_id,
        name=info.name,
        role=info.role,
        account=info.account,
        created_ns=info.created_ns,
        revoked_ns=info.revoked_ns,
    )
