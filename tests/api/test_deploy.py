"""The deployment files: the compose file is valid, secrets can come from files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

# src imports (module paths may move with the code under test)
from chatapi.settings import ConfigError
from helpers import make_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _compose() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return ["docker", "compose"]
    pytest.skip("needs docker compose (CI installs Debian's docker-compose)")


def test_the_compose_file_is_valid_and_names_every_part(tmp_path: Path) -> None:
    work = tmp_path / "deploy"
    shutil.copytree(DEPLOY, work)
    (work / "secrets").mkdir()
    (work / "secrets" / "secret_key").write_text("k" * 48)
    (work / "secrets" / "postgres_password").write_text("pw")
    env = {"PATH": "/usr/bin:/bin", "CHATAPI_DOMAIN": "chat.example.org"}
    done = subprocess.run(
        [*_compose(), "-f", str(work / "compose.yaml"), "config"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for part in ("caddy", "chatapi1", "chatapi2", "migrate", "postgres", "redis", "pgdata"):
        assert part in done.stdout
    # Without the domain it refuses, saying what to set.
    env.pop("CHATAPI_DOMAIN")
    done = subprocess.run(
        [*_compose(), "-f", str(work / "compose.yaml"), "config", "-q"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode != 0 and "CHATAPI_DOMAIN" in done.stderr


def test_the_secret_key_can_come_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text("s" * 48 + "\n")
    settings = make_settings(
        tmp_path, "sqlite+aiosqlite://", secret_key=None, secret_key_file=key_file,
        environment="production",
    )  # fmt: skip
    assert settings.signing_key == "s" * 48
    key_file.write_text("short")
    short = make_settings(
        tmp_path, "sqlite+aiosqlite://", secret_key=None, secret_key_file=key_file,
        environment="production",
    )  # fmt: skip
    with pytest.raises(ConfigError, match="too short"):
        _ = short.signing_key
    missing = make_settings(
        tmp_path, "sqlite+aiosqlite://", secret_key=None,
        secret_key_file=tmp_path / "nope", environment="production",
    )  # fmt: skip
    with pytest.raises(ConfigError, match="SECRET_KEY_FILE cannot be read"):
        _ = missing.signing_key
