from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from chatapi.api import errors
from chatapi.api.auth import client_address
from chatapi.api.deps import (
    CurrentSession,
    CurrentUser,
    ReadUowDep,
    StateDep,
    UowDep,
    oauth2_scheme,
)
from chatapi.api.file_response import file_response
from chatapi.api.media import OPTIONAL_AUTH as _OPTIONAL_AUTH
from chatapi.api.multipart import receive_upload
from chatapi.errors import NotAuthenticated, NotFound, Unprocessable
from chatapi.media_urls import Variant
from chatapi.schemas import (
    AccountClosing,
    BlockRead,
    Clean,
    ErrorBody,
    PasswordChange,
    SessionRead,
    UserRead,
    UserUpdate,
)
from chatapi.services import accounts, auth, avatars, blocks, sessions, users
from chatapi.services.media.images import Crop

router = APIRouter(prefix="/users", tags=["users"], responses=errors(401))


@router.get("/me")
async def read_me(user: CurrentUser, state: StateDep) -> UserRead:
    """The authenticated user (with your e-mail address, which nobody else sees)."""
    return await users.read_self(state.presence, user, signer=state.media_signer)


@router.patch("/me", responses=errors(409))
async def update_me(
    payload: UserUpdate, user: CurrentUser, uow: UowDep, state: StateDep
) -> UserRead:
    """Change your display name and/or your e-mail address (`"email": null` removes it;
    409 `email_taken` when another account has it)."""
    changes = {"email": payload.email} if "email" in payload.model_fields_set else {}
    updated = await users.update_profile(
        uow,
        user=user,
        presence=state.presence,
        signer=state.media_signer,
        display_name=payload.display_name,
        **changes,
    )
    await uow.commit()
    return await users.read_self(state.presence, updated, signer=state.media_signer)


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
        uow,
        state.presence,
        viewer_id=user.id,
        users=[u for _, u in found],
        signer=state.media_signer,
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
    read = (
        await users.to_read_for(
            uow, state.presence, viewer_id=user.id, users=[found], signer=state.media_signer
        )
    )[0]
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
    return await users.to_read_for(
        uow, state.presence, viewer_id=user.id, users=found, signer=state.media_signer
    )


@router.get("/{user_id}", responses=errors(404))
async def read_user(
    user_id: uuid.UUID, user: CurrentUser, uow: ReadUowDep, state: StateDep
) -> UserRead:
    """One user by id. `online` and `last_seen_at` are shown only for yourself and for
    people who share a conversation with you (others: `false` and `null`)."""
    found = await users.get_user(uow, user_id=user_id)
    reads = await users.to_read_for(
        uow, state.presence, viewer_id=user.id, users=[found], signer=state.media_signer
    )
    return reads[0]


# --- profile pictures -------------------------------------------------------------------

_AVATAR_UPLOAD_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A JPEG, PNG, GIF or WebP image (its type is "
                            "decided from its bytes; an animation's first frame is used).",
                        }
                    },
                }
            }
        },
    }
}
_CROP_DOC = (
    "the square to keep, in pixels of the image as displayed (EXIF orientation applied): "
    "give `x`, `y` and `size` together, or none for the largest centred square"
)


@router.put(
    "/me/avatar",
    openapi_extra=_AVATAR_UPLOAD_OPENAPI,
    responses={
        **errors(400, 413, 415, 429),
        422: {
            "model": ErrorBody,
            "description": "No file, an empty file, an unusable image, or a crop outside it",
        },
    },
)
async def set_avatar(
    request: Request,
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
    x: Annotated[int | None, Query(ge=0, description=_CROP_DOC)] = None,
    y: Annotated[int | None, Query(ge=0, description=_CROP_DOC)] = None,
    size: Annotated[int | None, Query(ge=1, description=_CROP_DOC)] = None,
) -> UserRead:
    """Set your profile picture (multipart field `file`, at most AVATAR_MAX_BYTES). It is
    cut square (`x`, `y`, `size`, or centred), turned upright and stored as a 256x256
    picture and a 64x64 thumbnail, without any of the upload's metadata. Everyone who
    shares a conversation with you gets `user.updated`; the old picture is deleted. A
    refused image (415 `unsupported_media_type`, 422 `image_too_large` /
    `invalid_image` / `invalid_crop`, 413 `payload_too_large`) changes nothing. The bytes
    count against your daily upload quota (429 `upload_quota_exceeded`)."""
    crop = _crop(x, y, size)
    user_id = user.id
    limit = min(state.settings.avatar_max_bytes, state.settings.max_upload_bytes)
    # No transaction open while the body arrives (see media uploads).
    await uow.rollback()
    received = await receive_upload(request, state.storage, limit=limit)
    quota, key = state.quotas.upload_bytes, str(user_id)
    try:
        await quota.take(key, received.size)
    except BaseException:
        await state.storage.discard_temp(received.temp)
        raise
    try:
        picture = await avatars.set_avatar(
            uow, state.storage, user_id=user_id, temp=received.temp, crop=crop,
            presence=state.presence, signer=state.media_signer,
        )  # fmt: skip
        try:
            await uow.commit()
        except BaseException:
            await avatars.discard(state.storage, picture)
            raise
    except BaseException:
        await quota.give_back(key, received.size)  # a refused picture costs nothing
        raise
    return await users.read_self(state.presence, picture.user, signer=state.media_signer)


