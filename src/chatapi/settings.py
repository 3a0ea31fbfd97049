"""Configuration: the only module that reads the environment.

Every variable is documented in README.md and `.env.example`.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Callable
from email.utils import parseaddr
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from limits import parse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# The longest lifetime of any token (decoding refuses longer ones): ten years.
MAX_TOKEN_TTL_SECONDS = 10 * 366 * 24 * 3600
# A production SECRET_KEY has at least this many bytes (e.g. 43 url-safe base64
# characters = 256 bits): anything shorter can be brute-forced from one signed token.
MIN_SECRET_KEY_BYTES = 32


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says what to set."""


PROVIDER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_LOOPBACK_HOSTS = {"localhost"}


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OidcProvider(BaseModel):
    """One OpenID Provider people may sign in with (README "Single sign-on"): from
    `OIDC_PROVIDERS` (a JSON list of these) or `OIDC_PROVIDER_<n>_<FIELD>` variables."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # In URLs (/api/v1/auth/oidc/{name}/callback): keep it once people have linked to it.
    name: str
    # Exactly as the provider names itself in its discovery document and ID tokens.
    issuer: str
    client_id: str = Field(min_length=1)
    # None: a public client (PKCE alone authenticates the code exchange).
    client_secret: SecretStr | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    # The button says "Sign in with {label}".
    label: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not PROVIDER_NAME_RE.fullmatch(value):
            raise ValueError(
                f"provider name {value!r}: 1-32 characters of a-z, 0-9, '_' and '-' "
                "(it is part of the callback URL)"
            )
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.query or parts.fragment or not parts.hostname:
            raise ValueError(f"issuer {value!r} must be a URL without query or fragment")
        if parts.scheme != "https" and not (
            parts.scheme == "http" and _is_loopback(parts.hostname)
        ):
            raise ValueError(f"issuer {value!r} must be an https:// URL (http only on loopback)")
        return value

    @field_validator("scopes", mode="before")
    @classmethod
    def _split_scopes(cls, value: object) -> object:
        if isinstance(value, str):
            return value.replace(",", " ").split()
        return value

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("scopes must include 'openid'")
        return value

    @field_validator("client_secret", mode="before")
    @classmethod
    def _empty_secret(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _default_label(self) -> OidcProvider:
        if not self.label.strip():
            object.__setattr__(self, "label", self.name.replace("-", " ").title())
        return self


_NUMBERED = re.compile(r"^oidc_provider_(\d+)_(name|issuer|client_id|client_secret|scopes|label)$")


class NumberedProviders(PydanticBaseSettingsSource):
    """`OIDC_PROVIDER_1_NAME`, `OIDC_PROVIDER_1_ISSUER`, ... (environment, then `.env`) as
    the `oidc_providers` list, in the order of their numbers. Behind the other sources:
    `OIDC_PROVIDERS`, when set, wins."""

    def __init__(self, settings_cls: type[BaseSettings], *sources: EnvSettingsSource) -> None:
        super().__init__(settings_cls)
        self._sources = sources

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything happens in __call__

    def __call__(self) -> dict[str, Any]:
        found: dict[int, dict[str, str]] = {}
        for source in reversed(self._sources):  # the first source wins
            for key, value in source.env_vars.items():
                match = _NUMBERED.fullmatch(key.lower())
                if match and value is not None:
                    found.setdefault(int(match[1]), {})[match[2]] = value
        if not found:
            return {}
        return {"oidc_providers": [found[n] for n in sorted(found)]}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=False)

    environment: Literal["development", "production", "test"] = "development"
    var_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    redis_prefix: str = "chatapi"
    secret_key: SecretStr | None = None
    # A file holding the key (a Docker/compose secret), read when SECRET_KEY is unset.
    secret_key_file: Path | None = None
    media_dir: Path | None = None
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    access_token_ttl_seconds: int = Field(default=15 * 60, gt=0, le=MAX_TOKEN_TTL_SECONDS)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, gt=0, le=MAX_TOKEN_TTL_SECONDS)
    login_rate_limit: str = "10/minute"  # failed logins per username
    # Failed logins per client address, whatever the usernames: much higher than the
    # per-account limit, so one person's typos do not lock out an office behind one
    # address, while a password spray across many accounts is still stopped.
    login_address_rate_limit: str = "100/minute"
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65536, ge=64)
    web_dist_dir: Path | None = None
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    # GET /metrics (Prometheus); with a token, only for `Authorization: Bearer <token>`.
    metrics_enabled: bool = False
    metrics_token: SecretStr | None = None
    # One JSON object per line, or readable text; unset: JSON in production (chatapi.logs).
    log_format: Literal["json", "text"] | None = None
    ws_auth_timeout_seconds: float = Field(default=10.0, gt=0)
    ws_max_frame_bytes: int = Field(default=64 * 1024, gt=0)
    ws_outbox_size: int = Field(default=1024, gt=0)
    ws_outbox_bytes: int = Field(default=1024 * 1024, gt=0)
    ws_rate_limit: str = "50/second"
    ws_typing_ttl_seconds: float = Field(default=6.0, gt=0)
    ws_reorder_timeout_seconds: float = Field(default=0.5, gt=0)
    presence_heartbeat_seconds: float = Field(default=10.0, gt=0)
    # GET /api/v1/events/stream: a keep-alive comment after this long without an event.
    # Its buffer for a slow reader is bounded like a socket's (WS_OUTBOX_SIZE/_BYTES).
    sse_keepalive_seconds: float = Field(default=15.0, gt=0)
    # Message sends waiting for the group commit (not counting the batches being
    # committed); a send beyond it is refused: 503 / an `error` frame `overloaded`. Two
    # batches' worth: a send waits at most for two commits before its own.
    send_queue_max: int = Field(default=512, gt=0)
    media_url_ttl_seconds: int = Field(default=3600, gt=0)
    media_orphan_grace_seconds: int = Field(default=24 * 3600, gt=0)

    # --- Abuse limits: quotas, body size (README "Security") ---------------------------
    # Rates use the `limits` syntax ("30/10 seconds", "5/hour"); an empty rate or a 0
    # count switches that quota off.
    register_rate_limit: str = "5/hour"  # accounts created per client address
    message_rate_limit: str = "120/minute"  # messages sent per user, REST + WebSocket
    member_add_rate_limit: str = "100/hour"  # members a user adds to groups
    reaction_rate_limit: str = "120/minute"  # reactions and pins changed per user
    upload_bytes_per_day: int = Field(default=1024**3, ge=0)  # bytes uploaded per user
    max_unattached_uploads: int = Field(default=50, ge=0)  # uploads kept, not yet attached
    ws_max_sockets_per_user: int = Field(default=20, ge=0)  # open sockets, all instances
    max_json_body_bytes: int = Field(default=1024 * 1024, gt=0)  # request bodies but uploads

    # --- Single sign-on (README "Single sign-on") ----------------------------------------
    oidc_providers: list[OidcProvider] = Field(default_factory=list)
    # Only OpenID Connect: no password sign-in, no registration with a password.
    oidc_only: bool = False
    # How far the providers' clocks may differ from ours when checking ID token times.
    oidc_clock_skew_seconds: int = Field(default=60, ge=0, le=600)
    # The service's public URL (https://chat.example.com): the OIDC redirect URIs and the
    # password-reset links are built on it. Unset: taken from each request (Host, and the
    # scheme uvicorn trusts).
    public_url: str | None = None

    # --- E-mail: password reset (README "Password reset by e-mail") ----------------------
    # smtp://user:password@host:587 (STARTTLS when offered) or smtps://...:465 (TLS).
    # Unset: no password reset; the sign-in page does not offer it.
    smtp_url: SecretStr | None = None
    mail_from: str | None = None  # the From address, e.g. "chatapi <chat@example.com>"
    # Reset requests per client address, and reset mails per account.
    password_reset_rate_limit: str = "5/hour"

    # --- Web Push notifications (README "Notifications") --------------------------------
    # Off: no VAPID key, GET /api/v1/push/vapid-public-key answers 404 `push_disabled`.
    push_enabled: bool = True
    # The VAPID key pair's private key (RFC 8292): PEM, or the 32-byte raw key in base64url
    # (what `chatapi vapid-key` prints). Unset: generated and kept under VAR_DIR like the
    # development SECRET_KEY; in production push stays off until it is set.
    vapid_private_key: SecretStr | None = None
    # Who push services may contact about our pushes: mailto:... or https://...
    # Unset: mailto: MAIL_FROM's address, else mailto:admin@localhost.
    vapid_subject: str | None = None
    # Allow http:// push endpoints on loopback addresses (tests and local push services).
    push_allow_http_loopback: bool = False
    # Devices (push subscriptions) per user; a new one beyond it replaces the oldest.
    push_max_subscriptions_per_user: int = Field(default=20, gt=0)
    # Committed messages waiting to be pushed; beyond it a message's pushes are dropped
    # (counted in chatapi_push_dropped_total), never the commit delayed.
    push_queue_size: int = Field(default=1000, gt=0)
    # How long a push service keeps a push for an offline device (the TTL header).
    push_ttl_seconds: int = Field(default=24 * 3600, ge=0)
    # Attempts per push (5xx, 429 or a network error is tried again), and the first
    # retry's delay, doubled each time.
    push_max_attempts: int = Field(default=4, ge=1, le=10)
    push_retry_base_seconds: float = Field(default=1.0, gt=0)
    push_timeout_seconds: float = Field(default=10.0, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        numbered = [s for s in (env_settings, dotenv_settings) if isinstance(s, EnvSettingsSource)]
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            NumberedProviders(settings_cls, *numbered),
            file_secret_settings,
        )

    @field_validator("oidc_providers")
    @classmethod
    def _unique_provider_names(cls, value: list[OidcProvider]) -> list[OidcProvider]:
        names = [p.name for p in value]
        if len(set(names)) != len(names):
            raise ValueError(f"OIDC provider names must be unique: {names}")
        return value

    @field_validator("public_url", mode="before")
    @classmethod
    def _public_url(cls, value: object) -> object:
        if value == "" or value is None:
            return None
        if isinstance(value, str):
            parts = urlsplit(value.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
                raise ValueError(f"PUBLIC_URL {value!r} must be like https://chat.example.com")
            return value.strip().rstrip("/")
        return value

    @model_validator(mode="after")
    def _oidc_only_needs_a_provider(self) -> Settings:
        if self.oidc_only and not self.oidc_providers:
            raise ValueError(
                "OIDC_ONLY=true needs at least one provider (OIDC_PROVIDERS or "
                "OIDC_PROVIDER_1_NAME, ...): nobody could sign in"
            )
        return self

    @model_validator(mode="after")
    def _mail_needs_a_sender(self) -> Settings:
        if self.smtp_url is not None and self.smtp_url.get_secret_value():
            parts = urlsplit(self.smtp_url.get_secret_value())
            if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
                raise ValueError("SMTP_URL must be like smtp://user:password@host:587")
            if not self.mail_from:
                raise ValueError("SMTP_URL needs MAIL_FROM (the address mails come from)")
        return self

    @field_validator("vapid_subject", mode="before")
    @classmethod
    def _vapid_subject(cls, value: object) -> object:
        if value == "" or value is None:
            return None
        if isinstance(value, str):
            value = value.strip()
            parts = urlsplit(value)
            if not (
                (parts.scheme == "mailto" and "@" in parts.path)
                or (parts.scheme == "https" and parts.hostname)
            ):
                raise ValueError(
                    f"VAPID_SUBJECT {value!r} must be mailto:you@example.com or an https:// URL"
                )
        return value

    @field_validator("vapid_private_key", mode="before")
    @classmethod
    def _empty_vapid_key(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def resolved_vapid_subject(self) -> str:
        """VAPID_SUBJECT, else mailto: MAIL_FROM's address, else mailto:admin@localhost."""
        if self.vapid_subject:
            return self.vapid_subject
        if self.mail_from:
            _, address = parseaddr(self.mail_from)
            if "@" in address:
                return f"mailto:{address}"
        return "mailto:admin@localhost"

    @cached_property
    def vapid_key_text(self) -> str | None:
        """The VAPID private key as configured (PEM or base64url raw), or generated and
        kept under var/ outside production; None when push is off (PUSH_ENABLED=false, or
        production without VAPID_PRIVATE_KEY). Several instances sharing VAR_DIR share it,
        as they share the development SECRET_KEY."""
        if not self.push_enabled:
            return None
        if self.vapid_private_key is not None and self.vapid_private_key.get_secret_value():
            return self.vapid_private_key.get_secret_value().strip()
        if self.environment == "production":
            return None
        return _load_or_create_file(self.var_dir / "vapid_private_key", new_vapid_key)

    @property
    def password_reset(self) -> bool:
        """Password reset by e-mail is offered (SMTP is configured, passwords allowed)."""
        return bool(self.smtp_url and self.smtp_url.get_secret_value()) and not self.oidc_only

    @field_validator(
        "login_rate_limit",
        "login_address_rate_limit",
        "password_reset_rate_limit",
        "register_rate_limit",
        "message_rate_limit",
        "member_add_rate_limit",
        "reaction_rate_limit",
        "ws_rate_limit",
    )
    @classmethod
    def _rate_parses(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value and info.field_name in (
            "login_rate_limit",
            "login_address_rate_limit",
            "ws_rate_limit",
        ):
            raise ValueError("this limit cannot be switched off")
        if value:
            try:
                parse(value)
            except ValueError as exc:
                raise ValueError(
                    f"{value!r} is not a rate: write e.g. '30/10 seconds' or '5/hour'"
                ) from exc
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _empty_format_is_default(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower() or None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def logging_level(self) -> int:
        """`log_level` for Python's logging (uvicorn's "trace" is below DEBUG)."""
        return 5 if self.log_level == "trace" else logging.getLevelName(self.log_level.upper())

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("redis_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.var_dir / 'chatapi.db').as_posix()}"

    @cached_property
    def resolved_media_dir(self) -> Path:
        return self.media_dir if self.media_dir is not None else self.var_dir / "media"

    @cached_property
    def signing_key(self) -> str:
        """The JWT/URL signing key (SECRET_KEY, else SECRET_KEY_FILE); generated and kept
        under var/ in development."""
        key = self.secret_key.get_secret_value() if self.secret_key is not None else ""
        if not key and self.secret_key_file is not None:
            try:
                key = self.secret_key_file.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"SECRET_KEY_FILE cannot be read: {exc}") from exc
            if not key:
                raise ConfigError(f"SECRET_KEY_FILE {self.secret_key_file} is empty.")
        if key:
            if self.environment == "production" and len(key.encode()) < MIN_SECRET_KEY_BYTES:
                raise ConfigError(
                    f"SECRET_KEY is too short ({len(key.encode())} bytes): in production it "
                    f"must be at least {MIN_SECRET_KEY_BYTES} bytes of randomness, e.g. "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
                )
            return key
        if self.environment == "production":
            raise ConfigError(
                "SECRET_KEY is not set. In production chatapi refuses to start without it: "
                "set SECRET_KEY to a long random string (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`)."
            )
        return _load_or_create_dev_key(self.var_dir / "secret_key")


def _load_or_create_dev_key(path: Path) -> str:
    return _load_or_create_file(path, lambda: secrets.token_urlsafe(48))


def new_vapid_key() -> str:
    """A new P-256 private key, as its 32 raw bytes in base64url (VAPID_PRIVATE_KEY's form)."""
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _load_or_create_file(path: Path, make: Callable[[], str]) -> str:
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = make()
    # O_EXCL so two processes starting at once keep one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    os.chmod(path, 0o600)
    return key


def get_settings() -> Settings:
    return Settings()
