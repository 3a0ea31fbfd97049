import type { Member } from "../../api/types";

/** Groups of at most this many members let anyone write @all (as the server rules). */
export const OPEN_ALL_MAX_MEMBERS = 10;
const MAX_SUGGESTIONS = 8;

export interface MentionQuery {
  /** Where the `@` is. */
  start: number;
  /** What is typed after it, up to the caret (lower-case). */
  query: string;
}

export interface Suggestion {
  username: string;
  label: string;
  userId: string | null;
  /** the person's picture thumbnail (null: initials; none for @all) */
  imageUrl?: string | null;
}

/** The `@name` being typed at the caret, if any: an `@` at the start or after a space or
 * punctuation (not inside a word or an e-mail address), then username characters. */
export function activeMention(text: string, caret: number): MentionQuery | null {
  const before = text.slice(0, caret);
  const match = /(^|[^\p{L}\p{N}_@.])@([a-z0-9_.-]{0,32})$/iu.exec(before);
  if (!match) return null;
  const query = match[2]!;
  return { start: caret - query.length - 1, query: query.toLowerCase() };
}

/** Members (not me) whose username or display name starts with the query; `@all` in a
 * group when I may use it. */
export function suggestions(
  members: readonly Member[],
  query: string,
  meId: string | undefined,
  group: boolean,
): Suggestion[] {
  const q = query.toLowerCase();
  const found: Suggestion[] = members
    .filter((m) => m.user.id !== meId)
    .filter((m) => m.user.username.startsWith(q) || m.user.display_name.toLowerCase().startsWith(q))
    .sort((a, b) => a.user.username.localeCompare(b.user.username))
    .slice(0, MAX_SUGGESTIONS)
    .map((m) => ({
      username: m.user.username,
      label: m.user.display_name,
      userId: m.user.id,
      imageUrl: m.user.avatar_thumb_url,
    }));
  const myRole = members.find((m) => m.user.id === meId)?.role;
  const mayAll = group && (members.length <= OPEN_ALL_MAX_MEMBERS || myRole === "owner" || myRole === "admin");
  if (mayAll && "all".startsWith(q)) found.push({ username: "all", label: "Everyone in this group", userId: null });
  return found;
}

/** The text with the typed `@query` replaced by `@username `, and where the caret goes. */
export function applyMention(
  text: string,
  at: MentionQuery,
  caret: number,
  username: string,
): { text: string; caret: number } {
  const inserted = `@${username} `;
  const rest = text
    .slice(caret)
    .replace(/^[a-z0-9_.-]*/i, "")
    .replace(/^ /, "");
  return { text: text.slice(0, at.start) + inserted + rest, caret: at.start + inserted.length };
}
