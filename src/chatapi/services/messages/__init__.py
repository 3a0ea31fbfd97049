"""Messages, split by verb: `send` (the rules and rows of a send), `group_commit` (the
batcher that owns send transactions), `edit` (edits and deletes), `history` (pages of
messages) and `reads` (messages as clients read them)."""
