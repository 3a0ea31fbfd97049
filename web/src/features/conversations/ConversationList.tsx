import { useRef, useState } from "react";
import { Alert, Badge, Button, ListGroup, Spinner } from "react-bootstrap";
import { NavLink, useNavigate, useParams } from "react-router";
import type { Conversation, User } from "../../api/types";
import { Avatar } from "../../components/Avatar";
import { Icon } from "../../components/Icon";
import { formatListTime } from "../../lib/format";
import { usePresenceKnown } from "../../realtime/context";
import { useTypingUsers } from "../../realtime/typingStore";
import { useAuth } from "../auth/AuthProvider";
import { useMessageWithChanges } from "../messages/changes";
import { draftPreview, useDrafts } from "../messages/drafts";
import { conversationTitle, directPeer, isMuted, useConversations, useStartDirect } from "./api";
import { onListKeyDown, useStartFocus } from "./listKeys";
import { NewGroupModal } from "./NewGroupModal";
import { UserPicker } from "./UserPicker";

export function ConversationList() {
  const { me } = useAuth();
  const conversations = useConversations();
  const startDirect = useStartDirect();
  const navigate = useNavigate();
  const [showGroup, setShowGroup] = useState(false);
  const drafts = useDrafts(me?.id);
  const { conversationId: openId } = useParams();
  const listRef = useRef<HTMLUListElement>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  useStartFocus(conversations.isSuccess, listRef, searchRef, headingRef);

  async function openDirect(user: User) {
    const conversation = await startDirect.mutateAsync(user.id).catch(() => null);
    if (conversation) navigate(`/c/${conversation.id}`);
  }

  return (
    <nav className="d-flex flex-column h-100 min-h-0" aria-label="Conversations">
      <div className="p-2 border-bottom d-flex flex-column gap-2">
        <div className="d-flex align-items-center justify-content-between gap-2">
          <h1 className="h6 mb-0" ref={headingRef} tabIndex={-1}>
            Chats
          </h1>
          <Button size="sm" variant="primary" onClick={() => setShowGroup(true)}>
            New group
          </Button>
        </div>
        <UserPicker
          inputRef={searchRef}
          inputId="people-search"
          label="Search people to message"
          exclude={me ? [me.id] : []}
          actionLabel={(u) => `Message ${u.display_name}`}
          onPick={(u) => void openDirect(u)}
        />
        {startDirect.error ? (
          <Alert variant="danger" className="mb-0 py-1 small">
            {startDirect.error.message}
          </Alert>
        ) : null}
      </div>
      <div className="flex-grow-1 overflow-auto min-h-0">
        {conversations.isPending ? (
          <div className="p-3 text-center">
            <Spinner animation="border" size="sm" role="status" aria-label="Loading conversations" />
          </div>
        ) : conversations.error ? (
          <Alert variant="danger" className="m-2">
            {conversations.error.message}
          </Alert>
        ) : conversations.data.length === 0 ? (
          <p className="p-3 text-body-secondary small mb-0">
            No conversations yet. Search for someone above to start one.
          </p>
        ) : (
          <ListGroup variant="flush" as="ul" className="mb-0" ref={listRef} onKeyDown={onListKeyDown}>
            {conversations.data.map((c) => (
              <ConversationItem
                key={c.id}
                conversation={c}
                peer={directPeer(c, undefined, me?.id)}
                meId={me?.id}
                draft={c.id === openId ? "" : (drafts[c.id] ?? "")}
              />
            ))}
          </ListGroup>
        )}
      </div>
      <NewGroupModal show={showGroup} onHide={() => setShowGroup(false)} meId={me?.id} />
    </nav>
  );
}

function ConversationItem({
  conversation: c,
  peer,
  meId,
  draft,
}: {
  conversation: Conversation;
  peer: User | undefined;
  meId: string | undefined;
  /** unsent text (not shown for the open conversation, whose composer shows it) */
  draft: string;
}) {
  const title = conversationTitle(c, peer);
  const last = useMessageWithChanges(c.last_message);
  // A group I left or was removed from: its last event is my departure.
  const preview = c.former
    ? c.former.removed_by
      ? `${c.former.removed_by.display_name} removed you`
      : "You left"
    : last
      ? `${last.sender_id === meId ? "You: " : ""}${
          last.deleted ? "message deleted" : last.body || (last.attachments?.length ? "Attachment" : "")
        }`
      : c.kind === "group"
        ? `${c.members_count} member${c.members_count === 1 ? "" : "s"}`
        : "No messages yet";
  const presenceKnown = usePresenceKnown();
  const online = c.kind === "direct" && Boolean(peer?.online) && presenceKnown;
  const typing = useTypingUsers(c.id).length > 0;
  return (
    <li className="list-group-item p-0">
      <NavLink
        to={`/c/${c.id}`}
        className={({ isActive }) =>
          `d-flex align-items-center gap-2 px-3 py-2 text-reset text-decoration-none conversation-item${isActive ? " bg-body-secondary" : ""}`
        }
        data-testid="conversation-item"
      >
        <Avatar name={title} seed={peer?.id ?? c.id} online={online} imageUrl={peer?.avatar_thumb_url} />
        <div className="flex-grow-1 min-w-0">
          <div className="d-flex justify-content-between gap-2">
            <span className={`text-truncate ${c.unread_count ? "fw-bold" : "fw-medium"}`}>
              {title}
              {online ? <span className="visually-hidden">, online</span> : null}
              {isMuted(c) ? (
                <span className="ms-1 text-body-secondary" title="Muted" data-testid="muted-icon">
                  <Icon name="bellOff" size={12} />
                  <span className="visually-hidden">, muted</span>
                </span>
              ) : null}
            </span>
            <small className="text-body-secondary flex-shrink-0">
              {c.request ? (
                <span className="badge rounded-pill text-bg-warning me-1 fw-normal" data-testid="request-badge">
                  Request
                </span>
              ) : null}
              {formatListTime(last?.created_at ?? c.created_at)}
            </small>
          </div>
          <div className="d-flex justify-content-between gap-2">
            <small
              className={`text-truncate ${typing ? "text-success fst-italic" : "text-body-secondary"}`}
              data-testid="conversation-preview"
            >
              {typing ? (
                "typing…"
              ) : draft ? (
                <>
                  <span className="text-danger-emphasis">Draft:</span> {draftPreview(draft)}
                </>
              ) : (
                preview
              )}
            </small>
            {(c.unread_mentions ?? 0) > 0 ? <MentionBadge count={c.unread_mentions} /> : null}
            {c.unread_count > 0 ? (
              <Badge
                pill
                bg={isMuted(c) ? "secondary" : "primary"}
                className="flex-shrink-0"
                data-testid="unread-badge"
              >
                {c.unread_count}
                <span className="visually-hidden"> unread</span>
              </Badge>
            ) : null}
          </div>
        </div>
      </NavLink>
    </li>
  );
}

/** Someone mentioned me (or @all) in messages I have not read. */
function MentionBadge({ count }: { count: number }) {
  return (
    <Badge pill bg="warning" text="dark" className="flex-shrink-0" data-testid="mention-badge">
      @<span className="visually-hidden"> {count === 1 ? "1 unread mention" : `${count} unread mentions`}</span>
    </Badge>
  );
}
