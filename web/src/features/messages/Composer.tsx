import {
  useEffect,
  useId,
  useLayoutEffect,
  useRef,
  useState,
  type ClipboardEvent,
  type FormEvent,
  type KeyboardEvent,
} from "react";
import { Icon } from "../../components/Icon";
import { Alert, Button, CloseButton, Form, ProgressBar } from "react-bootstrap";
import type { Member, Message } from "../../api/types";
import { formatBytes } from "../../lib/format";
import type { useUploads } from "../media/useUploads";
import { useRealtime } from "../../realtime/RealtimeProvider";
import { getDraft, setDraft } from "./drafts";
import { activeMention, applyMention, suggestions } from "./mentionAutocomplete";
import { MentionSuggestions, mentionOptionId } from "./MentionSuggestions";

const TYPING_RENEW_MS = 3_000;
const TYPING_IDLE_MS = 4_000;

interface Props {
  conversationId: string;
  /** The signed-in user: drafts are kept per user (none without one). */
  meId?: string | undefined;
  /** Who can be mentioned with `@` (the conversation's members). */
  members?: readonly Member[] | undefined;
  group?: boolean | undefined;
  replyTo: Message | null;
  replyName: string;
  editing: Message | null;
  uploads: ReturnType<typeof useUploads>;
  onCancelReply: () => void;
  onCancelEdit: () => void;
  onSend: (body: string) => void;
  onSaveEdit: (message: Message, body: string) => Promise<void>;
}

