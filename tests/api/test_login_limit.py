"""The failed-login limit holds however many attempts arrive at once: each attempt is
reserved before its password is hashed, in memory and in Redis alike."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpers import PASSWORD, REDIS_URL, Signup

TOKEN = "/api/v1/auth/token"
LIMIT = 5  # per account
ADDRESS_LIMIT = 15  # per address
PARALLEL = 40


@pytest.fixture
def backend() -> str:
    """The limiter does not touch the database: SQLite is enough."""
    return "sqlite"


@pytest.fixture(params=["memory", "redis"])
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "redis" and not REDIS_URL:
        pytest.skip("needs REDIS_URL")
    return {
        "login_rate_limit": f"{LIMIT}/minute",
        "login_address_rate_limit": f"{ADDRESS_LIMIT}/minute",
        "redis_url": REDIS_URL if request.param == "redis" else None,
    }


ROUNDS = 50


async def _statuses(app: FastAPI, address: str, forms: list[dict[str, str]]) -> Counter[int]:
    """Send every form at once from `address`; how many got each status."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        answers = await asyncio.gather(*(c.post(TOKEN, data=form) for form in forms))
    for r in answers:
        if r.status_code == 429:
            assert r.json()["code"] == "rate_limited"
            assert int(r.headers["retry-after"]) >= 1
    return Counter(r.status_code for r in answers)


async def test_parallel_wrong_passwords_for_one_account_hash_at_most_the_limit(
    app: FastAPI, client: httpx.AsyncClient, signup: Signup
) -> None:
    for round_ in range(ROUNDS):
        victim = await signup()
        forms = [{"username": victim.username, "password": f"guess-{i}"} for i in range(PARALLEL)]
        # A new address each round: only the username's counter is at stake.
        statuses = await _statuses(app, f"10.0.{round_}.1", forms)
        assert statuses == {401: LIMIT, 429: PARALLEL - LIMIT}, f"round {round_}"
    # The right password is refused too until the window ends, from any address.
    r = await client.post(TOKEN, data={"username": victim.username, "password": PASSWORD})
    assert r.status_code == 429


async def test_parallel_wrong_passwords_for_many_accounts_from_one_address(app: FastAPI) -> None:
    for round_ in range(ROUNDS):
        forms = [
            {"username": f"nobody{round_}x{i}", "password": "guess-password"}
            for i in range(PARALLEL)
        ]
        statuses = await _statuses(app, f"10.1.{round_}.1", forms)
        assert statuses == {401: ADDRESS_LIMIT, 429: PARALLEL - ADDRESS_LIMIT}, f"round {round_}"


async def test_successful_logins_give_their_reservation_back(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    # signup() logs in once per account: far more than the limit, all from one address.
    accounts = [await signup() for _ in range(LIMIT + 3)]
    for _ in range(LIMIT - 1):
        r = await client.post(TOKEN, data={"username": accounts[0].username, "password": "bad"})
        assert r.status_code == 401
    # A success clears the username's failures and does not count for the address.
    for account in accounts:
        r = await client.post(TOKEN, data={"username": account.username, "password": PASSWORD})
        assert r.status_code == 200
    r = await client.post(TOKEN, data={"username": accounts[0].username, "password": "bad"})
    assert r.status_code == 401
    # The address has had LIMIT failures: far from its own limit, others still get in.
    for i in range(ADDRESS_LIMIT - LIMIT):
        r = await client.post(
            TOKEN, data={"username": accounts[1 + i % 3].username, "password": "bad"}
        )
        assert r.status_code == 401
    r = await client.post(TOKEN, data={"username": accounts[5].username, "password": PASSWORD})
    assert r.status_code == 429  # ...until the address has had its ADDRESS_LIMIT failures
