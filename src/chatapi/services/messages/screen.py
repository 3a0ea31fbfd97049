"""The seam where a send is judged before it is queued: allow, hold or reject.

`GroupCommit.submit` asks its `Screen` about every send (REST and WebSocket alike),
after the sender's quota and before the send joins a batch: off the transaction, so a
slow judge never holds the conversation's row lock. This build judges nothing
(`ALLOW_ALL`); the spam filter (issue 18, a later step) plugs in here:

- `allow`: the send goes on to the group commit as usual;
- `reject`: refused with 403 `message_rejected`, nothing stored;
- `hold`: to be stored as a review-queue item (`ModerationItem`, kind `held_message`)
  instead of entering the timeline, until a moderator approves it. Not built yet: a
  screen that answers `hold` today is a programming error.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from chatapi.errors import Forbidden

if TYPE_CHECKING:
    from chatapi.services.messages.send import SendRequest


class Verdict(StrEnum):
    allow = "allow"
    hold = "hold"
    reject = "reject"


class Screen(Protocol):
    """Judges a send before it is queued (the spam filter, an external classifier)."""

    async def judge(self, request: SendRequest) -> Verdict: ...


class AllowAll:
    """The screen of a server without a spam filter: every send is allowed."""

    async def judge(self, request: SendRequest) -> Verdict:
        return Verdict.allow


ALLOW_ALL = AllowAll()


def enforce(verdict: Verdict) -> None:
    """Act on a verdict that stops a send (raises); `allow` returns."""
    if verdict is Verdict.reject:
        raise Forbidden(
            "This message was refused by the server's spam filter.", code="message_rejected"
        )
    if verdict is Verdict.hold:
        raise NotImplementedError("holding messages for review comes with the spam filter")
