import type { Member } from "../../api/types";
import { useTypingUsers } from "../../realtime/typingStore";

export function typingText(names: string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names[0]} and ${names.length - 1} others are typing…`;
}

export function TypingIndicator({ conversationId, members }: { conversationId: string; members: Member[] }) {
  const ids = useTypingUsers(conversationId);
  const names = ids.map((id) => members.find((m) => m.user.id === id)?.user.display_name ?? "Someone");
  return (
    <div
      className="px-3 small text-body-secondary fst-italic"
      style={{ minHeight: "1.3rem" }}
      aria-live="polite"
      data-testid="typing-indicator"
    >
      {typingText(names)}
    </div>
  );
}