def _crop(x: int | None, y: int | None, size: int | None) -> Crop | None:
    given = [v for v in (x, y, size) if v is not None]
    if not given:
        return None
    if x is None or y is None or size is None:
        raise Unprocessable("Give the crop as `x`, `y` and `size` together.", code="invalid_crop")
    return Crop(x=x, y=y, size=size)


@router.delete("/me/avatar")
async def remove_avatar(user: CurrentUser, uow: UowDep, state: StateDep) -> UserRead:
    """Remove your profile picture (people see your initials again; `user.updated` to
    everyone who shares a conversation with you). Without one, nothing changes."""
    updated = await avatars.remove_avatar(
        uow, state.storage, user_id=user.id, presence=state.presence, signer=state.media_signer
    )
    await uow.commit()
    return await users.read_self(state.presence, updated, signer=state.media_signer)


_SIGNED_AVATAR_DOC = "from a signed `avatar_url`/`avatar_thumb_url`; or send a Bearer token"
_AVATAR_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The picture, WebP", "content": {"image/webp": {}}},
    **errors(401, 404),
}


@router.get(
    "/{user_id}/avatar",
    response_class=StreamingResponse,
    openapi_extra=_OPTIONAL_AUTH,
    responses=_AVATAR_RESPONSES,
)
async def download_avatar(
    user_id: uuid.UUID,
    request: Request,
    state: StateDep,
    uow: ReadUowDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    version: Annotated[int | None, Query(ge=0, description=_SIGNED_AVATAR_DOC)] = None,
    exp: Annotated[int | None, Query(description=_SIGNED_AVATAR_DOC)] = None,
    sig: Annotated[str | None, Query(max_length=128, description=_SIGNED_AVATAR_DOC)] = None,
) -> Response:
    """A user's profile picture, 256x256. Use the signed `avatar_url` of a User (no
    header needed, so it works in `<img>`), or this path with a Bearer token (the
    current picture)."""
    return await _serve_avatar(request, state, uow, user_id, "original", token, (version, exp, sig))


@router.get(
    "/{user_id}/avatar/thumbnail",
    response_class=StreamingResponse,
    openapi_extra=_OPTIONAL_AUTH,
    responses=_AVATAR_RESPONSES,
)
async def download_avatar_thumbnail(
    user_id: uuid.UUID,
    request: Request,
    state: StateDep,
    uow: ReadUowDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    version: Annotated[int | None, Query(ge=0, description=_SIGNED_AVATAR_DOC)] = None,
    exp: Annotated[int | None, Query(description=_SIGNED_AVATAR_DOC)] = None,
    sig: Annotated[str | None, Query(max_length=128, description=_SIGNED_AVATAR_DOC)] = None,
) -> Response:
    """A user's profile picture, 64x64 (`avatar_thumb_url`)."""
    return await _serve_avatar(
        request, state, uow, user_id, "thumbnail", token, (version, exp, sig)
    )


async def _serve_avatar(
    request: Request,
    state: StateDep,
    uow: ReadUowDep,
    user_id: uuid.UUID,
    variant: Variant,
    token: str | None,
    link: tuple[int | None, int | None, str | None],
) -> Response:
    """A signed link names the picture's version (a replaced picture's links get 404); a
    Bearer token of any signed-in user gets the current picture."""
    now = time.time()
    version, exp, sig = link
    signed = (
        version is not None
        and exp is not None
        and sig is not None
        and state.media_signer.verify_avatar(user_id, version, variant, exp=exp, sig=sig, now=now)
    )
    if not signed:
        if token:
            key, revocations = state.token_policy.key, state.revocations
            await auth.authenticate(uow, token=token, key=key, revocations=revocations)
            version = None
        elif version is not None or exp is not None or sig is not None:
            # An expired or forged link looks exactly like a missing picture.
            raise NotFound("No such profile picture.", code="avatar_not_found")
        else:
            raise NotAuthenticated(
                "Use the signed `avatar_url` of the User, or send `Authorization: Bearer <token>`."
            )
    download = await avatars.open_avatar(
        uow, state.storage, user_id=user_id, variant=variant, version=version
    )
    await uow.rollback()  # done with the database before streaming
    max_age = max(0, exp - int(now)) if signed and exp is not None else 0
    return file_response(request, state.storage, download, max_age=max_age, signed=bool(signed))
