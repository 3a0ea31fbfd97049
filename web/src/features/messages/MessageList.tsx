import { useQueryClient } from "@tanstack/react-query";
import { Fragment, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { Icon } from "../../components/Icon";
import { Button, Spinner } from "react-bootstrap";
import type { ChatEvent, ConversationKind, Member, Message } from "../../api/types";
import { Avatar } from "../../components/Avatar";
import { dayKey, dayLabel, formatTime } from "../../lib/format";
import { Attachment } from "../media/Attachment";
import { EmojiPicker } from "../reactions/EmojiPicker";
import { ReactionBar } from "../reactions/ReactionBar";
import { useDisplayNames, usePictures } from "../users/api";
import { discardPending, loadOlder, retryPending } from "./api";
import { ChangeNote } from "./ChangeNote";
import { MessageActions } from "./MessageActions";
import { MessageBody } from "./MessageBody";
import { newMessagesDivider, setNewestOnScreen, unreadAfter } from "./readTracking";
import { SenderName } from "./SenderName";
import { Ticks } from "./Ticks";
import { messageStatus, seenBy, type TickStatus } from "./receipts";
import { systemLineText, systemLineUserIds } from "./systemLines";
import { timelineItems, type PendingMessage, type Timeline, type TimelineItem } from "./timeline";
import { useSeenRows } from "./useSeenRows";

const GROUP_GAP_MS = 5 * 60_000;
/** Older pages loaded at most, on opening, to reach the first unread message. */
const MAX_PAGES_TO_FIRST_UNREAD = 10;
/** Opened at a message (a search hit): older pages loaded at most to reach it, and the
 * messages wanted above it. */
const MAX_PAGES_TO_FOCUS = 40;
const FOCUS_CONTEXT = 10;

interface Props {
  timeline: Timeline;
  members: Member[];
  meId: string;
  kind: ConversationKind;
  canModerate: boolean;
  /** Pinning: a group's owners and admins, either person in a direct chat. */
  canPin?: boolean;
  /** A former member reads what they may still see: no reply, edit or delete. */
  readOnly?: boolean;
  /** My read marker when the conversation opened; undefined until it is known. */
  readSeq: number | undefined;
  /** Everything up to `seq` has been on screen while the page was visible. */
  onRead: (seq: number) => void;
  onReply: (m: Message) => void;
  onEdit: (m: Message) => void;
  onDelete: (m: Message) => void;
  /** Open at this message (a search hit): loaded with context, centred and highlighted. */
  focusSeq?: number;
  onTogglePin?: (m: Message) => void;
  onReact?: (m: Message, emoji: string) => void;
  onReport?: (m: Message) => void;
  onBlockSender?: (m: Message) => void;
  /** People I blocked: their messages are collapsed until shown. */
  blocked?: ReadonlySet<string>;
  /** A message request not accepted yet: attachments and links are not shown. */
  request?: boolean;
}

const NO_ONE: ReadonlySet<string> = new Set();

interface RowInfo {
  item: TimelineItem;
  /** "" for a system line: it ends a run of one sender's messages */
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
    const senderId = item.kind === "message" ? item.message.sender_id : item.kind === "pending" ? meId : "";
    const createdAt =
      item.kind === "message"
        ? item.message.created_at
        : item.kind === "pending"
          ? item.pending.created_at
          : item.event.created_at;
    const key =
      item.kind === "message"
        ? `m-${item.message.id}`
        : item.kind === "pending"
          ? `p-${item.pending.client_id}`
          : `s-${item.event.seq}`;
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

/** Everyone the list names: senders, the people system lines mention, authors of quoted messages, who reacted. */
function namedUsers(tl: Timeline, meId: string): string[] {
  const ids = new Set<string>();
  for (const m of tl.messages) {
    ids.add(m.sender_id);
    for (const r of m.reactions ?? []) for (const id of r.user_ids) ids.add(id);
  }
  for (const e of tl.system) for (const id of systemLineUserIds(e)) ids.add(id);
  ids.delete(meId);
  return [...ids];
}

export function MessageList({
  timeline,
  members,
  meId,
  kind,
  canModerate,
  canPin = false,
  readOnly = false,
  readSeq,
  onRead,
  onReply,
  onEdit,
  onDelete,
  focusSeq,
  onTogglePin = () => undefined,
  onReact = () => undefined,
  onReport,
  onBlockSender,
  blocked = NO_ONE,
  request = false,
}: Props) {
  const qc = useQueryClient();
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const prevHeight = useRef<number | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const conversationId = timeline.conversationId;
  const byId = new Map(timeline.messages.map((m) => [m.id, m]));
  // Names come from who sent the message, not from who is a member now.
  const known = useMemo(() => {
    const names = new Map<string, string>();
    for (const e of timeline.system) if (e.member?.user) names.set(e.member.user.id, e.member.user.display_name);
    for (const m of members) names.set(m.user.id, m.user.display_name);
    return names;
  }, [members, timeline.system]);
  const ids = useMemo(() => namedUsers(timeline, meId), [timeline, meId]);
  const usernames = useMemo(() => new Map(members.map((m) => [m.user.id, m.user.username])), [members]);
  const nameOf = useDisplayNames(ids, known);
  const knownPictures = useMemo(() => {
    const pictures = new Map<string, string | null>();
    for (const e of timeline.system) if (e.member?.user) pictures.set(e.member.user.id, e.member.user.avatar_thumb_url);
    for (const m of members) pictures.set(m.user.id, m.user.avatar_thumb_url);
    return pictures;
  }, [members, timeline.system]);
  const pictureOf = usePictures(ids, knownPictures);
  const replyName = (id: string) => (id === meId ? "You" : nameOf(id));
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

  // --- where the list opens: at the first unread message, under a divider -----------------
  const [divider, setDivider] = useState<{ seq: number; count: number } | null>(null);
  const placed = useRef(false);
  const placeDivider = useRef(false);
  const pagesForUnread = useRef(0);
  const dividerRef = useRef<HTMLDivElement>(null);
  const [readUpTo, setReadUpTo] = useState(0);
  const [inPlace, setInPlace] = useState(false);
  const [away, setAway] = useState(false);
  const [focused, setFocused] = useState<number | null>(null);

  const noteBottom = useCallback(
    (el: HTMLElement) => {
      atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
      setAway(!atBottom.current);
      setNewestOnScreen(conversationId, placed.current && atBottom.current);
    },
    [conversationId],
  );

  useLayoutEffect(() => {
    if (placed.current || !timeline.loaded || readSeq === undefined) return;
    const oldest = timeline.messages[0]?.seq;
    if (focusSeq !== undefined) {
      if (
        timeline.hasOlder &&
        oldest !== undefined &&
        oldest > focusSeq - FOCUS_CONTEXT &&
        pagesForUnread.current < MAX_PAGES_TO_FOCUS
      ) {
        if (!loadingOlder) {
          pagesForUnread.current += 1;
          void older();
        }
        return;
      }
      placed.current = true;
      setInPlace(true);
      setReadUpTo(readSeq);
      setFocused(focusSeq);
      return;
    }
    if (
      timeline.hasOlder &&
      oldest !== undefined &&
      oldest > readSeq + 1 &&
      pagesForUnread.current < MAX_PAGES_TO_FIRST_UNREAD
    ) {
      // The first unread message is further back than the loaded page.
      if (!loadingOlder) {
        pagesForUnread.current += 1;
        void older();
      }
      return;
    }
    placed.current = true;
    setInPlace(true);
    setReadUpTo(readSeq);
    const found = newMessagesDivider(timeline.messages, readSeq, meId);
    setDivider(found);
    placeDivider.current = found !== null;
    const el = scroller.current;
    if (el && !found) {
      el.scrollTop = el.scrollHeight;
      noteBottom(el);
    }
  }, [timeline.loaded, timeline.messages, timeline.hasOlder, readSeq, meId, loadingOlder, older, noteBottom, focusSeq]);

  useLayoutEffect(() => {
    const el = scroller.current;
    const row = el?.querySelector<HTMLElement>(`[data-testid="message"][data-seq="${focused}"]`);
    if (focused === null || !el || !row) return;
    prevHeight.current = null;
    const top = row.getBoundingClientRect().top - el.getBoundingClientRect().top + el.scrollTop;
    el.scrollTop = top - el.clientHeight / 2 + row.offsetHeight / 2;
    noteBottom(el);
  }, [focused, noteBottom]);

  useLayoutEffect(() => {
    const el = scroller.current;
    const line = dividerRef.current;
    if (!placeDivider.current || !el || !line) return;
    placeDivider.current = false;
    prevHeight.current = null;
    el.scrollTop = line.getBoundingClientRect().top - el.getBoundingClientRect().top + el.scrollTop - 8;
    noteBottom(el);
  }, [divider, noteBottom]);

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
  }, [timeline.messages, timeline.pending, timeline.system]);

  useEffect(() => {
    // The list itself gets shorter (a pinned bar appears above it): stay at the bottom if we were.
    const el = scroller.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    // Images and videos get their height when they load: stay at the bottom if we were.
    const onLoad = () => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    };
    el.addEventListener("load", onLoad, true);
    el.addEventListener("loadedmetadata", onLoad, true);
    return () => {
      el.removeEventListener("load", onLoad, true);
      el.removeEventListener("loadedmetadata", onLoad, true);
      setNewestOnScreen(conversationId, false);
    };
  }, [conversationId]);

  useEffect(() => {
    // A short first page may not fill the screen: there is nothing to scroll, so load more.
    const el = scroller.current;
    if (el && timeline.hasOlder && el.scrollHeight <= el.clientHeight && !loadingOlder && timeline.messages.length) {
      void older();
    }
  }, [timeline.hasOlder, timeline.messages.length, loadingOlder, older]);

  // --- reading: what has been on screen while the page is visible --------------------------
  useSeenRows(scroller, inPlace ? readSeq : undefined, (seq) => {
    setReadUpTo(seq);
    onRead(seq);
  });

  const below = unreadAfter(timeline.messages, readUpTo, meId).length;

  function toBottom() {
    const el = scroller.current;
    if (!el) return;
    el.scrollTo({ top: el.scrollHeight, behavior: "smooth" });
    atBottom.current = true;
  }

  function onScroll() {
    const el = scroller.current;
    if (!el) return;
    noteBottom(el);
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
            {divider && row.item.kind === "message" && row.item.message.seq === divider.seq ? (
              <div
                ref={dividerRef}
                className="new-messages-divider d-flex align-items-center gap-2 my-2 small fw-semibold"
                role="separator"
                aria-label={plural(divider.count, "new message")}
                data-testid="new-messages-divider"
              >
                <span>{plural(divider.count, "new message")}</span>
              </div>
            ) : null}
            {row.item.kind === "message" ? (
              <MessageRow
                message={row.item.message}
                found={focused === row.item.message.seq}
                mine={row.senderId === meId}
                group={kind === "group"}
                showSender={row.firstOfGroup && kind === "group" && row.senderId !== meId}
                firstOfGroup={row.firstOfGroup}
                senderName={nameOf(row.senderId)}
                senderPicture={pictureOf(row.senderId)}
                replyTo={row.item.message.reply_to_id ? byId.get(row.item.message.reply_to_id) : undefined}
                replyName={replyName}
                status={row.senderId === meId ? messageStatus(row.item.message.seq, members, meId) : undefined}
                seenBy={
                  kind === "group" && row.senderId === meId && row.item.message.seq === lastOwnSeq
                    ? seenBy(row.item.message.seq, members, meId).map((m) => m.user.display_name)
                    : []
                }
                readOnly={readOnly}
                usernames={usernames}
                meId={meId}
                canDelete={row.senderId === meId || canModerate}
                canPin={canPin}
                nameOf={nameOf}
                onReply={onReply}
                onEdit={onEdit}
                onDelete={onDelete}
                onTogglePin={onTogglePin}
                onReact={onReact}
                onReport={onReport}
                onBlockSender={onBlockSender}
                blocked={row.senderId !== meId && blocked.has(row.senderId)}
                request={request}
              />
            ) : row.item.kind === "system" ? (
              <SystemLine event={row.item.event} text={systemLineText(row.item.event, nameOf, meId)} />
            ) : (
              <PendingRow
                pending={row.item.pending}
                replyTo={row.item.pending.reply_to_id ? byId.get(row.item.pending.reply_to_id) : undefined}
                replyName={replyName}
                onRetry={() => retryPending(qc, (row.item as { pending: PendingMessage }).pending)}
                onDiscard={() => discardPending(qc, (row.item as { pending: PendingMessage }).pending)}
              />
            )}
          </Fragment>
        ))}
      </div>
      {away ? (
        <Button
          size="sm"
          className="position-absolute bottom-0 end-0 m-3 rounded-pill shadow d-flex align-items-center gap-1"
          onClick={toBottom}
          aria-label={below ? `${plural(below, "new message")}: jump to the newest` : "Jump to the newest message"}
          data-testid="jump-to-newest"
        >
          {below ? (
            <span className="badge rounded-pill text-bg-light" data-testid="jump-count">
              {below}
            </span>
          ) : null}
          <Icon name="down" />
        </Button>
      ) : null}
    </div>
  );
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** A membership or settings change, or a call, centred among the messages, with its time. */
function SystemLine({ event, text }: { event: ChatEvent; text: string }) {
  const call = event.type === "call.ended" ? event.call : null;
  const missed = call ? call.outcome !== "completed" : false;
  return (
    <div
      className={`system-line text-center my-2${call ? " system-line-call" : ""}${missed ? " missed" : ""}`}
      data-testid="system-line"
      data-seq={event.seq}
    >
      <span className="system-line-pill small text-body-secondary">
        {call ? <Icon name={call.video ? "video" : "phone"} /> : null}
        <span data-testid="system-line-text">{text}</span>
        <time className="ms-2" dateTime={event.created_at}>
          {formatTime(event.created_at)}
        </time>
      </span>
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

/** Scroll a loaded message into view and flash it, for reply quotes and pins. */
export function revealMessage(id: string): void {
  const row = document.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(id)}"]`);
  if (!row) return;
  row.scrollIntoView({ block: "center", behavior: "smooth" });
  row.classList.add("message-flash");
  setTimeout(() => row.classList.remove("message-flash"), 1600);
}

function MessageRow(props: {
  message: Message;
  found?: boolean;
  mine: boolean;
  group: boolean;
  showSender: boolean;
  firstOfGroup: boolean;
  senderName: string;
  senderPicture: string | null;
  replyTo: Message | undefined;
  replyName: (id: string) => string;
  status: TickStatus | undefined;
  seenBy: string[];
  readOnly: boolean;
  usernames: ReadonlyMap<string, string>;
  meId: string;
  canDelete: boolean;
  canPin: boolean;
  nameOf: (id: string) => string;
  onReply: (m: Message) => void;
  onEdit: (m: Message) => void;
  onDelete: (m: Message) => void;
  onTogglePin: (m: Message) => void;
  onReact: (m: Message, emoji: string) => void;
  onReport?: ((m: Message) => void) | undefined;
  onBlockSender?: ((m: Message) => void) | undefined;
  blocked: boolean;
  request: boolean;
}) {
  const { message: m, mine } = props;
  const [revealed, setRevealed] = useState(false);
  if (props.blocked && !revealed && !m.deleted) {
    return (
      <div
        className="message-row align-items-end gap-1 mt-2"
        data-testid="message"
        data-seq={m.seq}
        data-message-id={m.id}
        data-blocked="true"
      >
        <div className="bubble blocked-bubble small text-body-secondary">
          Blocked user —{" "}
          <Button variant="link" size="sm" className="p-0 align-baseline" onClick={() => setRevealed(true)}>
            show
          </Button>
        </div>
      </div>
    );
  }
  const actions = !m.deleted && !props.readOnly;
  const picker = actions ? (
    <EmojiPicker
      label={`Add a reaction to: ${m.body.slice(0, 40) || "attachment"}`}
      align={mine ? "end" : "start"}
      onPick={(emoji) => props.onReact(m, emoji)}
    />
  ) : null;
  return (
    <div
      className={`message-row align-items-end gap-1 ${mine ? "own" : ""} ${props.firstOfGroup ? "mt-2" : ""}${props.found ? " message-found" : ""}`}
      aria-current={props.found ? "true" : undefined}
      data-testid="message"
      data-seq={m.seq}
      data-message-id={m.id}
      data-own={mine}
    >
      {!mine && props.group ? (
        props.showSender ? (
          <Avatar name={props.senderName} seed={m.sender_id} imageUrl={props.senderPicture} small />
        ) : (
          <span className="avatar-sm flex-shrink-0" style={{ width: "2rem" }} aria-hidden="true" />
        )
      ) : null}
      {mine && actions ? <MessageActions {...props} /> : null}
      {mine ? picker : null}
      <div className={`bubble ${m.deleted ? "deleted" : ""}`}>
        {props.showSender ? <SenderName userId={m.sender_id} name={props.senderName} /> : null}
        {m.deleted ? (
          <span>message deleted</span>
        ) : (
          <>
            {m.reply_to_id ? <ReplyQuote message={props.replyTo} name={props.replyName} /> : null}
            {props.request && !mine ? (
              (m.attachments ?? []).length || m.attachments_withheld ? (
                <div className="small fst-italic text-body-secondary" data-testid="attachment-withheld">
                  Attachment hidden until you accept
                </div>
              ) : null
            ) : (
              (m.attachments ?? []).map((a) => <Attachment key={a.id} media={a} />)
            )}
            {m.body ? (
              props.request && !mine ? (
                <div className="message-body" data-testid="message-body" dir="auto">
                  {m.body}
                </div>
              ) : (
                <MessageBody body={m.body} mentions={m} usernames={props.usernames} meId={props.meId} />
              )
            ) : null}
          </>
        )}
        <span className="bubble-meta float-end ms-2 mt-1">
          {m.edited_at && !m.deleted ? <span className="me-1">edited</span> : null}
          <time dateTime={m.created_at}>{formatTime(m.created_at)}</time>
          {props.status && !m.deleted ? <Ticks status={props.status} /> : null}
        </span>
        {m.pinned && !m.deleted ? (
          <span className="visually-hidden" data-testid="pinned-mark">
            Pinned.
          </span>
        ) : null}
        <ChangeNote messageId={m.id} />
        {!m.deleted ? (
          <ReactionBar
            message={m}
            meId={props.meId}
            nameOf={(id) => (id === props.meId ? "You" : props.nameOf(id))}
            readOnly={props.readOnly}
            onToggle={(emoji) => props.onReact(m, emoji)}
          />
        ) : null}
        {props.seenBy.length ? (
          <div className="clearfix small text-body-secondary" data-testid="seen-by">
            Seen by {props.seenBy.join(", ")}
          </div>
        ) : null}
      </div>
      {!mine ? picker : null}
      {!mine && actions ? <MessageActions {...props} /> : null}
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
        {p.body ? <MessageBody body={p.body} /> : null}
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
