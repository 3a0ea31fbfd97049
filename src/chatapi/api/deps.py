"""Annotated dependencies for the routers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from chatapi.api.state import AppState
from chatapi.db import UnitOfWork
from chatapi.errors import NotAuthenticated
from chatapi.models import User
from chatapi.services import auth

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.chat
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_uow(state: StateDep) -> AsyncIterator[UnitOfWork]:
    async with state.uow() as uow:
        yield uow


UowDep = Annotated[UnitOfWork, Depends(get_uow)]


async def get_read_uow(state: StateDep) -> AsyncIterator[UnitOfWork]:
    async with state.read_uow() as uow:
        yield uow


ReadUowDep = Annotated[UnitOfWork, Depends(get_read_uow)]


def _bearer(token: str | None) -> str:
    if not token:
        raise NotAuthenticated("Not authenticated: send `Authorization: Bearer <access_token>`.")
    return token


async def get_current_user(
    state: StateDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    bearer = _bearer(token)
    # A session of its own, closed at once: the request's transaction (and on SQLite the
    # write lock) starts only when its service runs, and the user comes back detached.
    async with state.read_uow() as uow:
        return await auth.authenticate(
            uow, token=bearer, key=state.token_policy.key, revocations=state.revocations
        )


CurrentUser = Annotated[User, Depends(get_current_user)]


@dataclass(frozen=True, slots=True)
class Signed:
    """The token's user and its session (`sid`; None for tokens issued without one)."""

    user: User
    session_id: uuid.UUID | None


async def get_current_session(
    state: StateDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Signed:
    async with state.read_uow() as uow:
        user, claims = await auth.authenticate_with_claims(
            uow, token=_bearer(token), key=state.token_policy.key, revocations=state.revocations
        )
    return Signed(user=user, session_id=claims.sid)


CurrentSession = Annotated[Signed, Depends(get_current_session)]


async def get_current_reader(
    state: StateDep, uow: ReadUowDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    """The token's user, read in the request's own read-only unit of work (`ReadUowDep`,
    one per request): a read route opens one session, not two (each costs a pool checkout,
    a BEGIN and a rollback — on PostgreSQL a pre-ping too)."""
    return await auth.authenticate(
        uow, token=_bearer(token), key=state.token_policy.key, revocations=state.revocations
    )


CurrentReader = Annotated[User, Depends(get_current_reader)]
