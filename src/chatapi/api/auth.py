from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from chatapi.api import errors
from chatapi.api.deps import StateDep, UowDep
from chatapi.errors import NotAuthenticated
from chatapi.schemas import RefreshRequest, TokenPair, UserCreate, UserRead
from chatapi.services import auth, users

router = APIRouter(prefix="/auth", tags=["auth"])


def client_address(request: Request) -> str:
    """The caller's address (behind a proxy, uvicorn's --proxy-headers already put the
    X-Forwarded-For client here, from the addresses FORWARDED_ALLOW_IPS trusts)."""
    return request.client.host if request.client else "unknown"


@router.post("/register", status_code=status.HTTP_201_CREATED, responses=errors(409))
async def register(request: Request, payload: UserCreate, uow: UowDep, state: StateDep) -> UserRead:
    """Create an account. Usernames are case-insensitive; passwords at least 8 characters."""
    user = await auth.register(
        uow, data=payload, client=client_address(request), quota=state.quotas.registrations
    )
    await uow.commit()
    return (await users.to_read(state.presence, [user]))[0]


@router.post("/token", responses=errors(401, 429))
async def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    uow: UowDep,
    state: StateDep,
) -> TokenPair:
    """OAuth2 password flow (form-encoded `username`, `password`): an access + refresh pair."""
    pair = await auth.login(
        uow,
        username=form.username,
        password=form.password,
        client=client_address(request),
        limiter=state.login_limiter,
        policy=state.token_policy,
    )
    await uow.commit()
    return pair


@router.post("/refresh", responses=errors(401))
async def refresh(payload: RefreshRequest, uow: UowDep, state: StateDep) -> TokenPair:
    """Spend a refresh token for a new pair. Reusing a spent one signs out its whole family."""
    outcome = await auth.refresh(uow, token=payload.refresh_token, policy=state.token_policy)
    await uow.commit()  # a refusal too: it revoked the token's family
    if isinstance(outcome, NotAuthenticated):
        raise outcome
    return outcome


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401))
async def logout(payload: RefreshRequest, uow: UowDep, state: StateDep) -> Response:
    """Revoke the refresh token and every token rotated from the same login."""
    await auth.logout(uow, token=payload.refresh_token, policy=state.token_policy)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
