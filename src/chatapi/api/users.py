from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from chatapi.api import errors
from chatapi.api.deps import CurrentUser, ReadUowDep, StateDep, UowDep
from chatapi.schemas import Clean, UserRead, UserUpdate
from chatapi.services import accounts, users

router = APIRouter(prefix="/users", tags=["users"], responses=errors(401))


@router.get("/me")
async def read_me(user: CurrentUser, state: StateDep) -> UserRead:
    """The authenticated user."""
    return (await users.to_read(state.presence, [user]))[0]


@router.patch("/me")
async def update_me(
    payload: UserUpdate, user: CurrentUser, uow: UowDep, state: StateDep
) -> UserRead:
    """Change your display name."""
    updated = await users.update_profile(uow, user=user, display_name=payload.display_name)
    await uow.commit()
    return (await users.to_read(state.presence, [updated]))[0]


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(user: CurrentUser, uow: UowDep) -> Response:
    """Close your account: its tokens stop working and its sockets close at once, it can no
    longer log in, and it leaves its groups (handing ownership on where it was the last
    owner)."""
    await accounts.delete_account(uow, user=user)
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
