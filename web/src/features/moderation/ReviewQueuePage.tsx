import { useState } from "react";
import { Alert, Badge, Button, ButtonGroup, Card, Form, Nav, Spinner } from "react-bootstrap";
import { Link } from "react-router";
import { EmptyState } from "../../components/EmptyState";
import { formatTime } from "../../lib/format";
import { useAuth } from "../auth/AuthProvider";
import { isModerator, useQueue, useQueueAction, type ModerationActionName, type QueueItem } from "./api";

const SUSPEND_CHOICES: { label: string; hours: number | null }[] = [
  { label: "1 day", hours: 24 },
  { label: "1 week", hours: 24 * 7 },
  { label: "For good", hours: null },
];

/** The moderators' review queue: reports with their context, and what to do about each. */
export function ReviewQueuePage() {
  const { me } = useAuth();
  const [status, setStatus] = useState<"open" | "resolved">("open");
  const queue = useQueue(status);
  if (!isModerator(me?.role)) {
    return (
      <EmptyState title="Moderators only">
        <p>The review queue is for the server&apos;s moderators.</p>
        <Link to="/">Back to conversations</Link>
      </EmptyState>
    );
  }
  return (
    <section className="d-flex flex-column flex-grow-1 min-h-0" aria-labelledby="queue-title">
      <header className="d-flex align-items-center gap-2 border-bottom px-3 py-2">
        <Link to="/" className="btn btn-outline-secondary btn-sm d-md-none" aria-label="Back to conversations">
          ←
        </Link>
        <h2 id="queue-title" className="h6 mb-0 flex-grow-1">
          Review queue
        </h2>
        {me?.role === "admin" ? (
          <Link to="/moderation/audit" className="btn btn-outline-secondary btn-sm">
            Audit log
          </Link>
        ) : null}
      </header>
      <Nav
        variant="underline"
        className="px-3 pt-2"
        activeKey={status}
        onSelect={(k) => setStatus(k === "resolved" ? "resolved" : "open")}
      >
        <Nav.Item>
          <Nav.Link eventKey="open">Open</Nav.Link>
        </Nav.Item>
        <Nav.Item>
          <Nav.Link eventKey="resolved">Resolved</Nav.Link>
        </Nav.Item>
      </Nav>
      <div className="overflow-auto flex-grow-1 p-3 d-flex flex-column gap-3">
        {queue.isPending ? (
          <Spinner animation="border" role="status" aria-label="Loading the queue" />
        ) : queue.error ? (
          <Alert variant="danger">{queue.error.message}</Alert>
        ) : queue.data.length === 0 ? (
          <p className="text-body-secondary" data-testid="queue-empty">
            {status === "open" ? "Nothing to review. All clear." : "Nothing resolved yet."}
          </p>
        ) : (
          queue.data.map((item) => <QueueCard key={item.id} item={item} />)
        )}
      </div>
    </section>
  );
}

const REASON_VARIANT: Record<string, string> = { spam: "warning", abuse: "danger", other: "secondary" };

