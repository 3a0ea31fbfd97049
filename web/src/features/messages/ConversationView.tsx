import { useQueryClient } from "@tanstack/react-query";
import { Icon } from "../../components/Icon";
import { useEffect, useMemo, useState, type DragEvent } from "react";
import { Alert, Button, Dropdown, Spinner } from "react-bootstrap";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import type { Message } from "../../api/types";
import { Avatar } from "../../components/Avatar";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { EmptyState } from "../../components/EmptyState";
import { useRealtime } from "../../realtime/RealtimeProvider";
import { useAuth } from "../auth/AuthProvider";
import { conversationTitle, directPeer, useConversation, useForgetFormer, useMembers } from "../conversations/api";
import { useUploads } from "../media/useUploads";
import { useDisplayNames } from "../users/api";
import { MuteMenu } from "../conversations/MuteMenu";
import { CallButtons } from "../calls/CallUI";
import { GroupSettingsModal } from "../settings/GroupSettingsModal";
import { PinnedBar } from "../reactions/PinnedBar";
import { useAcceptRequest, useBlockedIds, useSetBlocked, type ReportTarget } from "../moderation/api";
import { ReportDialog } from "../moderation/ReportDialog";
import { RequestBanner } from "../moderation/RequestBanner";
import { usePins, useTogglePin, useToggleReaction } from "../reactions/api";
import { getTimeline, loadOlder, markRead, sendMessage, useDeleteMessage, useEditMessage, useTimeline } from "./api";
import { useTimelineWithChanges } from "./changes";
import { ChatSubtitle } from "./ChatSubtitle";
import { Composer } from "./Composer";
import { MessageList, revealMessage } from "./MessageList";
import { TypingIndicator } from "./TypingIndicator";

export function ConversationRoute() {
  const { conversationId } = useParams();
  if (!conversationId) return null;
  return <ConversationView key={conversationId} id={conversationId} />;
}

