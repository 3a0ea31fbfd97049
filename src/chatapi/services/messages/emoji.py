"""Which reactions are emoji: one Unicode emoji (a single grapheme cluster, e.g. 👍, 👍🏽,
👨‍👩‍👧, 🇫🇷), or a `:name:` shortcode from the `emoji` package's fixed alias table
(`:thumbsup:`, `:+1:`, `:tada:`), stored as the emoji it names. Never other text.

The `emoji` package tracks the Unicode emoji data (qualification, ZWJ sequences, skin tones)
release by release, which a hand-written range check would not."""

from __future__ import annotations

import re

import emoji as emoji_data

from chatapi.errors import Unprocessable

_SHORTCODE = re.compile(r":[a-z0-9_+\-]{1,48}:")
_VS16 = "\ufe0f"
MAX_EMOJI_CHARS = 32


def _invalid() -> Unprocessable:
    return Unprocessable(
        "A reaction is one emoji (e.g. 👍) or a known :shortcode: (e.g. :thumbsup:).",
        code="invalid_emoji",
    )


def normalize_emoji(value: str) -> str:
    """The emoji as stored and shown: fully qualified (❤ becomes ❤️, so both are one
    reaction). Raises 422 `invalid_emoji` for anything that is not exactly one emoji."""
    if not value or len(value) > MAX_EMOJI_CHARS:
        raise _invalid()
    if _SHORTCODE.fullmatch(value):
        value = emoji_data.emojize(value, language="alias")
    if not emoji_data.is_emoji(value):
        raise _invalid()
    entry = emoji_data.EMOJI_DATA.get(value)
    qualified = value + _VS16
    if (
        entry is not None
        and entry.get("status") != emoji_data.STATUS["fully_qualified"]
        and qualified in emoji_data.EMOJI_DATA
    ):
        return qualified
    return value
