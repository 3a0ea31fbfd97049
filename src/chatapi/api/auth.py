from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordRequestForm

from chatapi.api import errors
from chatapi.api.deps import StateDep, UowDep
from chatapi.errors import Forbidden, NotAuthenticated
from chatapi.schemas import RefreshRequest, TokenPair, UserCreate, UserRead, clean_text
from chatapi.services import auth, sessions, users

router = APIRouter(prefix="/auth", tags=["auth"])

# Answers that carry tokens (or a new account) are never stored by a cache (RFC 6749 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _no_store(response: Response) -> None:
    response.headers.update(NO_STORE)


def _clean_form(form: OAuth2PasswordRequestForm) -> None:
    """The login form's text is checked like every JSON text field (schemas.clean_text)."""
    problems = []
    for name in ("username", "password"):
        try:
            clean_text(getattr(form, name))
        except ValueError as exc:
            problems.append(
                {"type": "value_error", "loc": ("body", name), "msg": f"Value error, {exc}"}
            )
    if problems:
        raise RequestValidationError(problems)


def _passwords_allowed(state: StateDep) -> None:
    """OIDC_ONLY: people sign in through the OpenID Providers only."""
    if state.settings.oidc_only:
        raise Forbidden(
            "Password sign-in is switched off here: use single sign-on.",
            code="password_login_disabled",
        )


PasswordsAllowed = Depends(_passwords_allowed)


def client_address(request: Request) -> str:
    """The caller's address (behind a proxy, uvicorn's --proxy-headers already put the
    X-Forwarded-For client here, from the addresses FORWARDED_ALLOW_IPS trusts)."""
    return request.client.host if request.client else "unknown"


def device_of(request: Request) -> sessions.Device:
    """The device a sign-in or a refresh comes from, for the sessions list."""
    return sessions.Device(
        user_agent=request.headers.get("user-agent", ""), address=client_address(request)
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 409, 429),
    dependencies=[PasswordsAllowed],
)
async def register(
    request: Request, payload: UserCreate, uow: UowDep, state: StateDep, response: Response
) -> UserRead:
    """Create an account. Usernames are case-insensitive; passwords at least 8 characters."""
    _no_store(response)
    user = await auth.register(
        uow, data=payload, client=client_address(request), quota=state.quotas.registrations
    )
    await uow.commit()
    return (await users.to_read(state.presence, [user]))[0]


@router.post("/token", responses=errors(401, 403, 429), dependencies=[PasswordsAllowed])
async def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    uow: UowDep,
    state: StateDep,
    response: Response,
) -> TokenPair:
    """OAuth2 password flow (form-encoded `username`, `password`): an access + refresh pair."""
    _no_store(response)
    _clean_form(form)
    pair = await auth.login(
        uow,
        username=form.username,
        password=form.password,
        client=client_address(request),
        limiter=state.login_limiter,
        policy=state.token_policy,
        device=device_of(request),
    )
    await uow.commit()
    return pair


@router.post("/refresh", responses=errors(401))
async def refresh(
    request: Request, payload: RefreshRequest, uow: UowDep, state: StateDep, response: Response
) -> TokenPair:
    """Spend a refresh token for a new pair. Reusing a spent one signs out its whole family."""
    _no_store(response)
    outcome = await auth.refresh(
        uow, token=payload.refresh_token, policy=state.token_policy, device=device_of(request)
    )
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
