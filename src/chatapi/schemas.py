"""What the API accepts and returns. Shared by REST and the WebSocket gateway."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

USERNAME_RE = re.compile(r"^[a-z0-9_.\-]{3,32}$")
MAX_BODY_CHARS = 4000


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- auth and users -------------------------------------------------------------------


class UserCreate(BaseModel):
    username: str = Field(
        description="3–32 characters of a-z 0-9 _ . - (case-insensitive, stored lower-case)",
        examples=["alice"],
    )
    password: str = Field(min_length=8, max_length=1024, examples=["correct horse battery"])
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = (
        None
    )

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        value = value.strip().lower()
        if not USERNAME_RE.fullmatch(value):
            raise ValueError("usernames are 3–32 characters of a-z, 0-9, '_', '.' and '-'")
        return value


class UserRead(Schema):
    id: uuid.UUID
    username: str
    display_name: str
    created_at: datetime
    online: bool = False
    last_seen_at: datetime | None = None


class UserUpdate(BaseModel):
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                   max_length=64)]


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class ErrorBody(BaseModel):
    detail: str
    code: str


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)
