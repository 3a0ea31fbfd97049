import { OverlayTrigger, Tooltip } from "react-bootstrap";
import type { Message, Reaction } from "../../api/types";

/** "Alice, Bob and you": who reacted, by first name, me last. */
export function reactorNames(reaction: Reaction, meId: string, nameOf: (id: string) => string): string {
  const others = reaction.user_ids.filter((id) => id !== meId).map((id) => firstName(nameOf(id)));
  const names = reaction.user_ids.includes(meId) ? [...others, "you"] : others;
  if (names.length <= 1) return capitalise(names[0] ?? "");
  return capitalise(`${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`);
}

function firstName(name: string): string {
  return name.trim().split(/\s+/)[0] ?? name;
}

function capitalise(text: string): string {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

/**
 * The reactions under a message: one chip per emoji with its count, pressed when I am
 * among those who reacted; clicking it adds or takes back mine. Hovering or focusing a
 * chip shows who reacted, by first name.
 */
export function ReactionBar(props: {
  message: Message;
  meId: string;
  nameOf: (id: string) => string;
  readOnly: boolean;
  onToggle: (emoji: string) => void;
}) {
  const reactions = props.message.reactions ?? [];
  if (!reactions.length) return null;
  return (
    <div className="reaction-bar clearfix d-flex flex-wrap gap-1 mt-1" data-testid="reactions">
      {reactions.map((r) => {
        const mine = r.user_ids.includes(props.meId);
        const who = reactorNames(r, props.meId, props.nameOf);
        return (
          <OverlayTrigger
            key={r.emoji}
            placement="top"
            overlay={<Tooltip data-testid="reaction-tooltip">{who}</Tooltip>}
          >
            <button
              type="button"
              className={`reaction-chip btn btn-sm rounded-pill ${mine ? "mine" : ""}`}
              aria-pressed={mine}
              aria-label={`${r.emoji} ${r.count}: ${who}`}
              disabled={props.readOnly}
              data-testid="reaction"
              data-emoji={r.emoji}
              onClick={() => props.onToggle(r.emoji)}
            >
              <span aria-hidden="true">{r.emoji}</span>
              <span className="ms-1" aria-hidden="true" data-testid="reaction-count">
                {r.count}
              </span>
            </button>
          </OverlayTrigger>
        );
      })}
    </div>
  );
}