function ConversationView({ id }: { id: string }) {
  const qc = useQueryClient();
  const { me } = useAuth();
  const { setActiveConversation } = useRealtime();
  const conversation = useConversation(id);
  // Left or removed: the history up to then, read-only; the member list is for members.
  const former = conversation.data?.former ?? null;
  const members = useMembers(id, !former);
  const timeline = useTimeline(id);
  const uploads = useUploads();
  const edit = useEditMessage();
  const remove = useDeleteMessage();
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [editing, setEditing] = useState<Message | null>(null);
  const [dragging, setDragging] = useState(false);
  const [showSettings, setShowSettings] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [toDelete, setToDelete] = useState<Message | null>(null);
  const [confirmForget, setConfirmForget] = useState(false);
  const forget = useForgetFormer(id);
  const pins = usePins(id, !former);
  const togglePin = useTogglePin();
  const react = useToggleReaction(me?.id ?? "");
  const blocked = useBlockedIds();
  const setBlocked = useSetBlocked();
  const accept = useAcceptRequest(id);
  const [reporting, setReporting] = useState<ReportTarget | null>(null);
  const navigate = useNavigate();
  const meId = me?.id;
  // `?at=<seq>`: opened at a message (a search hit).
  const at = Number(useSearchParams()[0].get("at"));
  const focusSeq = Number.isInteger(at) && at > 0 ? at : undefined;

  useEffect(() => {
    setActiveConversation(id);
    return () => setActiveConversation(null);
  }, [id, setActiveConversation]);

  // Where reading stood when the conversation opened: the "new messages" divider goes there.
  const tl = timeline.data;
  const shown = useTimelineWithChanges(tl);
  const [readSeqAtOpen, setReadSeqAtOpen] = useState<number | undefined>(undefined);
  const knownReadSeq = conversation.data?.last_read_seq;
  useEffect(() => {
    if (knownReadSeq !== undefined) setReadSeqAtOpen((seq) => seq ?? knownReadSeq);
  }, [knownReadSeq]);
  const memberNames = useMemo(
    () => new Map(members.data?.map((m) => [m.user.id, m.user.display_name])),
    [members.data],
  );
  const replyAuthor = useDisplayNames(replyTo && replyTo.sender_id !== meId ? [replyTo.sender_id] : [], memberNames);

  if (conversation.error) {
    return (
      <EmptyState title="Conversation not found">
        <p>It does not exist, or you are no longer a member.</p>
        <Link to="/">Back to conversations</Link>
      </EmptyState>
    );
  }
  const c = conversation.data;
  const memberList = members.data ?? [];
  // Members carry live presence (updated by presence frames); the conversation has it at load.
  const peer = c
    ? (memberList.find((m) => m.user.id !== meId && c.kind === "direct")?.user ?? directPeer(c, undefined, meId))
    : undefined;
  const title = c ? conversationTitle(c, peer) : "";
  const canModerate = c?.my_role === "owner" || c?.my_role === "admin";
  const canPin = !former && (c?.kind === "direct" || canModerate);

  /** Show a pinned message in the list: load older pages until it is there, then scroll to it. */
  async function jumpTo(messageId: string, seq: number) {
    for (let pages = 0; pages < 100; pages += 1) {
      const loaded = getTimeline(qc, id);
      if (!loaded || loaded.messages.some((m) => m.id === messageId)) break;
      if (!loaded.hasOlder || (loaded.messages[0]?.seq ?? 0) <= seq) return;
      await loadOlder(qc, id);
      await shortly();
    }
    // The list renders the loaded page on its next commit.
    for (
      let waits = 0;
      waits < 60 && !document.querySelector(`[data-message-id="${CSS.escape(messageId)}"]`);
      waits += 1
    )
      await shortly();
    revealMessage(messageId);
  }

  function report(err: unknown, what: string) {
    setActionError(err instanceof Error ? err.message : what);
  }

  function block(userId: string, yes = true) {
    setActionError(null);
    setBlocked.mutate({ userId, blocked: yes }, { onError: (err) => report(err, "Block failed") });
  }

  const peerBlocked = peer ? blocked.has(peer.id) : false;

  function onDrop(e: DragEvent) {
    e.preventDefault();
    setDragging(false);
    if (e.dataTransfer.files.length) uploads.add(Array.from(e.dataTransfer.files));
  }

  function onSend(body: string) {
    if (!meId) return;
    // Replying to a message request accepts it.
    if (c?.request && !accept.isPending) accept.mutate();
    const attachments = uploads.uploads.flatMap((u) => (u.status === "done" && u.media ? [u.media] : []));
    sendMessage(qc, { conversationId: id, senderId: meId, body, replyToId: replyTo?.id ?? null, attachments });
    uploads.clear();
    setReplyTo(null);
  }

  async function onDelete(m: Message) {
    setActionError(null);
    await remove
      .mutateAsync(m)
      .catch((err: unknown) => setActionError(err instanceof Error ? err.message : "Delete failed"));
  }

  return (
    <section
      className="d-flex flex-column flex-grow-1 min-h-0 position-relative"
      aria-label={title || "Conversation"}
      onDragOver={(e) => {
        if (!former && e.dataTransfer.types.includes("Files")) {
          e.preventDefault();
          setDragging(true);
        }
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={onDrop}
    >
      <header className="d-flex align-items-center gap-2 border-bottom px-2 py-2">
        <Link to="/" className="btn btn-outline-secondary btn-sm d-md-none" aria-label="Back to conversations">
          <Icon name="back" />
        </Link>
        <Avatar name={title || "?"} seed={peer?.id ?? id} online={peer?.online} imageUrl={peer?.avatar_thumb_url} />
        <div className="flex-grow-1 min-w-0">
          <h2 className="h6 mb-0 text-truncate" data-testid="conversation-title">
            {title || "…"}
          </h2>
          <ChatSubtitle conversation={c} members={memberList} peer={peer} meId={meId} former={Boolean(former)} />
        </div>
        {c && !former ? <CallButtons conversation={c} /> : null}
        {c && !former ? <MuteMenu conversation={c} /> : null}
        {c?.kind === "direct" && peer && !former ? (
          <Dropdown align="end">
            <Dropdown.Toggle variant="outline-secondary" size="sm" aria-label={`More about ${title}`}>
              <Icon name="dots" />
            </Dropdown.Toggle>
            <Dropdown.Menu>
              <Dropdown.Item as="button" onClick={() => setReporting({ userId: peer.id, label: title })}>
                Report {title}…
              </Dropdown.Item>
              <Dropdown.Item
                as="button"
                className={peerBlocked ? undefined : "text-danger"}
                onClick={() => block(peer.id, !peerBlocked)}
              >
                {peerBlocked ? `Unblock ${title}` : `Block ${title}`}
              </Dropdown.Item>
            </Dropdown.Menu>
          </Dropdown>
        ) : null}
        {c?.kind === "group" && !former ? (
          <Button
            variant="outline-secondary"
            size="sm"
            onClick={() => setShowSettings(true)}
            aria-label="Group settings"
          >
            <Icon name="gear" />
            <span className="d-none d-lg-inline ms-1">Settings</span>
          </Button>
        ) : null}
      </header>
      {actionError ? (
        <Alert variant="danger" className="m-2 py-1 small" dismissible onClose={() => setActionError(null)}>
          {actionError}
        </Alert>
      ) : null}
      {c?.request && peer ? (
        <RequestBanner
          name={title}
          accepting={accept.isPending}
          error={accept.error?.message ?? null}
          onAccept={() => accept.mutate()}
          onBlock={() => block(peer.id)}
          onReport={() => setReporting({ userId: peer.id, label: title })}
        />
      ) : null}
      {peerBlocked && c?.kind === "direct" ? (
        <Alert variant="secondary" className="m-2 py-1 small" data-testid="blocked-note">
          You blocked {title}: neither of you can send messages here until you unblock them.
        </Alert>
      ) : null}
      {!former && pins.data?.length ? (
        <PinnedBar pins={pins.data} onJump={(pin) => void jumpTo(pin.message.id, pin.message.seq)} />
      ) : null}
      {timeline.error ? (
        <Alert variant="danger" className="m-2">
          {timeline.error.message}
        </Alert>
      ) : !tl || !meId ? (
        <div className="flex-grow-1 d-flex align-items-center justify-content-center">
          <Spinner animation="border" role="status" aria-label="Loading messages" />
        </div>
      ) : (
        <MessageList
          key={focusSeq ?? "latest"}
          focusSeq={focusSeq}
          timeline={shown ?? tl}
          members={memberList}
          meId={meId}
          kind={c?.kind ?? "direct"}
          canModerate={canModerate}
          canPin={canPin}
          readOnly={Boolean(former)}
          readSeq={readSeqAtOpen}
          onRead={(seq) => markRead(qc, id, seq, meId)}
          onReply={(m) => {
            setEditing(null);
            setReplyTo(m);
          }}
          onEdit={(m) => {
            setReplyTo(null);
            setEditing(m);
          }}
          onDelete={setToDelete}
          onTogglePin={(m) => togglePin.mutate(m, { onError: (err) => report(err, "Pin failed") })}
          onReact={(m, emoji) =>
            react.mutate({ message: m, emoji }, { onError: (err) => report(err, "Reaction failed") })
          }
          onReport={(m) => setReporting({ messageId: m.id, label: "message" })}
          onBlockSender={(m) => block(m.sender_id)}
          blocked={blocked}
          request={Boolean(c?.request)}
        />
      )}
      {former ? (
        <FormerBanner
          removedBy={former.removed_by?.display_name ?? null}
          deleting={forget.isPending}
          onDelete={() => setConfirmForget(true)}
        />
      ) : (
        <>
          <TypingIndicator conversationId={id} members={memberList} />
          <Composer
            conversationId={id}
            meId={meId}
            members={memberList}
            group={c?.kind === "group"}
            replyTo={replyTo}
            replyName={replyTo ? (replyTo.sender_id === meId ? "yourself" : replyAuthor(replyTo.sender_id)) : ""}
            editing={editing}
            uploads={uploads}
            onCancelReply={() => setReplyTo(null)}
            onCancelEdit={() => setEditing(null)}
            onSend={onSend}
            onSaveEdit={async (m, body) => {
              await edit.mutateAsync({ message: m, body });
              setEditing(null);
            }}
          />
        </>
      )}
      {dragging ? (
        <div className="drop-overlay d-flex align-items-center justify-content-center fw-semibold" aria-hidden="true">
          Drop files to attach
        </div>
      ) : null}
      <ConfirmDialog
        show={confirmForget}
        title="Delete chat?"
        body="It goes from your list, and what was said in it is no longer available to you."
        confirmLabel="Delete"
        onCancel={() => setConfirmForget(false)}
        onConfirm={() => {
          setConfirmForget(false);
          setActionError(null);
          forget.mutate(undefined, {
            onSuccess: () => navigate("/"),
            onError: (err) => setActionError(err.message),
          });
        }}
      />
      <ConfirmDialog
        show={toDelete !== null}
        title="Delete message?"
        body="It is deleted for everyone in this conversation."
        confirmLabel="Delete"
        onCancel={() => setToDelete(null)}
        onConfirm={() => {
          if (toDelete) void onDelete(toDelete);
          setToDelete(null);
        }}
      />
      <ReportDialog target={reporting} onHide={() => setReporting(null)} />
      {c?.kind === "group" && meId && !former ? (
        <GroupSettingsModal show={showSettings} onHide={() => setShowSettings(false)} conversation={c} meId={meId} />
      ) : null}
    </section>
  );
}

function shortly(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 16));
}

/** In place of the composer once I left or was removed: why, and a way to delete the chat. */
function FormerBanner({
  removedBy,
  deleting,
  onDelete,
}: {
  removedBy: string | null;
  deleting: boolean;
  onDelete: () => void;
}) {
  return (
    <div
      className="border-top p-3 d-flex flex-wrap align-items-center justify-content-between gap-2"
      role="status"
      data-testid="former-banner"
    >
      <div className="min-w-0">
        <div className="fw-semibold">{removedBy ? `You were removed by ${removedBy}` : "You left"}</div>
        <div className="small text-body-secondary">
          You can read what was said until then, but no longer send messages here.
        </div>
      </div>
      <Button variant="outline-danger" size="sm" onClick={onDelete} disabled={deleting}>
        Delete chat
      </Button>
    </div>
  );
}
