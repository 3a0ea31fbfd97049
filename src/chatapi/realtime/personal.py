"""Frames made for one recipient: what the hub hands to a recipient's sockets when an
envelope is `personal`. A timeline frame goes to every member serialized once; the parts
of it that depend on who reads it are rewritten per recipient user, from the matched text,
without parsing it: media links are signed for them (`MediaSigner.personalize`), and each
reaction's `me` says whether they are among its `user_ids`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from chatapi.media_urls import MediaSigner

# A serialized `ReactionRead`'s tail: `"user_ids":[...],"me":<bool>`. A message body
# cannot contain it (its quotes are escaped), so only real reactions match.
_REACTORS = re.compile(r'"user_ids":\[([^\]]*)\],"me":(?:true|false)')


def mark_my_reactions(text: str, viewer: uuid.UUID) -> str:
    """Set `me` in each reaction of a serialized frame for `viewer`."""
    if '"user_ids":' not in text:
        return text
    mine = f'"{viewer}"'

    def mark(match: re.Match[str]) -> str:
        users = match.group(1)
        me = "true" if mine in users else "false"
        return f'"user_ids":[{users}],"me":{me}'

    return _REACTORS.sub(mark, text)


def personalizer(signer: MediaSigner) -> Callable[[str, uuid.UUID], str]:
    """The hub's per-recipient rewrite: media links and reactions."""

    def personalize(text: str, viewer: uuid.UUID) -> str:
        return mark_my_reactions(signer.personalize(text, viewer), viewer)

    return personalize
