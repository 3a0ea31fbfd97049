import { Avatar } from "../../components/Avatar";
import type { Suggestion } from "./mentionAutocomplete";

interface Props {
  id: string;
  options: Suggestion[];
  active: number;
  onPick: (index: number) => void;
}

export const mentionOptionId = (listId: string, index: number) => `${listId}-${index}`;

/** The listbox of people to mention, above the composer; the textarea keeps the focus and
 * points at the active option with aria-activedescendant. */
export function MentionSuggestions({ id, options, active, onPick }: Props) {
  return (
    <ul
      id={id}
      role="listbox"
      aria-label="Mention someone"
      className="mention-suggestions list-group shadow"
      data-testid="mention-suggestions"
    >
      {options.map((o, i) => (
        <li
          key={o.username}
          id={mentionOptionId(id, i)}
          role="option"
          aria-selected={i === active}
          className={`list-group-item list-group-item-action py-1 px-2 d-flex align-items-center gap-2 ${i === active ? "active" : ""}`}
          // Keep the focus in the textarea: pick on mousedown, before it would blur.
          onMouseDown={(e) => {
            e.preventDefault();
            onPick(i);
          }}
        >
          {o.userId ? <Avatar name={o.label} seed={o.userId} imageUrl={o.imageUrl} small /> : null}
          <span className="min-w-0 text-truncate">
            <span className="fw-medium">{o.label}</span>{" "}
            <span className={i === active ? "" : "text-body-secondary"}>@{o.username}</span>
          </span>
        </li>
      ))}
    </ul>
  );
}
