"""API tokens in the store (SQLite and PostgreSQL), roles, JWTs."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from ttquant.api.auth import (
    Authenticator,
    JwtIssuer,
    Principal,
    Role,
    TokenStore,
    api_tokens,
    parse_role,
)
from ttquant.core.errors import ConfigError
from ttquant.store import open_store

SECRET = "k" * 40


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.allows(Role.TRADER) and Role.TRADER.allows(Role.READ_ONLY)
    assert not Role.READ_ONLY.allows(Role.TRADER) and not Role.TRADER.allows(Role.ADMIN)
    assert parse_role("trader") is Role.TRADER
    with pytest.raises(ConfigError, match="unknown role 'root': use read_only, trader, admin"):
        parse_role("root")


def test_tokens_are_stored_hashed_verified_and_revoked(store_url: str) -> None:
    with open_store(store_url) as store:
        tokens = TokenStore(store)
        info, secret = tokens.create("desk", Role.TRADER, account="acct-a")
        assert secret.startswith("ttq_") and len(secret) == 47
        with store.read() as conn:
            row = conn.execute(sa.select(api_tokens)).one()._mapping
        assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in [str(v) for v in row.values()]
        assert tokens.verify(secret) == Principal(info.token_id, "desk", Role.TRADER, "acct-a")
        assert tokens.verify(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
        assert tokens.revoke(info.token_id)
        assert not tokens.revoke(info.token_id)
        assert tokens.verify(secret) is None  # at once, despite the cache
        assert TokenStore(store).list()[0].revoked_ns is not None  # reopening keeps the table


def test_environment_token_is_adopted_once(store_url: str) -> None:
    token = "ttq_" + "a" * 43
    with open_store(store_url) as store:
        tokens = TokenStore(store)
        first = tokens.ensure(token, "from env", Role.ADMIN)
        assert tokens.ensure(token, "from env", Role.ADMIN) == first
        assert len(tokens.list()) == 1
        with pytest.raises(ConfigError, match="must start with 'ttq_'"):
            tokens.ensure("short", "bad", Role.ADMIN)


def test_jwts_expire_and_die_with_their_token(tmp_path: object) -> None:
    with open_store(f"sqlite:///{tmp_path}/records.sqlite") as store:
        tokens = TokenStore(store)
        info, secret = tokens.create("viewer", Role.READ_ONLY)
        principal = tokens.verify(secret)
        assert principal is not None
        auth = Authenticator(tokens, JwtIssuer(SECRET, 60))
        jwt = auth.jwts.issue(principal)
        assert auth.principal(jwt) == principal
        assert auth.principal(secret) == principal
        expired = JwtIssuer(SECRET, -5).issue(principal)
        assert auth.principal(expired) is None
        forged = JwtIssuer("x" * 40, 60).issue(principal)
        assert auth.principal(forged) is None
        assert auth.principal("not-a-jwt") is None
        tokens.revoke(info.token_id)
        assert auth.principal(jwt) is None


def test_scopes() -> None:
    scoped = Principal("t1", "a", Role.TRADER, "acct-a")
    everyone = Principal("t2", "b", Role.ADMIN, None)
    assert scoped.sees("acct-a") and not scoped.sees("acct-b") and not scoped.sees(None)
    assert everyone.sees("acct-a") and everyone.sees(None)
