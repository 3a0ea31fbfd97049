import { useQueryClient } from "@tanstack/react-query";
import { Fragment, useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { Button, Spinner } from "react-bootstrap";
import type { ConversationKind, Member, Message } from "../../api/types";
import { Avatar } from "../../components/Avatar";
import { dayKey, dayLabel, formatTime } from "../../lib/format";
import { Attachment } from "../media/Attachment";
import { discardPending, loadOlder, retryPending } from "./api";
import { ChangeNote } from "./ChangeNote";
import { MessageActions } from "./MessageActions";
import { SenderName } from "./SenderName";
import { Ticks } from "./Ticks";
import { messageStatus, seenBy, type TickStatus } from "./receipts";
import { timelineItems, type PendingMessage, type Timeline, type TimelineItem } from "./timeline";

const GROUP_GAP_MS = 5 * 60_000;

interface Props {
  timeline: Timeline;
  members: Member[];
  meId: string;
  kind: ConversationKind;
  canModerate: boolean;
  onReply: (m: Message) => void;
  onEdit: (m: Message) => void;
  onDelete: (m: Message) => void;
}

interface RowInfo {
  item: TimelineItem;
  senderId: string;
  createdAt: string;
  key: string;
  newDay: boolean;
  firstOfGroup: boolean;
}

function rows(tl: Timeline, meId: string): RowInfo[] {
  const out: RowInfo[] = [];
  let prev: RowInfo | undefined;
  for (const item of timelineItems(tl)) {
    const senderId = item.kind === "message" ? item.message.sender_id : meId;
    const createdAt = item.kind === "message" ? item.message.created_at : item.pending.created_at;
    const key = item.kind === "message" ? `m-${item.message.id}` : `p-${item.pending.client_id}`;
    const newDay = !prev || dayKey(prev.createdAt) !== dayKey(createdAt);
    const firstOfGroup =
      newDay ||
      !prev ||
      prev.senderId !== senderId ||
      Date.parse(createdAt) - Date.parse(prev.createdAt) > GROUP_GAP_MS;
    const row = { item, senderId, createdAt, key, newDay, firstOfGroup };
    out.push(row);
    prev = row;
  }
  return out;
}

export function MessageList({ timeline, members, meId, kind, canModerate, onReply, onEdit, onDelete }: Props) {
  const qc = useQueryClient();
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const prevHeight = useRef<number | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const conversationId = timeline.conversationId;
  const byId = new Map(timeline.messages.map((m) => [m.id, m]));
  const names = new Map(members.map((m) => [m.user.id, m.user.display_name]));
  const list = rows(timeline, meId);
  const lastOwnSeq = [...timeline.messages].reverse().find((m) => m.sender_id === meId)?.seq;

  const older = useCallback(async () => {
    const el = scroller.current;
    if (!el || loadingOlder || !timeline.hasOlder) return;
    prevHeight.current = el.scrollHeight - el.scrollTop;
    setLoadingOlder(true);
    try {
      await loadOlder(qc, conversationId);
    } finally {
      setLoadingOlder(false);
    }
  }, [qc, conversationId, loadingOlder, timeline.hasOlder]);

  // Keep the view pinned: to the bottom for new messages (always for my own), in place
  // when history is prepended.
  const pendingCount = useRef(timeline.pending.length);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const sentOne = timeline.pending.length > pendingCount.current;
    pendingCount.current = timeline.pending.length;
    if (sentOne) {
      atBottom.current = true;
      el.scrollTop = el.scrollHeight;
    } else if (prevHeight.current !== null) {
      el.scrollTop = el.scrollHeight - prevHeight.current;
      prevHeight.current = null;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [timeline.messages, timeline.pending]);

  useEffect(() => {
    atBottom.current = true;
    const el = scroller.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    // Images and videos get their height when they load: stay at the bottom if we were.
    const onLoad = () => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    };
    el.addEventListener("load", onLoad, true);
    el.addEventListener("loadedmetadata", onLoad, true);
    return () => {
      el.removeEventListener("load", onLoad, true);
      el.removeEventListener("loadedmetadata", onLoad, true);
    };
  }, [conversationId]);

  useEffect(() => {
    // A short first page may not fill the screen: there is nothing to scroll, so load more.
    const el = scroller.current;
    if (el && timeline.hasOlder && el.scrollHeight <= el.clientHeight && !loadingOlder && timeline.messages.length) {
      void older();
    }
  }, [timeline.hasOlder, timeline.messages.length, loadingOlder, older]);

  // Someone wrote while I was reading further up: offer a way down instead of jumping.
  const [unseenBelow, setUnseenBelow] = useState(false);
  const messageCount = useRef(timeline.messages.length);
  const newestSeqRef = useRef(timeline.messages.at(-1)?.seq ?? 0);
  useEffect(() => {
    const newest = timeline.messages.at(-1)?.seq ?? 0;
    const grewAtEnd = timeline.messages.length > messageCount.current && newest > newestSeqRef.current;
    messageCount.current = timeline.messages.length;
    newestSeqRef.current = newest;
    if (grewAtEnd && !atBottom.current) setUnseenBelow(true);
  }, [timeline.messages]);

  function toBottom() {
    const el = scroller.current;
    if (!el) return;
    el.scrollTo({ top: el.scrollHeight, behavior: "smooth" });
    atBottom.current = true;
    setUnseenBelow(false);
  }

  function onScroll() {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
    if (atBottom.current && unseenBelow) setUnseenBelow(false);
    if (el.scrollTop < 80) void older();
  }

  return (
    <div className="position-relative flex-grow-1 min-h-0 d-flex flex-column">
      <div
        ref={scroller}
        className="message-scroller flex-grow-1 min-h-0 px-2 px-md-3 py-2"
        onScroll={onScroll}
        role="log"
        aria-live="off"
        aria-label="Messages"
        tabIndex={0}
        data-testid="message-list"
      >
        {timeline.hasOlder ? (
          <div className="text-center my-2">
            {loadingOlder ? (
              <Spinner size="sm" animation="border" role="status" aria-label="Loading older messages" />
            ) : (
              <Button size="sm" variant="link" onClick={() => void older()}>
                Load older messages
              </Button>
            )}
          </div>
        ) : timeline.messages.length ? (
          <p className="text-center small text-body-secondary my-2">This is the beginning of the conversation.</p>
        ) : null}
        {list.map((row) => (
          <Fragment key={row.key}>
            {row.newDay ? (
              <div className="text-center my-3" role="separator" aria-label={dayLabel(row.createdAt)}>
                <span className="badge rounded-pill bg-body-secondary text-body border fw-normal">
                  {dayLabel(row.createdAt)}
                </span>
              </div>
            ) : null}
            {row.item.kind === "message" ? (
              <MessageRow
                message={row.item.message}
                mine={row.senderId === meId}
                group={kind === "group"}
                showSender={row.firstOfGroup && kind === "group" && row.senderId !== meId}
                firstOfGroup={row.firstOfGroup}
                senderName={names.get(row.senderId) ?? "Unknown"}
                replyTo={row.item.message.reply_to_id ? byId.get(row.item.message.reply_to_id) : undefined}
                replyName={(id) => (id === meId ? "You" : (names.get(id) ?? "Unknown"))}
                status={row.senderId === meId ? messageStatus(row.item.message.seq, members, meId) : undefined}
                seenBy={
                  kind === "group" && row.senderId === meId && row.item.message.seq === lastOwnSeq
                    ? seenBy(row.item.message.seq, members, meId).map((m) => m.user.display_name)
                    : []
                }
                canDelete={row.senderId === meId || canModerate}
                onReply={onReply}
                onEdit={onEdit}
                onDelete={onDelete}
              />
            ) : (
              <PendingRow
                pending={row.item.pending}
                replyTo={row.item.pending.reply_to_id ? byId.get(row.item.pending.reply_to_id) : undefined}
                replyName={(id) => (id === meId ? "You" : (names.get(id) ?? "Unknown"))}
                onRetry={() => retryPending(qc, (row.item as { pending: PendingMessage }).pending)}
                onDiscard={() => discardPending(qc, (row.item as { pending: PendingMessage }).pending)}
              />
            )}
          </Fragment>
        ))}
      </div>
      {unseenBelow ? (
        <Button
          size="sm"
          className="position-absolute bottom-0 end-0 m-3 rounded-pill shadow"
          onClick={toBottom}
          data-testid="jump-to-newest"
        >
          New messages ↓
        </Button>
      ) : null}
    </div>
  );
}

