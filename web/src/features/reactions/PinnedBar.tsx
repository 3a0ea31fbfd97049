import { useEffect, useState } from "react";
import type { Pin } from "../../api/types";
import { Icon } from "../../components/Icon";

function preview(pin: Pin): string {
  const m = pin.message;
  return m.body.trim() || (m.attachments.length ? "Attachment" : "Message");
}

/**
 * The pinned messages at the top of a conversation, one at a time, newest pin first.
 * Clicking shows that message in the list (scrolled to and flashed) and moves the bar on
 * to the next pin, round and round.
 */
export function PinnedBar(props: { pins: Pin[]; onJump: (pin: Pin) => void }) {
  const { pins } = props;
  const [index, setIndex] = useState(0);
  useEffect(() => {
    if (index >= pins.length) setIndex(0);
  }, [index, pins.length]);
  const pin = pins[index < pins.length ? index : 0];
  if (!pin) return null;
  const position = pins.length > 1 ? ` ${Math.min(index, pins.length - 1) + 1} of ${pins.length}` : "";
  return (
    <div className="pinned-bar border-bottom px-2 py-1" data-testid="pinned-bar">
      <button
        type="button"
        className="pinned-text btn btn-link btn-sm d-flex align-items-center gap-2 w-100 text-start text-decoration-none p-0"
        aria-describedby="pinned-bar-hint"
        data-testid="pinned-jump"
        data-pinned-message-id={pin.message.id}
        onClick={() => {
          props.onJump(pin);
          setIndex((i) => (pins.length ? (i + 1) % pins.length : 0));
        }}
      >
        <Icon name="pin" />
        <span className="min-w-0 flex-grow-1">
          <span className="d-block small fw-semibold text-primary-emphasis">Pinned message{position}</span>
          <span className="d-block small text-truncate" data-testid="pinned-text">
            {preview(pin)}
          </span>
        </span>
        <span id="pinned-bar-hint" className="visually-hidden">
          Shows it in the conversation
        </span>
      </button>
    </div>
  );
}
