"""API tokens (stored hashed), roles, optional JWT sessions, and the FastAPI dependencies.

A token is ``ttq_`` and 43 URL-safe characters: 256 random bits, shown once when created and
stored only as its SHA-256 digest. With that much entropy a fast hash is enough: there is nothing
to guess, so no password-hashing work factor is needed, and a lookup by digest is one indexed
query. Each token has a role and may be scoped to one trading account; a scoped token sees only
that account's data (orders, positions, fills, balances, its own jobs).

Roles are ordered: ``read_only`` < ``trader`` < ``admin``; an endpoint names the least role it
needs. A missing, unknown or revoked credential is 401, a role too low is 403.

``POST /auth/login`` trades a token for a JWT (HS256) that expires; a JWT names its token, and
is refused as soon as that token is revoked.

The tokens live in the trading-records store, in its table ``api_tokens`` (migration 0002), so
a token works for every API process that opens the same store.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final

import jwt
import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ttquant.core.errors import ConfigError
from ttquant.store.schema import api_tokens
from ttquant.store.store import TradingStore

TOKEN_PREFIX: Final = "ttq_"
_JWT_ALGORITHM: Final = "HS256"
_CACHE_TTL_S: Final = 5.0  # how long a verified token is trusted without a lookup


class Role(StrEnum):
    READ_ONLY = "read_only"
    TRADER = "trader"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.READ_ONLY: 0, Role.TRADER: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token behind the credential, with its role and account scope."""

    token_id: str
    name: str
    role: Role
    account: str | None

    def sees(self, account: str | None) -> bool:
        """Whether data of ``account`` is visible (None: data of no particular account)."""
        return self.account is None or self.account == account


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token_id: str
    name: str
    role: Role
    account: str | None
    created_ns: int
    revoked_ns: int | None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ConfigError(
            f"unknown role {value!r}: use {', '.join(r.value for r in Role)}"
        ) from None


