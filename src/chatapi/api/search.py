from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from chatapi.api import errors
from chatapi.api.deps import CurrentReader, ReadUowDep, StateDep
from chatapi.schemas import CleanStr, SearchResults
from chatapi.services import search

router = APIRouter(tags=["search"], responses=errors(401))


@router.get(
    "/search/messages",
    responses={
        **errors(404),
        422: {
            "description": "`search_query_empty` (no letters or digits in `q`), "
            "`search_query_too_long` (more than 200 characters), `invalid_cursor`, "
            "or a validation error",
        },
    },
)
async def search_messages(
    user: CurrentReader,
    uow: ReadUowDep,
    state: StateDep,
    q: Annotated[
        CleanStr, Query(description="the words to find (plain text, not a query language)")
    ],
    conversation_id: Annotated[
        uuid.UUID | None, Query(description="only in this conversation (404 if you cannot read it)")
    ] = None,
    before: Annotated[
        CleanStr | None, Query(max_length=200, description="`next_before` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=search.SEARCH_LIMIT_MAX)] = 20,
) -> SearchResults:
    """Full-text search over the messages you may read, newest first (the order messages
    were stored): those of your conversations, and of conversations you left or were
    removed from up to your departure (until you delete them from your list). Every word
    of `q` must match, whole and case-insensitively (no prefixes). Words are runs of
    letters and digits; any
    other character (quotes, `*`, `:`, `-`, parentheses, `AND`/`OR`/`NEAR` as words) is
    plain text, never query syntax. At most 16 words count.
    Deleted messages never match; edited ones match by their current text. Each hit has
    the message, its conversation and seq, and a plain-text `snippet` in pieces, the
    matched words marked `match: true`.
    A request looks at no more than the 2,000 newest matches from the cursor on: a page may
    hold fewer than `limit` hits, even none, while `next_before` is not null — page on
    until it is."""
    return await search.search_messages(
        uow,
        user=user,
        q=q,
        conversation_id=conversation_id,
        before=before,
        limit=limit,
        signer=state.media_signer.for_viewer(user.id),
    )
