import { useState } from "react";
import { Dropdown } from "react-bootstrap";
import { Icon } from "../../components/Icon";
import { PICKER_EMOJI } from "./emojiSet";

/**
 * "Add reaction": a button opening a grid of emoji. A menu, so the keyboard works as in
 * every other menu here: Enter or Space opens it, the arrow keys move between emoji,
 * Enter picks one, Escape closes it and gives focus back to the button.
 */
export function EmojiPicker(props: { label: string; align: "start" | "end"; onPick: (emoji: string) => void }) {
  const [show, setShow] = useState(false);
  return (
    <Dropdown
      className="message-actions emoji-picker"
      align={props.align}
      show={show}
      onToggle={(next) => setShow(next)}
    >
      <Dropdown.Toggle variant="link" size="sm" className="message-actions-toggle" aria-label={props.label}>
        <Icon name="smile" />
      </Dropdown.Toggle>
      <Dropdown.Menu className="emoji-picker-menu p-1" aria-label="Emoji">
        {show
          ? PICKER_EMOJI.map((e) => (
              <Dropdown.Item
                key={e.emoji}
                as="button"
                className="emoji-picker-item"
                aria-label={e.name}
                title={e.name}
                onClick={() => {
                  setShow(false);
                  props.onPick(e.emoji);
                }}
              >
                {e.emoji}
              </Dropdown.Item>
            ))
          : null}
      </Dropdown.Menu>
    </Dropdown>
  );
}