class TokenStore:
    """Create, verify, list and revoke API tokens in the store's database."""

    def __init__(self, store: TradingStore) -> None:
        self.store = store
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def create(self, name: str, role: Role, account: str | None = None) -> tuple[TokenInfo, str]:
        """A new token; the secret is returned here and never again."""
        token = new_token()
        return self._insert(name, role, account, token), token

    def ensure(self, token: str, name: str, role: Role) -> TokenInfo:
        """Make ``token`` (e.g. from the environment) a valid token, unless it was revoked."""
        if not token.startswith(TOKEN_PREFIX) or len(token) < len(TOKEN_PREFIX) + 32:
            raise ConfigError(
                f"a configured token must start with {TOKEN_PREFIX!r} and have at least 32 "
                'characters after it (create one with: python -c "import secrets; '
                "print('ttq_' + secrets.token_urlsafe(32))\")"
            )
        existing = self._row_by_hash(digest(token))
        if existing is not None:
            return existing
        return self._insert(name, role, None, token)

    def _insert(self, name: str, role: Role, account: str | None, token: str) -> TokenInfo:
        info = TokenInfo(uuid.uuid4().hex[:12], name, role, account or None, time.time_ns(), None)
        with self.store.transaction() as conn:
            conn.execute(
                api_tokens.insert().values(
                    token_id=info.token_id,
                    name=info.name,
                    role=info.role.value,
                    account=info.account,
                    token_hash=digest(token),
                    created_ns=info.created_ns,
                )
            )
        return info

    def cached(self, token: str) -> Principal | None:
        """The principal of a token verified less than a few seconds ago (no I/O)."""
        with self._lock:
            found = self._cache.get(digest(token))
        if found is not None and time.monotonic() - found[1] < _CACHE_TTL_S:
            return found[0]
        return None

    def verify(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked token; None otherwise."""
        principal = self.cached(token)
        if principal is not None:
            return principal
        key = digest(token)
        now = time.monotonic()
        info = self._row_by_hash(key)
        if info is None or info.revoked_ns is not None:
            return None
        principal = Principal(info.token_id, info.name, info.role, info.account)
        with self._lock:
            self._cache[key] = (principal, now)
        return principal

    def active(self, token_id: str) -> TokenInfo | None:
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(api_tokens).where(
                    api_tokens.c.token_id == token_id, api_tokens.c.revoked_ns.is_(None)
                )
            ).first()
        return None if row is None else _info(row._mapping)

    def list(self) -> list[TokenInfo]:
        with self.store.read() as conn:
            rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.created_ns))
            return [_info(r._mapping) for r in rows]

    def revoke(self, token_id: str) -> bool:
        """Revoke a token (and every JWT issued for it); False when there is no such token."""
        with self.store.transaction() as conn:
            result = conn.execute(
                api_tokens.update()
                .where(api_tokens.c.token_id == token_id, api_tokens.c.revoked_ns.is_(None))
                .values(revoked_ns=time.time_ns())
            )
        with self._lock:
            self._cache.clear()
        return result.rowcount > 0

    def _row_by_hash(self, key: str) -> TokenInfo | None:
        with self.store.read() as conn:
            row = conn.execute(sa.select(api_tokens).where(api_tokens.c.token_hash == key)).first()
        return None if row is None else _info(row._mapping)


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        token_id=row["token_id"],
        name=row["name"],
        role=Role(row["role"]),
        account=row["account"],
        created_ns=row["created_ns"],
        revoked_ns=row["revoked_ns"],
    )


class JwtIssuer:
    """Short-lived HS256 tokens naming an API token; verified against the token's state."""

    def __init__(self, secret: str, ttl_s: int) -> None:
        self._secret = secret
        self.ttl_s = ttl_s

    def issue(self, principal: Principal) -> str:
        now = int(time.time())
        claims = {
            "sub": principal.token_id,
            "name": principal.name,
            "role": principal.role.value,
            "acct": principal.account,
            "iat": now,
            "exp": now + self.ttl_s,
        }
        return jwt.encode(claims, self._secret, algorithm=_JWT_ALGORITHM)

    def subject(self, token: str) -> str | None:
        """The API token id a valid, unexpired JWT names; None for anything else."""
        try:
            claims = jwt.decode(token, self._secret, algorithms=[_JWT_ALGORITHM])
        except jwt.PyJWTError:
            return None
        sub = claims.get("sub")
        return sub if isinstance(sub, str) else None


class Authenticator:
    """Turns a bearer credential (API token or JWT) into a :class:`Principal`."""

    def __init__(self, tokens: TokenStore, jwts: JwtIssuer) -> None:
        self.tokens = tokens
        self.jwts = jwts

    def principal(self, credential: str) -> Principal | None:
        if credential.startswith(TOKEN_PREFIX):
            return self.tokens.verify(credential)
        token_id = self.jwts.subject(credential)
        if token_id is None:
            return None
        info = self.tokens.active(token_id)
        if info is None:
            return None
        return Principal(info.token_id, info.name, info.role, info.account)


bearer = HTTPBearer(auto_error=False, description="an API token (ttq_...) or a JWT from /login")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller's principal; a database lookup (off the event loop) only on a cache miss."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized("missing bearer token (Authorization: Bearer ttq_...)")
    auth: Authenticator = request.app.state.auth
    credential = credentials.credentials
    principal = auth.tokens.cached(credential) if credential.startswith(TOKEN_PREFIX) else None
    if principal is None:
        principal = await asyncio.to_thread(auth.principal, credential)
    if principal is None:
        raise _unauthorized("invalid, expired or revoked token")
    return principal


def require(role: Role) -> Any:
    """A dependency giving the caller's principal, refusing roles below ``role`` with 403."""

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.role.allows(role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this needs the {role.value} role; the token has {principal.role.value}",
            )
        return principal

    check.required_role = role  # type: ignore[attr-defined]  # read by required_role()
    return Depends(check)


def required_role(dependant: Any) -> Role | None:
    """The role a route's dependencies demand (None: public), for its OpenAPI entry."""
    for dependency in dependant.dependencies:
        role = getattr(dependency.call, "required_role", None) or required_role(dependency)
        if role is not None:
            return role
    return None


ReadOnly = Annotated[Principal, require(Role.READ_ONLY)]
Trader = Annotated[Principal, require(Role.TRADER)]
Admin = Annotated[Principal, require(Role.ADMIN)]
