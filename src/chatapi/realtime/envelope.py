"""What travels through the broker: a small routing header and the frame, serialized once.

Within a process an `Envelope` is handed over as it is; between processes (Redis) its wire
form is `<header JSON>\n<frame JSON>`, stamped with the publishing instance as it is
serialized. The hub reads the header to route and writes the frame bytes unchanged to
every local socket that should get them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

# event: a timeline event, routed to the conversation's members, in seq order.
# typing, receipt: ephemeral, routed to the conversation's members.
# presence: routed to `user_ids`.
# notice: routed to `user_ids` (e.g. `conversation.created` to the members of a new chat).
# call: a call's frame, routed to every socket of `user_ids`, or with `connection_id` to
#   that one socket of `user_ids[0]` only (a `call.signal`).
# revoke: login sessions of `user_ids[0]` were revoked: `session_id`, or all of them but
#   `keep_session_id`; their sockets close (the frame is the close reason).
Kind = Literal["event", "typing", "receipt", "presence", "notice", "revoke", "call"]


def dumps(obj: Any) -> bytes:
    """The one JSON serializer for frames (orjson: UUIDs, datetimes, pydantic via dump)."""
    return orjson.dumps(obj)


@dataclass(frozen=True, slots=True)
class Envelope:
    kind: Kind
    frame: bytes
    conversation_id: uuid.UUID | None = None
    seq: int | None = None
    # event: the member added/removed (membership cache); presence: the recipients.
    user_ids: tuple[uuid.UUID, ...] = ()
    # event: "added" | "removed" | "" (membership change carried by this event).
    membership: str = ""
    # The user whose action this is (typing/receipt: not echoed to their own sockets).
    actor_id: uuid.UUID | None = None
    # revoke: the session revoked (None: all of the user's), and one to keep.
    session_id: uuid.UUID | None = None
    keep_session_id: uuid.UUID | None = None
    # The frame has media links, signed for nobody: the hub signs them per recipient.
    personal: bool = False
    # call: the one socket (its session id) the frame is for.
    connection_id: str | None = None
    origin: str = field(default="", compare=False)

    def envelope(self, origin: str | None = None) -> bytes:
        """The wire form, from instance `origin` (default: the envelope's own)."""
        header = {
            "k": self.kind,
            "c": str(self.conversation_id) if self.conversation_id else None,
            "s": self.seq,
            "u": [str(u) for u in self.user_ids],
            "m": self.membership,
            "a": str(self.actor_id) if self.actor_id else None,
            "o": self.origin if origin is None else origin,
        }
        if self.personal:
            header["p"] = 1
        if self.connection_id is not None:
            header["n"] = self.connection_id
        if self.kind == "revoke":
            header["x"] = str(self.session_id) if self.session_id else None
            header["y"] = str(self.keep_session_id) if self.keep_session_id else None
        return orjson.dumps(header) + b"\n" + self.frame

    @classmethod
    def decode(cls, data: bytes) -> Envelope:
        head, _, frame = data.partition(b"\n")
        h = orjson.loads(head)
        return cls(
            kind=h["k"],
            frame=frame,
            conversation_id=uuid.UUID(h["c"]) if h.get("c") else None,
            seq=h.get("s"),
            user_ids=tuple(uuid.UUID(u) for u in h.get("u") or ()),
            membership=h.get("m") or "",
            actor_id=uuid.UUID(h["a"]) if h.get("a") else None,
            origin=h.get("o") or "",
            personal=bool(h.get("p")),
            session_id=uuid.UUID(h["x"]) if h.get("x") else None,
            keep_session_id=uuid.UUID(h["y"]) if h.get("y") else None,
            connection_id=h.get("n"),
        )
