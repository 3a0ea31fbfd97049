from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from chatapi.api import errors
from chatapi.api.auth import client_address
from chatapi.api.deps import CurrentSession, CurrentUser, ReadUowDep, StateDep, UowDep
from chatapi.schemas import (
    AccountClosing,
    BlockRead,
    Clean,
    PasswordChange,
    SessionRead,
    UserRead,
    UserUpdate,
)
from chatapi.services import accounts, auth, blocks, sessions, users

router = APIRouter(prefix="/users", tags=["users"], responses=errors(401))


@router.get("/me")
async def read_me(user: CurrentUser, state: StateDep) -> UserRead:
    """The authenticated user (with your e-mail address, which nobody else sees)."""
    return await users.read_self(state.presence, user)


@router.patch("/me", responses=errors(409))
async def update_me(
    payload: UserUpdate, user: CurrentUser, uow: UowDep, state: StateDep
) -> UserRead:
    """Change your display name and/or your e-mail address (`"email": null` removes it;
    409 `email_taken` when another account has it)."""
    changes = {"email": payload.email} if "email" in payload.model_fields_set else {}
    updated = await users.update_profile(
        uow, user=user, display_name=payload.display_name, **changes
    )
    await uow.commit()
    return await users.read_self(state.presence, updated)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT, responses=errors(403, 429))
async def delete_me(
    request: Request,
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
    payload: AccountClosing | None = None,
) -> Response:
    """Close your account, confirmed with your password (`{"password": ...}`; 403
    `password_required` / `wrong_password`; accounts that sign in with single sign-on
    only need none): its tokens stop working and its sockets close at once, it can no
    longer log in, and it leaves its groups (handing ownership on where it was the last
    owner). Its text messages stay, from "Deleted account"; its files are deleted, and
    the messages that carried them."""
    await accounts.delete_account(
        uow,
        state.storage,
        user=user,
        password=payload.password if payload else None,
        client=client_address(request),
        limiter=state.login_limiter,
        signer=state.media_signer,
    )
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/sessions")
async def list_sessions(signed: CurrentSession, uow: ReadUowDep) -> list[SessionRead]:
    """The sessions signed in to your account (one per sign-in on a device), the most
    recently used first, yours marked `current`."""
    return [
        SessionRead(
            id=view.session.id,
            created_at=view.session.created_at,
            last_used_at=view.session.last_used_at,
            browser=view.browser,
            os=view.os,
            user_agent=view.session.user_agent,
            address=view.session.address,
            method=view.session.method,
            current=view.session.id == signed.session_id,
        )
        for view in await sessions.signed_in(uow, user_id=signed.user.id)
    ]


@router.delete(
    "/me/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404)
)
async def sign_out_session(session_id: uuid.UUID, signed: CurrentSession, uow: UowDep) -> Response:
    """Sign out one session (a device): its tokens stop working and its sockets close at
    once. 404 `session_not_found` when it is not yours or already signed out."""
    await sessions.sign_out(uow, user_id=signed.user.id, session_id=session_id)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/me/sessions", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out_others(signed: CurrentSession, uow: UowDep) -> Response:
    """Sign out everywhere else: every session but the one asking."""
    await sessions.revoke_all(uow, user_id=signed.user.id, keep_session_id=signed.session_id)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/me/password", status_code=status.HTTP_204_NO_CONTENT, responses=errors(403, 409, 429)
)
async def change_password(
    request: Request, payload: PasswordChange, signed: CurrentSession, uow: UowDep, state: StateDep
) -> Response:
    """Change your password, given the current one (403 `wrong_password`; tries count like
    failed logins, 429 past the limit). Every other session is signed out; this one stays.
    409 `password_not_set` for an account that signs in with single sign-on only."""
    await auth.change_password(
        uow,
        user=signed.user,
        current=payload.current_password,
        new=payload.new_password,
        session_id=signed.session_id,
        client=client_address(request),
        limiter=state.login_limiter,
    )
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/blocks")
async def list_blocks(user: CurrentUser, uow: ReadUowDep, state: StateDep) -> list[BlockRead]:
    """The people you blocked, the latest first."""
    found = await blocks.list_blocked(uow, user=user)
    reads = await users.to_read_for(
        uow, state.presence, viewer_id=user.id, users=[u for _, u in found]
    )
    return [
        BlockRead(user=r, created_at=b.created_at) for (b, _), r in zip(found, reads, strict=True)
    ]


@router.put("/me/blocks/{user_id}", responses=errors(404))
async def block_user(
    user_id: uuid.UUID, user: CurrentUser, uow: UowDep, state: StateDep
) -> BlockRead:
    """Block someone (idempotent): they can no longer open a direct chat with you or add
    you to a group (403 `blocked`), messages in your direct chat are refused both ways,
    and clients collapse their messages in groups you share. They are not told."""
    made = await blocks.block(uow, user=user, blocked_id=user_id)
    await uow.commit()
    found = await users.get_user(uow, user_id=user_id)
    read = (await users.to_read_for(uow, state.presence, viewer_id=user.id, users=[found]))[0]
    return BlockRead(user=read, created_at=made.created_at)


@router.delete("/me/blocks/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unblock_user(user_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> Response:
    """Unblock someone (idempotent)."""
    await blocks.unblock(uow, user=user, blocked_id=user_id)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("")
async def search(
    user: CurrentUser,
    uow: ReadUowDep,
    state: StateDep,
    q: Annotated[str, Query(min_length=1, max_length=64, description="username prefix"), Clean],
    limit: Annotated[int, Query(ge=1, le=users.SEARCH_LIMIT_MAX)] = 20,
) -> list[UserRead]:
    """Find people to message by username or display-name prefix. `online` and
    `last_seen_at` are shown only for people who share a conversation with you (others:
    `false` and `null`)."""
    found = await users.search_users(uow, prefix=q, limit=limit)
    return await users.to_read_for(uow, state.presence, viewer_id=user.id, users=found)


@router.get("/{user_id}", responses=errors(404))
async def read_user(
    user_id: uuid.UUID, user: CurrentUser, uow: ReadUowDep, state: StateDep
) -> UserRead:
    """One user by id. `online` and `last_seen_at` are shown only for yourself and for
    people who share a conversation with you (others: `false` and `null`)."""
    found = await users.get_user(uow, user_id=user_id)
    return (await users.to_read_for(uow, state.presence, viewer_id=user.id, users=[found]))[0]