function ReplyQuote({ message, name }: { message: Message | undefined; name: (id: string) => string }) {
  if (!message) {
    return (
      <div className="reply-quote" data-testid="reply-quote">
        Reply to an earlier message
      </div>
    );
  }
  const text = message.deleted ? "message deleted" : message.body || "Attachment";
  return (
    <button
      type="button"
      className="reply-quote d-block w-100 text-start bg-transparent border-0 border-start border-3 border-primary"
      data-testid="reply-quote"
      aria-label={`Go to the message from ${name(message.sender_id)}: ${text}`}
      onClick={() => revealMessage(message.id)}
    >
      <strong>{name(message.sender_id)}</strong>: {text}
    </button>
  );
}

/** Scroll a loaded message into view and flash it, for reply quotes. */
function revealMessage(id: string): void {
  const row = document.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(id)}"]`);
  if (!row) return;
  row.scrollIntoView({ block: "center", behavior: "smooth" });
  row.classList.add("message-flash");
  setTimeout(() => row.classList.remove("message-flash"), 1600);
}

function MessageRow(props: {
  message: Message;
  mine: boolean;
  group: boolean;
  showSender: boolean;
  firstOfGroup: boolean;
  senderName: string;
  replyTo: Message | undefined;
  replyName: (id: string) => string;
  status: TickStatus | undefined;
  seenBy: string[];
  canDelete: boolean;
  onReply: (m: Message) => void;
  onEdit: (m: Message) => void;
  onDelete: (m: Message) => void;
}) {
  const { message: m, mine } = props;
  return (
    <div
      className={`message-row align-items-end gap-1 ${mine ? "own" : ""} ${props.firstOfGroup ? "mt-2" : ""}`}
      data-testid="message"
      data-seq={m.seq}
      data-message-id={m.id}
      data-own={mine}
    >
      {!mine && props.group ? (
        props.showSender ? (
          <Avatar name={props.senderName} seed={m.sender_id} small />
        ) : (
          <span className="avatar-sm flex-shrink-0" style={{ width: "2rem" }} aria-hidden="true" />
        )
      ) : null}
      {mine && !m.deleted ? <MessageActions {...props} /> : null}
      <div className={`bubble ${m.deleted ? "deleted" : ""}`}>
        {props.showSender ? <SenderName userId={m.sender_id} name={props.senderName} /> : null}
        {m.deleted ? (
          <span>message deleted</span>
        ) : (
          <>
            {m.reply_to_id ? <ReplyQuote message={props.replyTo} name={props.replyName} /> : null}
            {(m.attachments ?? []).map((a) => (
              <Attachment key={a.id} media={a} />
            ))}
            {m.body ? (
              <span data-testid="message-body" dir="auto">
                {m.body}
              </span>
            ) : null}
          </>
        )}
        <span className="bubble-meta float-end ms-2 mt-1">
          {m.edited_at && !m.deleted ? <span className="me-1">edited</span> : null}
          <time dateTime={m.created_at}>{formatTime(m.created_at)}</time>
          {props.status && !m.deleted ? <Ticks status={props.status} /> : null}
        </span>
        <ChangeNote messageId={m.id} />
        {props.seenBy.length ? (
          <div className="clearfix small text-body-secondary" data-testid="seen-by">
            Seen by {props.seenBy.join(", ")}
          </div>
        ) : null}
      </div>
      {!mine && !m.deleted ? <MessageActions {...props} /> : null}
    </div>
  );
}

