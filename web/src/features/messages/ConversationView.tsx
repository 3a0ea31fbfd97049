import { useQueryClient } from "@tanstack/react-query";
import { Icon } from "../../components/Icon";
import { useEffect, useState, type DragEvent } from "react";
import { Alert, Button, Spinner } from "react-bootstrap";
import { Link, useParams } from "react-router";
import type { Message } from "../../api/types";
import { Avatar } from "../../components/Avatar";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { EmptyState } from "../../components/EmptyState";
import { useRealtime } from "../../realtime/RealtimeProvider";
import { useAuth } from "../auth/AuthProvider";
import { conversationTitle, directPeer, useConversation, useMembers } from "../conversations/api";
import { useUploads } from "../media/useUploads";
import { GroupSettingsModal } from "../settings/GroupSettingsModal";
import { markRead, sendMessage, useDeleteMessage, useEditMessage, useTimeline } from "./api";
import { useTimelineWithChanges } from "./changes";
import { ChatSubtitle } from "./ChatSubtitle";
import { Composer } from "./Composer";
import { MessageList } from "./MessageList";
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
  const members = useMembers(id);
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
  const meId = me?.id;

  useEffect(() => {
    setActiveConversation(id);
    return () => setActiveConversation(null);
  }, [id, setActiveConversation]);

  // Reading: whenever the newest message changes while this view is visible.
  const tl = timeline.data;
  const shown = useTimelineWithChanges(tl);
  const newestSeq = tl ? Math.max(tl.lastSeq, tl.messages[tl.messages.length - 1]?.seq ?? 0) : 0;
  useEffect(() => {
    if (!meId || !newestSeq) return;
    const read = () => {
      if (document.visibilityState === "visible") markRead(qc, id, newestSeq, meId);
    };
    read();
    document.addEventListener("visibilitychange", read);
    return () => document.removeEventListener("visibilitychange", read);
  }, [qc, id, newestSeq, meId]);

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

  function onDrop(e: DragEvent) {
    e.preventDefault();
    setDragging(false);
    if (e.dataTransfer.files.length) uploads.add(Array.from(e.dataTransfer.files));
  }

  function onSend(body: string) {
    if (!meId) return;
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
        if (e.dataTransfer.types.includes("Files")) {
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
        <Avatar name={title || "?"} seed={peer?.id ?? id} online={peer?.online} />
        <div className="flex-grow-1 min-w-0">
          <h2 className="h6 mb-0 text-truncate" data-testid="conversation-title">
            {title || "…"}
          </h2>
          <ChatSubtitle conversation={c} members={memberList} peer={peer} meId={meId} />
        </div>
        {c?.kind === "group" ? (
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
          timeline={shown ?? tl}
          members={memberList}
          meId={meId}
          kind={c?.kind ?? "direct"}
          canModerate={canModerate}
          onReply={(m) => {
            setEditing(null);
            setReplyTo(m);
          }}
          onEdit={(m) => {
            setReplyTo(null);
            setEditing(m);
          }}
          onDelete={setToDelete}
        />
      )}
      <TypingIndicator conversationId={id} members={memberList} />
      <Composer
        conversationId={id}
        replyTo={replyTo}
        replyName={
          replyTo
            ? replyTo.sender_id === meId
              ? "yourself"
              : (memberList.find((m) => m.user.id === replyTo.sender_id)?.user.display_name ?? "Unknown")
            : ""
        }
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
      {dragging ? (
        <div className="drop-overlay d-flex align-items-center justify-content-center fw-semibold" aria-hidden="true">
          Drop files to attach
        </div>
      ) : null}
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
      {c?.kind === "group" && meId ? (
        <GroupSettingsModal show={showSettings} onHide={() => setShowSettings(false)} conversation={c} meId={meId} />
      ) : null}
    </section>
  );
}
