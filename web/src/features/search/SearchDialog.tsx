import { useEffect, useState } from "react";
import { Alert, Button, Form, ListGroup, Modal, Spinner } from "react-bootstrap";
import { useNavigate } from "react-router";
import type { Conversation, SearchHit, SnippetPart } from "../../api/types";
import { dayLabel, formatTime } from "../../lib/format";
import { conversationTitle, useConversations } from "../conversations/api";
import { Avatar } from "../../components/Avatar";
import { useDisplayNames, usePictures } from "../users/api";
import { MAX_QUERY_CHARS, searchable, useMessageSearch } from "./api";
import { groupHits, hitPath } from "./groupHits";

/** How long typing must pause before a search goes out. */
const DEBOUNCE_MS = 200;
const NO_NAMES: ReadonlyMap<string, string> = new Map();

/** The snippet: plain text, the matched words in <mark> (text nodes only, never HTML). */
export function Snippet({ parts }: { parts: readonly SnippetPart[] }) {
  return <>{parts.map((p, i) => (p.match ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}</>;
}

function groupTitle(c: Conversation | undefined): string {
  return c ? conversationTitle(c, c.other_user ?? undefined) : "Earlier conversation";
}

/** Search every conversation's messages: a dialog opened from the navbar, Ctrl+K or `/`. */
export function SearchDialog({ show, onHide, meId }: { show: boolean; onHide: () => void; meId: string | undefined }) {
  const [text, setText] = useState("");
  const [q, setQ] = useState("");
  const [opening, setOpening] = useState<string | null>(null);
  const navigate = useNavigate();
  useEffect(() => {
    const t = setTimeout(() => setQ(text), DEBOUNCE_MS);
    return () => clearTimeout(t);
  }, [text]);
  const results = useMessageSearch(q);
  const conversations = useConversations(show);
  const byId = new Map((conversations.data ?? []).map((c) => [c.id, c]));
  const hits = (results.data?.pages ?? []).flatMap((p) => p.hits);
  const groups = groupHits(hits);
  const senders = [...new Set(hits.map((h) => h.message.sender_id))].filter((id) => id !== meId);
  const nameOf = useDisplayNames(senders, NO_NAMES);
  const pictureOf = usePictures(hits.map((h) => h.message.sender_id));
  const ready = searchable(q.trim()) && results.isSuccess;

  function open(hit: SearchHit) {
    // Navigate once the dialog has gone, so focus lands in the conversation.
    setOpening(hitPath(hit));
    onHide();
  }

  return (
    <Modal
      show={show}
      onHide={onHide}
      aria-labelledby="search-title"
      fullscreen="sm-down"
      size="lg"
      scrollable
      onExited={() => {
        if (opening) navigate(opening);
        setOpening(null);
      }}
    >
      <Modal.Header closeButton>
        <Modal.Title id="search-title" as="h2" className="h5">
          Search messages
        </Modal.Title>
      </Modal.Header>
      <Modal.Body>
        <Form onSubmit={(e) => e.preventDefault()} role="search">
          <Form.Control
            type="search"
            aria-label="Search messages"
            placeholder="Words to find"
            value={text}
            maxLength={MAX_QUERY_CHARS}
            onChange={(e) => setText(e.target.value)}
            autoFocus
          />
        </Form>
        <div aria-live="polite" className="mt-3">
          {results.isError ? <Alert variant="danger">{results.error.message}</Alert> : null}
          {results.isFetching && !results.isFetchingNextPage ? (
            <Spinner animation="border" size="sm" role="status" aria-label="Searching" />
          ) : null}
          {ready && hits.length === 0 ? (
            <p className="text-body-secondary mb-0">
              {results.hasNextPage ? "Nothing among the newest messages." : "No messages found."}
            </p>
          ) : null}
          {ready && hits.length > 0 ? (
            <p className="visually-hidden">
              {hits.length} {hits.length === 1 ? "message" : "messages"} found
              {results.hasNextPage ? " so far" : ""}
            </p>
          ) : null}
        </div>
        {groups.map((g) => {
          const title = groupTitle(byId.get(g.conversationId));
          return (
            <section key={g.conversationId} className="mt-3" data-testid="search-group" aria-label={title}>
              <h3 className="h6 text-body-secondary mb-1">{title}</h3>
              <ListGroup>
                {g.hits.map((hit) => (
                  <ListGroup.Item
                    key={hit.message.id}
                    action
                    onClick={() => open(hit)}
                    data-testid="search-hit"
                    className="search-hit"
                  >
                    <div className="d-flex justify-content-between small text-body-secondary">
                      <span className="d-flex align-items-center gap-1 min-w-0">
                        <Avatar
                          name={hit.message.sender_id === meId ? "You" : nameOf(hit.message.sender_id)}
                          seed={hit.message.sender_id}
                          imageUrl={pictureOf(hit.message.sender_id)}
                          small
                        />
                        <span className="text-truncate">
                          {hit.message.sender_id === meId ? "You" : nameOf(hit.message.sender_id)}
                        </span>
                      </span>
                      <span>
                        {dayLabel(hit.message.created_at)}, {formatTime(hit.message.created_at)}
                      </span>
                    </div>
                    <div dir="auto">
                      <Snippet parts={hit.snippet} />
                    </div>
                  </ListGroup.Item>
                ))}
              </ListGroup>
            </section>
          );
        })}
        {results.hasNextPage ? (
          <Button
            variant="link"
            className="mt-2"
            disabled={results.isFetchingNextPage}
            onClick={() => void results.fetchNextPage()}
          >
            {hits.length ? "More results" : "Search older messages"}
          </Button>
        ) : null}
      </Modal.Body>
    </Modal>
  );
}