function PendingRow({
  pending: p,
  replyTo,
  replyName,
  onRetry,
  onDiscard,
}: {
  pending: PendingMessage;
  replyTo: Message | undefined;
  replyName: (id: string) => string;
  onRetry: () => void;
  onDiscard: () => void;
}) {
  return (
    <div className="message-row own mt-1" data-testid="message" data-pending="true">
      <div className="bubble opacity-75">
        {p.reply_to_id ? <ReplyQuote message={replyTo} name={replyName} /> : null}
        {p.attachments.map((a) => (
          <Attachment key={a.id} media={a} />
        ))}
        {p.body ? (
          <span data-testid="message-body" dir="auto">
            {p.body}
          </span>
        ) : null}
        <span className="bubble-meta float-end ms-2 mt-1">
          <time dateTime={p.created_at}>{formatTime(p.created_at)}</time>
          <Ticks status={p.status === "failed" ? "failed" : "pending"} />
        </span>
        {p.status === "failed" ? (
          <div className="clearfix small text-danger">
            Not sent{p.error ? `: ${p.error}` : ""}.{" "}
            <Button variant="link" size="sm" className="p-0 align-baseline" onClick={onRetry}>
              Retry
            </Button>{" "}
            <Button variant="link" size="sm" className="p-0 align-baseline text-danger" onClick={onDiscard}>
              Discard
            </Button>
          </div>
        ) : null}
      </div>
    </div>
  );
}
