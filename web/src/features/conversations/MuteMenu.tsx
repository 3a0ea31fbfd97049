import { Dropdown } from "react-bootstrap";
import type { Conversation } from "../../api/types";
import { Icon } from "../../components/Icon";
import { formatTime, dayLabel } from "../../lib/format";
import { isMuted, useMuteConversation, type MuteChoice } from "./api";

const CHOICES: { choice: MuteChoice; label: string }[] = [
  { choice: "1h", label: "For 1 hour" },
  { choice: "8h", label: "For 8 hours" },
  { choice: "1w", label: "For a week" },
  { choice: "always", label: "Until I unmute" },
];

/** Mute this conversation for me: it then notifies only when I am mentioned. */
export function MuteMenu({ conversation }: { conversation: Conversation }) {
  const mute = useMuteConversation(conversation.id);
  const muted = isMuted(conversation);
  const until = muted && conversation.muted_until ? conversation.muted_until : null;
  return (
    <Dropdown align="end">
      <Dropdown.Toggle
        variant={muted ? "secondary" : "outline-secondary"}
        size="sm"
        aria-label={muted ? "Muted: notification settings" : "Notification settings"}
        data-testid="mute-toggle"
      >
        <Icon name={muted ? "bellOff" : "bell"} />
      </Dropdown.Toggle>
      <Dropdown.Menu>
        {muted ? (
          <>
            <Dropdown.ItemText className="small text-body-secondary">
              {until
                ? `Muted until ${dayLabel(until).toLowerCase()} at ${formatTime(until)}`
                : "Muted until you unmute"}
            </Dropdown.ItemText>
            <Dropdown.Item as="button" onClick={() => mute.mutate("off")}>
              Unmute
            </Dropdown.Item>
          </>
        ) : (
          <>
            <Dropdown.Header>Mute notifications</Dropdown.Header>
            {CHOICES.map(({ choice, label }) => (
              <Dropdown.Item key={choice} as="button" onClick={() => mute.mutate(choice)}>
                {label}
              </Dropdown.Item>
            ))}
          </>
        )}
      </Dropdown.Menu>
    </Dropdown>
  );
}
