/**
 * The words of a system line: what a membership or settings event says to the person
 * reading it ("Alice added Carol", "You left", "Alice made you an admin").
 */
import type { ChatEvent } from "../../api/types";
import { callLineText } from "../calls/format";

/** A user's display name by id (the caller resolves departed members too). */
export type NameOf = (userId: string) => string;

export function systemLineText(event: ChatEvent, nameOf: NameOf, meId: string): string {
  const actorId = event.actor_id;
  const subjectId = event.member?.user_id ?? null;
  const who = (id: string | null, start: boolean): string =>
    id === null ? "Someone" : id === meId ? (start ? "You" : "you") : nameOf(id);
  const actor = who(actorId, true);
  const subject = who(subjectId, false);
  const subjectFirst = who(subjectId, true);
  const byThemselves = actorId === null || actorId === subjectId;
  switch (event.type) {
    case "member.added":
      return byThemselves ? `${subjectFirst} joined` : `${actor} added ${subject}`;
    case "member.removed":
      return byThemselves ? `${subjectFirst} left` : `${actor} removed ${subject}`;
    case "member.role_changed": {
      const role = event.member?.role ?? "member";
      if (actorId === null) {
        // The last owner left and the server handed the group on.
        return `${subjectFirst} ${subjectId === meId ? "are" : "is"} now ${article(role)}`;
      }
      if (role === "member") {
        const whose = subjectId === meId ? "your" : `${subject}’s`;
        return `${actor} changed ${whose} role to member`;
      }
      return `${actor} made ${subject} ${article(role)}`;
    }
    case "conversation.updated": {
      const title = event.conversation?.title?.trim();
      return title ? `${actor} renamed the group to “${title}”` : `${actor} removed the group’s name`;
    }
    case "call.ended":
      return event.call ? callLineText(event.call, meId) : "";
    case "message.new":
    case "message.edited":
    case "message.deleted":
    case "message.reaction":
    case "message.pinned":
    case "message.unpinned":
      return "";
  }
}

function article(role: "owner" | "admin" | "member"): string {
  return role === "owner" ? "an owner" : role === "admin" ? "an admin" : "a member";
}

/** The user ids a system line names (to look up the names of people no longer members). */
export function systemLineUserIds(event: ChatEvent): string[] {
  return [event.actor_id, event.member?.user_id].filter((id): id is string => Boolean(id));
}
