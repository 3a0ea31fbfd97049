/** A live `message.new` frame into a desktop notification, when the rules say so (notify.ts). */
import type { QueryClient } from "@tanstack/react-query";
import type { Conversation, Member, Message } from "../../api/types";
import { keys } from "../conversations/keys";
import { fetchUser } from "../users/api";
import { settingsKey } from "./api";
import { notificationFor, shouldNotify, type NotificationSettings } from "./notify";
import { notificationPermission, showChatNotification } from "./show";

/** The sender's name: from what the client knows (the chat's peer, its members, people seen), else asked once. */
export async function senderName(
  qc: QueryClient,
  conversation: Conversation | undefined,
  senderId: string,
): Promise<string> {
  if (conversation?.other_user?.id === senderId) return conversation.other_user.display_name;
  const member = qc
    .getQueryData<Member[]>(keys.members(conversation?.id ?? ""))
    ?.find((m) => m.user.id === senderId)?.user;
  if (member) return member.display_name;
  try {
    const user = await qc.fetchQuery({
      queryKey: keys.user(senderId),
      queryFn: () => fetchUser(senderId),
      staleTime: 10 * 60_000,
    });
    return user.display_name;
  } catch {
    return "Someone";
  }
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
  void senderName(qc, conversation, message.sender_id)
    .then((name) =>
      showChatNotification(notificationFor(message, conversation, name, settings), settings.notification_sound),
    )
    .catch(() => undefined);
}