export function Composer({
  conversationId,
  meId,
  members = [],
  group = false,
  replyTo,
  replyName,
  editing,
  uploads,
  onCancelReply,
  onCancelEdit,
  onSend,
  onSaveEdit,
}: Props) {
  const [body, setBody] = useState("");
  const [error, setError] = useState<string | null>(null);
  const textarea = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const { send } = useRealtime();
  const typingSentAt = useRef(0);
  const [caret, setCaret] = useState(0);
  const [activeOption, setActiveOption] = useState(0);
  // The `@` whose suggestions were closed with Esc: they stay closed until another `@`.
  const [dismissedAt, setDismissedAt] = useState<number | null>(null);
  const nextCaret = useRef<number | null>(null);
  const listId = useId();
  const mention = activeMention(body, caret);
  const options = mention && mention.start !== dismissedAt ? suggestions(members, mention.query, meId, group) : [];
  const suggesting = options.length > 0;
  const active = Math.min(activeOption, Math.max(options.length - 1, 0));

  useLayoutEffect(() => {
    if (nextCaret.current === null || !textarea.current) return;
    textarea.current.setSelectionRange(nextCaret.current, nextCaret.current);
    setCaret(nextCaret.current);
    nextCaret.current = null;
  }, [body]);

  function pickMention(index: number) {
    const option = options[index];
    if (!mention || !option) return;
    const next = applyMention(body, mention, caret, option.username);
    nextCaret.current = next.caret;
    setBody(next.text);
    if (!editing) saveDraft(next.text);
    setActiveOption(0);
  }
  const idleTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const stopTyping = () => {
    if (idleTimer.current) clearTimeout(idleTimer.current);
    idleTimer.current = null;
    if (typingSentAt.current) {
      send({ type: "typing", conversation_id: conversationId, state: "stop" });
      typingSentAt.current = 0;
    }
  };

  function noteTyping() {
    const now = Date.now();
    // Renew "start" every few seconds: the server expires an unrenewed one after ~6 s.
    if (now - typingSentAt.current > TYPING_RENEW_MS) {
      if (send({ type: "typing", conversation_id: conversationId, state: "start" })) typingSentAt.current = now;
    }
    if (idleTimer.current) clearTimeout(idleTimer.current);
    idleTimer.current = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  /** The saved draft of this conversation: what the box shows when not editing. */
  const draft = () => (meId ? getDraft(meId, conversationId) : "");
  const saveDraft = (text: string) => {
    if (meId) setDraft(meId, conversationId, text);
  };

  useEffect(() => {
    // The draft shows once who is signed in is known (it may load after the composer).
    if (meId && !editing) setBody(getDraft(meId, conversationId));
  }, [meId, conversationId]);

  useEffect(() => {
    setBody(draft());
    // Opening a conversation puts the cursor where you write (not on touch screens,
    // where it would pop up the keyboard).
    if (!window.matchMedia?.("(pointer: coarse)").matches) textarea.current?.focus({ preventScroll: true });
    return stopTyping;
    // stopTyping closes over this conversation on purpose.
  }, [conversationId]);

  useEffect(() => {
    if (editing) {
      setBody(editing.body);
      textarea.current?.focus();
    }
  }, [editing]);

  useEffect(() => {
    if (replyTo) textarea.current?.focus();
  }, [replyTo]);

  // Grow with the text, up to the CSS max-height.
  useEffect(() => {
    const el = textarea.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${el.scrollHeight}px`;
  }, [body]);

  const uploading = uploads.uploads.some((u) => u.status === "uploading");
  const ready = uploads.uploads.filter((u) => u.status === "done");
  const trimmed = body.trim();
  const canSend = editing ? trimmed.length > 0 : !uploading && (trimmed.length > 0 || ready.length > 0);

  async function submit(e?: FormEvent) {
    e?.preventDefault();
    if (!canSend) return;
    setError(null);
    if (trimmed.length > 4000) {
      setError(`Messages can be at most 4000 characters (this one has ${trimmed.length}).`);
      return;
    }
    if (editing) {
      try {
        await onSaveEdit(editing, trimmed);
        setBody(draft());
      } catch (err) {
        setError(err instanceof Error ? err.message : "Saving the edit failed.");
      }
      return;
    }
    stopTyping();
    onSend(trimmed);
    setBody("");
    saveDraft("");
    textarea.current?.focus();
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (suggesting && !e.nativeEvent.isComposing) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const step = e.key === "ArrowDown" ? 1 : -1;
        setActiveOption((active + step + options.length) % options.length);
        return;
      }
      if ((e.key === "Enter" && !e.shiftKey) || e.key === "Tab") {
        e.preventDefault();
        pickMention(active);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        setDismissedAt(mention?.start ?? null);
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void submit();
    } else if (e.key === "Escape") {
      if (editing) {
        onCancelEdit();
        setBody(draft());
      } else if (replyTo) onCancelReply();
    }
  }

  function onPaste(e: ClipboardEvent<HTMLTextAreaElement>) {
    const files = Array.from(e.clipboardData.files);
    if (files.length && !editing) {
      e.preventDefault();
      uploads.add(files);
    }
  }

  return (
    <Form className="composer border-top p-2" onSubmit={(e) => void submit(e)} aria-label="Write a message">
      {error ? (
        <Alert variant="danger" className="py-1 px-2 small mb-2" dismissible onClose={() => setError(null)}>
          {error}
        </Alert>
      ) : null}
      {replyTo && !editing ? (
        <div className="d-flex align-items-center gap-2 mb-2" data-testid="reply-preview">
          <div className="reply-quote flex-grow-1 mb-0 min-w-0">
            Replying to <strong>{replyName}</strong>: {replyTo.body || "Attachment"}
          </div>
          <CloseButton aria-label="Cancel reply" onClick={onCancelReply} />
        </div>
      ) : null}
      {editing ? (
        <div className="d-flex align-items-center gap-2 mb-2 small">
          <span className="flex-grow-1 text-body-secondary">Editing message</span>
          <CloseButton
            aria-label="Cancel editing"
            onClick={() => {
              onCancelEdit();
              setBody(draft());
            }}
          />
        </div>
      ) : null}
      {uploads.uploads.length ? (
        <ul className="list-unstyled d-flex flex-column gap-1 mb-2" aria-label="Attachments">
          {uploads.uploads.map((u) => (
            <li key={u.key} className="d-flex align-items-center gap-2 small" data-testid="upload">
              <span className="text-truncate" style={{ maxWidth: "40%" }}>
                {u.file.name}
              </span>
              <span className="text-body-secondary flex-shrink-0">{formatBytes(u.file.size)}</span>
              {u.status === "uploading" ? (
                <ProgressBar
                  now={Math.round(u.progress * 100)}
                  className="flex-grow-1"
                  style={{ height: 6 }}
                  aria-label={`Uploading ${u.file.name}`}
                />
              ) : u.status === "error" ? (
                <span className="text-danger flex-grow-1 text-truncate">{u.error}</span>
              ) : (
                <span className="text-success flex-grow-1" data-testid="upload-done">
                  Ready
                </span>
              )}
              <CloseButton
                aria-label={u.status === "uploading" ? `Cancel upload of ${u.file.name}` : `Remove ${u.file.name}`}
                onClick={() => uploads.remove(u.key)}
              />
            </li>
          ))}
        </ul>
      ) : null}
      <div className="d-flex align-items-end gap-2 position-relative">
        {suggesting ? <MentionSuggestions id={listId} options={options} active={active} onPick={pickMention} /> : null}
        <input
          ref={fileInput}
          type="file"
          multiple
          className="d-none"
          aria-label="Attach files"
          data-testid="file-input"
          onChange={(e) => {
            if (e.target.files) uploads.add(Array.from(e.target.files));
            e.target.value = "";
          }}
        />
        <Button
          variant="outline-secondary"
          onClick={() => fileInput.current?.click()}
          disabled={Boolean(editing)}
          aria-label="Attach files"
          title="Attach files"
        >
          <Icon name="paperclip" />
        </Button>
        <Form.Control
          as="textarea"
          ref={textarea}
          rows={1}
          value={body}
          placeholder="Message"
          aria-label="Message"
          aria-describedby="composer-hint"
          aria-autocomplete="list"
          aria-controls={suggesting ? listId : undefined}
          aria-activedescendant={suggesting ? mentionOptionId(listId, active) : undefined}
          onSelect={(e) => setCaret(e.currentTarget.selectionStart ?? 0)}
          onChange={(e) => {
            setCaret(e.target.selectionStart ?? 0);
            if (
              dismissedAt !== null &&
              activeMention(e.target.value, e.target.selectionStart ?? 0)?.start !== dismissedAt
            ) {
              setDismissedAt(null);
            }
            setBody(e.target.value);
            if (!editing) saveDraft(e.target.value);
            if (!editing && e.target.value) noteTyping();
          }}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
          onBlur={stopTyping}
          data-testid="composer-input"
        />
        <Button type="submit" disabled={!canSend} data-testid="send-button">
          {editing ? "Save" : "Send"}
        </Button>
      </div>
      <div id="composer-hint" className="visually-hidden">
        Enter sends, Shift+Enter starts a new line. Type @ to mention someone: arrows choose, Enter or Tab picks, Esc
        closes.
      </div>
    </Form>
  );
}
