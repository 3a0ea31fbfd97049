import { useEffect, useRef, useState, type RefObject } from "react";
import { Dropdown } from "react-bootstrap";
import type { Message } from "../../api/types";
import { Icon } from "../../components/Icon";

/** How long a finger rests on a message before its menu opens. */
export const LONG_PRESS_MS = 500;
/** Moving further than this (px) is a scroll, not a press. */
const MOVE_TOLERANCE = 10;

/**
 * The "⋯" menu of a message (Reply, Copy, Pin, Edit, Delete; Report and Block for others'): a 32 px round button, shown on
 * hover or focus where there is a pointer that hovers and always on touch screens, where
 * pressing and holding the message opens it too.
 */
export function MessageActions(props: {
  message: Message;
  mine: boolean;
  canDelete: boolean;
  canPin: boolean;
  onReply: (m: Message) => void;
  onEdit: (m: Message) => void;
  onDelete: (m: Message) => void;
  onTogglePin: (m: Message) => void;
  /** Report the message to the server's moderators (others' messages). */
  onReport?: ((m: Message) => void) | undefined;
  /** Block its sender (others' messages). */
  onBlockSender?: ((m: Message) => void) | undefined;
}) {
  const { message: m } = props;
  const [show, setShow] = useState(false);
  const anchor = useRef<HTMLDivElement>(null);
  const [pressed, setPressed] = useState(0);
  useLongPress(anchor, () => {
    setShow(true);
    setPressed((n) => n + 1);
  });
  useEffect(() => {
    // Opened by a press: the first choice has focus, as when opened from the keyboard.
    if (pressed) anchor.current?.querySelector<HTMLElement>(".dropdown-item")?.focus();
  }, [pressed]);
  const canCopy = Boolean(m.body) && typeof navigator !== "undefined" && Boolean(navigator.clipboard);
  return (
    <Dropdown
      ref={anchor}
      className="message-actions"
      align={props.mine ? "end" : "start"}
      show={show}
      onToggle={(next) => setShow(next)}
    >
      <Dropdown.Toggle
        variant="link"
        size="sm"
        className="message-actions-toggle"
        aria-label={`Actions for message: ${m.body.slice(0, 40) || "attachment"}`}
      >
        <Icon name="dots" />
      </Dropdown.Toggle>
      <Dropdown.Menu>
        <Dropdown.Item as="button" onClick={() => props.onReply(m)}>
          Reply
        </Dropdown.Item>
        {canCopy ? (
          <Dropdown.Item as="button" onClick={() => void navigator.clipboard.writeText(m.body).catch(() => undefined)}>
            Copy text
          </Dropdown.Item>
        ) : null}
        {props.canPin ? (
          <Dropdown.Item as="button" onClick={() => props.onTogglePin(m)}>
            {m.pinned ? "Unpin" : "Pin"}
          </Dropdown.Item>
        ) : null}
        {props.mine ? (
          <Dropdown.Item as="button" onClick={() => props.onEdit(m)}>
            Edit
          </Dropdown.Item>
        ) : null}
        {props.canDelete ? (
          <Dropdown.Item as="button" className="text-danger" onClick={() => props.onDelete(m)}>
            Delete
          </Dropdown.Item>
        ) : null}
        {!props.mine && (props.onReport || props.onBlockSender) ? <Dropdown.Divider /> : null}
        {!props.mine && props.onReport ? (
          <Dropdown.Item as="button" onClick={() => props.onReport?.(m)}>
            Report…
          </Dropdown.Item>
        ) : null}
        {!props.mine && props.onBlockSender ? (
          <Dropdown.Item as="button" className="text-danger" onClick={() => props.onBlockSender?.(m)}>
            Block sender
          </Dropdown.Item>
        ) : null}
      </Dropdown.Menu>
    </Dropdown>
  );
}

/**
 * Press and hold on the message's bubble (a sibling of the menu in its row) calls
 * `onPress`; the browser's own long-press menu is held back then.
 */
function useLongPress(anchor: RefObject<HTMLElement | null>, onPress: () => void): void {
  const press = useRef(onPress);
  press.current = onPress;
  useEffect(() => {
    const bubble = anchor.current?.closest(".message-row")?.querySelector<HTMLElement>(".bubble");
    if (!bubble) return;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let start: { x: number; y: number } | null = null;
    let fired = false;
    const cancel = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      start = null;
    };
    const onStart = (e: TouchEvent) => {
      const touch = e.touches[0];
      if (e.touches.length !== 1 || !touch) return cancel();
      fired = false;
      start = { x: touch.clientX, y: touch.clientY };
      timer = setTimeout(() => {
        timer = null;
        fired = true;
        navigator.vibrate?.(10);
        press.current();
      }, LONG_PRESS_MS);
    };
    const onMove = (e: TouchEvent) => {
      const touch = e.touches[0];
      if (start && touch && Math.hypot(touch.clientX - start.x, touch.clientY - start.y) > MOVE_TOLERANCE) cancel();
    };
    const onEnd = (e: TouchEvent) => {
      cancel();
      // The press opened the menu: the lifted finger must not also click what is under it.
      if (fired) e.preventDefault();
    };
    const onContextMenu = (e: Event) => {
      if (fired || timer) e.preventDefault();
    };
    bubble.addEventListener("touchstart", onStart, { passive: true });
    bubble.addEventListener("touchmove", onMove, { passive: true });
    bubble.addEventListener("touchend", onEnd);
    bubble.addEventListener("touchcancel", cancel);
    bubble.addEventListener("contextmenu", onContextMenu);
    return () => {
      cancel();
      bubble.removeEventListener("touchstart", onStart);
      bubble.removeEventListener("touchmove", onMove);
      bubble.removeEventListener("touchend", onEnd);
      bubble.removeEventListener("touchcancel", cancel);
      bubble.removeEventListener("contextmenu", onContextMenu);
    };
  }, [anchor]);
}
