"""Tokens the service would never issue are refused with 401 `invalid_token`, never
accepted or answered with a 500; and production refuses a short SECRET_KEY."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from jose import jwt

from chatapi.main import create_app
from chatapi.settings import ConfigError, Settings
from helpers import Signup

ME = "/api/v1/users/me"


def forge(key: str, subject: str, **claims: Any) -> str:
    now = int(datetime.now(UTC).timestamp())
    payload = {
        "iss": "chatapi",
        "sub": subject,
        "jti": str(uuid.uuid4()),
        "typ": "access",
        "iat": now,
        "exp": now + 600,
        **claims,
    }
    return str(jwt.encode(payload, key, algorithm="HS256"))


def now() -> int:
    return int(datetime.now(UTC).timestamp())


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"iat": "future"}, id="iat-in-the-future"),
        pytest.param({"exp": "string"}, id="exp-a-string"),
        pytest.param({"exp": 1e308}, id="exp-1e308"),
        pytest.param({"exp": 2**70}, id="exp-beyond-any-date"),
        pytest.param({"iat": "float"}, id="iat-a-float"),
        pytest.param({"exp": True}, id="exp-a-bool"),
        pytest.param({"exp": "before-iat"}, id="exp-before-iat"),
    ],
)
async def test_implausible_token_times_are_invalid_token(
    client: httpx.AsyncClient, signup: Signup, settings: Settings, claims: dict[str, Any]
) -> None:
    acct = await signup()
    concrete = {
        "future": now() + 3600,
        "string": str(now() + 600),
        "float": now() + 0.5,
        "before-iat": now() - 10,
    }
    claims = {k: concrete.get(v, v) if isinstance(v, str) else v for k, v in claims.items()}
    token = forge(settings.signing_key, acct.id, **claims)
    r = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "invalid_token"


async def test_a_little_clock_skew_is_tolerated(
    client: httpx.AsyncClient, signup: Signup, settings: Settings
) -> None:
    acct = await signup()
    token = forge(settings.signing_key, acct.id, iat=now() + 20, exp=now() + 620)
    assert (await client.get(ME, headers={"Authorization": f"Bearer {token}"})).status_code == 200


async def test_a_refresh_token_issued_in_the_future_is_refused(
    client: httpx.AsyncClient, signup: Signup, settings: Settings
) -> None:
    acct = await signup()
    token = forge(
        settings.signing_key,
        acct.id,
        typ="refresh",
        fam=str(uuid.uuid4()),
        iat=now() + 7200,
        exp=now() + 9000,
    )
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_token"


def test_production_refuses_a_short_secret_key(tmp_path: Path, no_env: None) -> None:
    short = Settings(  # type: ignore[call-arg]
        _env_file=None, environment="production", var_dir=tmp_path, secret_key="x"
    )
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        create_app(short)
    good = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="production",
        var_dir=tmp_path,
        secret_key=secrets.token_urlsafe(32),
    )
    assert len(good.signing_key) == 43


def test_chatapi_serve_in_production_with_a_short_secret_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "ENVIRONMENT": "production", "VAR_DIR": str(tmp_path), "SECRET_KEY": "x"}
    result = subprocess.run(
        [sys.executable, "-m", "chatapi.cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "SECRET_KEY is too short" in result.stderr