function QueueCard({ item }: { item: QueueItem }) {
  const act = useQueueAction();
  const [reason, setReason] = useState("");
  const [suspendHours, setSuspendHours] = useState<number | null>(24);
  const open = item.status === "open";
  function run(action: ModerationActionName) {
    act.mutate({ item, action, reason: reason.trim(), suspendHours });
  }
  return (
    <Card as="article" data-testid="queue-item" aria-label={`Report about ${item.subject.display_name}`}>
      <Card.Header className="d-flex flex-wrap align-items-center gap-2">
        <Badge bg={REASON_VARIANT[item.reason] ?? "secondary"} text={item.reason === "spam" ? "dark" : undefined}>
          {item.reason}
        </Badge>
        <span className="fw-semibold">{item.subject.display_name}</span>
        <span className="small text-body-secondary">@{item.subject.username}</span>
        {item.subject_suspended_until ? <Badge bg="dark">suspended</Badge> : null}
        {item.spam_label !== null ? (
          <Badge bg={item.spam_label ? "warning" : "success"} text={item.spam_label ? "dark" : undefined}>
            {item.spam_label ? "labelled spam" : "labelled not spam"}
          </Badge>
        ) : null}
        <span className="ms-auto small text-body-secondary">
          reported by {item.reporter?.display_name ?? "the spam filter"} · {formatTime(item.created_at)}
        </span>
      </Card.Header>
      <Card.Body>
        {item.text ? <blockquote className="border-start border-3 ps-2 mb-3">{item.text}</blockquote> : null}
        {item.message ? (
          <>
            <div className="small text-body-secondary mb-1">
              In {item.conversation?.kind === "group" ? `“${item.conversation.title ?? "a group"}”` : "a direct chat"}
            </div>
            <ol className="list-unstyled mb-0 queue-context" data-testid="queue-context">
              {item.context.map((m) => (
                <li
                  key={m.id}
                  className={`px-2 py-1 rounded ${m.id === item.message?.id ? "bg-warning-subtle fw-semibold" : ""}`}
                  data-reported={m.id === item.message?.id ? "true" : undefined}
                >
                  <span className="small text-body-secondary me-2">{formatTime(m.created_at)}</span>
                  {m.deleted ? <em className="text-body-secondary">message deleted</em> : m.body || <em>attachment</em>}
                </li>
              ))}
            </ol>
          </>
        ) : (
          <p className="mb-0 text-body-secondary">A report about the person, not a message.</p>
        )}
      </Card.Body>
      <Card.Footer>
        {open ? (
          <div className="d-flex flex-column gap-2">
            <Form.Control
              size="sm"
              placeholder="Reason (written to the audit log)"
              aria-label="Reason for the action"
              value={reason}
              maxLength={1000}
              onChange={(e) => setReason(e.target.value)}
            />
            <div className="d-flex flex-wrap gap-2 align-items-center">
              <Button size="sm" variant="outline-secondary" disabled={act.isPending} onClick={() => run("dismiss")}>
                Dismiss
              </Button>
              {item.message && !item.message.deleted ? (
                <Button size="sm" variant="danger" disabled={act.isPending} onClick={() => run("delete_message")}>
                  Delete message
                </Button>
              ) : null}
              <ButtonGroup size="sm">
                <Form.Select
                  size="sm"
                  aria-label="Suspend for"
                  value={suspendHours === null ? "forever" : String(suspendHours)}
                  onChange={(e) => setSuspendHours(e.target.value === "forever" ? null : Number(e.target.value))}
                  style={{ width: "auto" }}
                >
                  {SUSPEND_CHOICES.map((c) => (
                    <option key={c.label} value={c.hours === null ? "forever" : String(c.hours)}>
                      {c.label}
                    </option>
                  ))}
                </Form.Select>
                <Button variant="danger" disabled={act.isPending} onClick={() => run("suspend")}>
                  Suspend
                </Button>
              </ButtonGroup>
              {item.message ? (
                <>
                  <Button
                    size="sm"
                    variant="outline-secondary"
                    disabled={act.isPending}
                    onClick={() => run("mark_spam")}
                  >
                    Mark spam
                  </Button>
                  <Button
                    size="sm"
                    variant="outline-secondary"
                    disabled={act.isPending}
                    onClick={() => run("mark_not_spam")}
                  >
                    Not spam
                  </Button>
                </>
              ) : null}
            </div>
          </div>
        ) : (
          <div className="small text-body-secondary" data-testid="queue-resolution">
            {resolutionText(item)}
          </div>
        )}
        {act.error ? (
          <Alert variant="danger" className="mt-2 mb-0 py-1 small">
            {act.error.message}
          </Alert>
        ) : null}
      </Card.Footer>
    </Card>
  );
}

function resolutionText(item: QueueItem): string {
  const what =
    {
      dismissed: "Dismissed",
      message_deleted: "Message deleted",
      suspended: "Account suspended",
      not_spam: "Marked not spam",
    }[item.resolution ?? ""] ?? "Resolved";
  const who = item.resolved_by ? ` by ${item.resolved_by.display_name}` : "";
  const when = item.resolved_at ? ` · ${formatTime(item.resolved_at)}` : "";
  return `${what}${who}${when}`;
}
