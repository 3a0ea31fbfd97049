import type { Conversation, Member, User } from "../../api/types";
import { formatLastSeen } from "../../lib/format";
import { usePresenceKnown } from "../../realtime/context";

/** Names to show for a group: the others by name (online first), then "you". */
export function memberNames(members: readonly Member[], meId: string | undefined): string[] {
  const others = members
    .filter((m) => m.user.id !== meId)
    .sort(
      (a, b) => Number(b.user.online) - Number(a.user.online) || a.user.display_name.localeCompare(b.user.display_name),
    )
    .map((m) => m.user.display_name);
  return members.some((m) => m.user.id === meId) ? [...others, "you"] : others;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * Under the chat title: who is in a group ("Bob, Carol, you", truncated, then the
 * count), that I am no longer in it, or the other person's presence in a direct chat — "status unknown" while the
 * socket is down, since presence is not heard then.
 */
export function ChatSubtitle({
  conversation: c,
  members,
  peer,
  meId,
  former = false,
}: {
  conversation: Conversation | undefined;
  members: readonly Member[];
  peer: User | undefined;
  meId: string | undefined;
  /** I left or was removed: say so instead */
  former?: boolean;
}) {
  const presenceKnown = usePresenceKnown();
  let names: string | null = null;
  let text = "";
  if (former) {
    text = "You are no longer a member";
  } else if (c?.kind === "group") {
    names = members.length ? memberNames(members, meId).join(", ") : null;
    text = plural(members.length || c.members_count, "member");
  } else if (peer) {
    text = !presenceKnown ? "status unknown" : peer.online ? "online" : formatLastSeen(peer.last_seen_at);
  }
  return (
    <div className="small text-body-secondary d-flex min-w-0 gap-1" data-testid="conversation-subtitle">
      {names ? (
        <>
          <span className="text-truncate" title={names}>
            {names}
          </span>
          <span className="flex-shrink-0" aria-hidden="true">
            ·
          </span>
          <span className="visually-hidden">, </span>
        </>
      ) : null}
      <span className={names ? "flex-shrink-0" : "text-truncate"}>{text}</span>
    </div>
  );
}
