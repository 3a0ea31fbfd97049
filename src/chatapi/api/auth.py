from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordRequestForm

from chatapi.api import errors
from chatapi.api.deps import StateDep, UowDep
from chatapi.errors import Forbidden, NotAuthenticated
from chatapi.mail import Mailer
from chatapi.schemas import (
    Accepted,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserRead,
    clean_text,
)
from chatapi.services import auth, password_reset, sessions, users

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
    """Create an account. Usernames are case-insensitive; passwords at least 8 characters.
    REGISTRATION=invite needs an `invite` code (403 `invite_required` / `invalid_invite`);
    REGISTRATION=closed refuses everyone (403 `registration_closed`)."""
    _no_store(response)
    user = await auth.register(
        uow,
        data=payload,
        client=client_address(request),
        quota=state.quotas.registrations,
        mode=state.settings.registration,
    )
    await uow.commit()
    return await users.read_self(state.presence, user, signer=state.media_signer)


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


# --- password reset by e-mail (README "Password reset by e-mail") ------------------------


def _reset_offered(state: StateDep) -> Mailer:
    if state.mailer is None:
        raise Forbidden(
            "Password reset by e-mail is not set up on this server: ask its operator.",
            code="password_reset_unavailable",
        )
    return state.mailer


ResetMailer = Annotated[Mailer, Depends(_reset_offered)]


@router.post("/password-reset", status_code=status.HTTP_202_ACCEPTED, responses=errors(403, 429))
async def ask_password_reset(
    request: Request,
    payload: PasswordResetRequest,
    mailer: ResetMailer,
    uow: UowDep,
    state: StateDep,
) -> Accepted:
    """Mail a single-use link (valid 30 minutes) to the e-mail address of the account
    with this username or address. The answer is the same whether or not one matches.
    403 `password_reset_unavailable` without SMTP; 429 past PASSWORD_RESET_RATE_LIMIT."""
    mail = await password_reset.request_reset(
        uow,
        login=payload.login,
        client=client_address(request),
        per_address=state.quotas.reset_asks,
        per_account=state.quotas.reset_mails,
    )
    await uow.commit()
    if mail is not None:
        base = state.settings.public_url or str(request.base_url).rstrip("/")
        subject, text = password_reset.mail_text(
            mail, link=f"{base}/reset-password#token={mail.token}"
        )
        # Sent after answering: how long the answer takes says nothing about the account.
        state.hub.tasks.spawn(
            mailer.send_quietly(to=mail.to, subject=subject, text=text), name="reset-mail"
        )
    return Accepted(
        detail="If an account with that username or address has an e-mail address, a "
        "link to choose a new password is on its way to it."
    )


@router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(400, 403),
)
async def confirm_password_reset(
    payload: PasswordResetConfirm, _mailer: ResetMailer, uow: UowDep
) -> Response:
    """Choose a new password with the link's token: it works once, for 30 minutes (else
    400 `invalid_reset_token`). Every session of the account is signed out."""
    await password_reset.reset_password(uow, token=payload.token, new_password=payload.new_password)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
