/**
 * Who is notified of a new message, and what the notification says: pure rules, no DOM.
 *
 * A message notifies when it is someone else's, arrives live (not caught up after a
 * reconnect), and the person is not looking at its conversation (the tab is hidden, or
 * another conversation is open); when notifications are on and this browser allows them;
 * and, in a muted conversation, only when it mentions them. Title: the sender's name (and
 * the group's title); body: the text without markdown, or what was attached; "New message"
 * when previews are off. One notification per conversation (its tag), replaced as
 * messages arrive.
 */
import type { Conversation, Message, UserSettings } from "../../api/types";
import { isMuted } from "../conversations/api";

/** GET /users/me/settings: notifications, notification_previews, notification_sound. */
export type NotificationSettings = UserSettings;

/** The server's answer before any change (everything on). */
export const DEFAULT_SETTINGS: NotificationSettings = {
  notifications: true,
  notification_previews: true,
  notification_sound: true,
};

export interface NotifyInput {
  message: Pick<Message, "sender_id" | "deleted" | "mentions" | "mentions_all">;
  meId: string | undefined;
  conversation: Pick<Conversation, "muted" | "muted_until"> | undefined;
  /** The conversation is on screen in a visible tab. */
  onScreen: boolean;
  live: boolean;
  settings: NotificationSettings | undefined;
  permission: NotificationPermission | "unsupported";
  now?: number;
}

export function mentionsMe(message: Pick<Message, "mentions" | "mentions_all">, meId: string | undefined): boolean {
  return message.mentions_all || (meId !== undefined && message.mentions.includes(meId));
}

export function shouldNotify(input: NotifyInput): boolean {
  const { message, meId, conversation, settings } = input;
  if (!input.live || input.onScreen || message.deleted) return false;
  if (!meId || message.sender_id === meId) return false;
  if (!settings?.notifications || input.permission !== "granted") return false;
  if (conversation && isMuted(conversation, input.now) && !mentionsMe(message, meId)) return false;
  return true;
}

const PREVIEW_MAX = 140;

/** Message text as one plain line: markdown marks, link targets and fences dropped. */
export function plainText(body: string): string {
  const text = body
    .replace(/```[^\n]*\n?/g, "") // code fences (their content stays)
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // [text](url) -> text
    .replace(/^\s{0,3}>\s?/gm, "") // block quotes
    .replace(/^\s*(?:[-*+]|\d+[.)])\s+/gm, "") // list markers
    .replace(/(\*\*|__|~~)(?=\S)([\s\S]*?\S)\1/g, "$2") // bold, strikethrough
    .replace(/(^|[^\w*])([*_])(?=\S)([^*_\n]*?\S)\2(?!\w)/g, "$1$3") // italics
    .replace(/`([^`]*)`/g, "$1") // inline code
    .replace(/\s+/g, " ")
    .trim();
  return text.length > PREVIEW_MAX ? `${text.slice(0, PREVIEW_MAX - 1).trimEnd()}…` : text;
}

type Attachment = Message["attachments"][number];

/** What an attachment-only message says: 📷 Photo, 🎥 Video, or 📄 and the file's name. */
export function attachmentPreview(attachments: readonly Pick<Attachment, "content_type" | "filename">[]): string {
  const first = attachments[0];
  if (!first) return "";
  const more = attachments.length > 1 ? ` (+${attachments.length - 1})` : "";
  if (first.content_type.startsWith("image/")) return `📷 Photo${more}`;
  if (first.content_type.startsWith("video/")) return `🎥 Video${more}`;
  return `📄 ${first.filename}${more}`;
}

export function messagePreview(message: Pick<Message, "body" | "attachments">): string {
  return plainText(message.body) || attachmentPreview(message.attachments) || "New message";
}

export interface ChatNotification {
  title: string;
  body: string;
  tag: string;
  url: string;
  conversationId: string;
}

export function notificationFor(
  message: Pick<Message, "body" | "attachments" | "conversation_id">,
  conversation: Pick<Conversation, "kind" | "title"> | undefined,
  senderName: string,
  settings: Pick<NotificationSettings, "notification_previews">,
): ChatNotification {
  const group = conversation?.kind === "group" ? conversation.title?.trim() || "Untitled group" : null;
  const id = message.conversation_id;
  return {
    title: group ? `${senderName} · ${group}` : senderName,
    body: settings.notification_previews ? messagePreview(message) : "New message",
    tag: `conversation:${id}`,
    url: `/c/${id}`,
    conversationId: id,
  };
}
