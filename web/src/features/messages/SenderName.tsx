import { colourIndex } from "../../lib/colours";

/** A sender's name over their messages in a group, in a colour of their own (stable per user id). */
export function SenderName({ userId, name }: { userId: string; name: string }) {
  return (
    <div
      className={`sender-name small fw-semibold text-truncate name-c${colourIndex(userId)}`}
      data-testid="message-sender"
      dir="auto"
    >
      {name}
    </div>
  );
}
