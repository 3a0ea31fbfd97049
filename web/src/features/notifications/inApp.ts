/** A live `message.new` frame into a desktop notification, when the rules say so (notify.ts). */
import type { QueryClient } from "@tanstack/react-query";
import type { Conversation, Member, Message, User } from "../../api/types";
import { keys } from "../conversations/keys";
import { settingsKey } from "./api";
import { notificationFor, shouldNotify, type NotificationSettings } from "./notify";
import { notificationPermission, showChatNotification } from "./show";

export function senderName(qc: QueryClient, conversation: Conversation | undefined, senderId: string): string {
  if (conversation?.other_user?.id === senderId) return conversation.other_user.display_name;
  const member = qc
    .getQueryData<Member[]>(keys.members(conversation?.id ?? ""))
    ?.find((m) => m.user.id === senderId)?.user;
  return member?.display_name ?? qc.getQueryData<User>(keys.user(senderId))?.display_name ?? "Someone";
}

/** Show a notification for `message` if it should notify; `onScreen`: its conversation is open in a visible tab. */
export function notifyOfMessage(qc: QueryClient, message: Message, meId: string | undefined, onScreen: boolean): void {
  const settings = qc.getQueryData<NotificationSettings>(settingsKey);
  const conversation = qc
    .getQueryData<Conversation[]>(keys.conversations)
    ?.find((c) => c.id === message.conversation_id);
  const notify = shouldNotify({
    message,
    meId,
    conversation,
    onScreen,
    live: true,
    settings,
    permission: notificationPermission(),
  });
  if (!notify || !settings) return;
  const n = notificationFor(message, conversation, senderName(qc, conversation, message.sender_id), settings);
  void showChatNotification(n, settings.notification_sound).catch(() => undefined);
}
