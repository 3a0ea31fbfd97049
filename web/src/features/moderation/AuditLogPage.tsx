import { Alert, Spinner, Table } from "react-bootstrap";
import { Link } from "react-router";
import { EmptyState } from "../../components/EmptyState";
import { dayLabel, formatTime } from "../../lib/format";
import { useAuth } from "../auth/AuthProvider";
import { AdminTools } from "./AdminTools";
import { useAudit, type AuditEntry } from "./api";

const ACTIONS: Record<string, string> = {
  dismiss: "dismissed a report",
  delete_message: "deleted a message",
  suspend: "suspended",
  lift_suspension: "lifted the suspension of",
  mark_spam: "marked spam",
  mark_not_spam: "marked not spam",
  grant_role: "granted a role to",
  revoke_role: "took the role of",
  create_invite: "made an invite",
  revoke_invite: "revoked an invite",
};

/** The admins' audit log: every moderation and administration action, newest first. */
export function AuditLogPage() {
  const { me } = useAuth();
  const audit = useAudit();
  if (me?.role !== "admin") {
    return (
      <EmptyState title="Admins only">
        <p>The audit log is for the server&apos;s admins.</p>
        <Link to="/">Back to conversations</Link>
      </EmptyState>
    );
  }
  return (
    <section className="d-flex flex-column flex-grow-1 min-h-0" aria-labelledby="audit-title">
      <header className="d-flex align-items-center gap-2 border-bottom px-3 py-2">
        <h2 id="audit-title" className="h6 mb-0 flex-grow-1">
          Administration and audit log
        </h2>
        <Link to="/moderation" className="btn btn-outline-secondary btn-sm">
          Review queue
        </Link>
      </header>
      <div className="overflow-auto flex-grow-1 p-3">
        <AdminTools />
        {audit.isPending ? (
          <Spinner animation="border" role="status" aria-label="Loading the audit log" />
        ) : audit.error ? (
          <Alert variant="danger">{audit.error.message}</Alert>
        ) : audit.data.length === 0 ? (
          <p className="text-body-secondary">Nothing yet.</p>
        ) : (
          <Table size="sm" responsive hover data-testid="audit-log">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {audit.data.map((e) => (
                <tr key={e.id}>
                  <td className="text-nowrap small">
                    {dayLabel(e.created_at)} {formatTime(e.created_at)}
                  </td>
                  <td>{e.actor?.display_name ?? <em>command line</em>}</td>
                  <td>{describe(e)}</td>
                  <td className="small">{e.reason || <span className="text-body-secondary">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </div>
    </section>
  );
}

function describe(e: AuditEntry): string {
  const verb = ACTIONS[e.action] ?? e.action;
  const subject = e.subject ? ` ${e.subject.display_name}` : "";
  const data = e.data ?? {};
  const extra =
    e.action === "suspend"
      ? data["hours"]
        ? ` for ${String(data["hours"])} h`
        : " for good"
      : e.action === "grant_role"
        ? ` (${String(data["role"])})`
        : "";
  return `${verb}${subject}${extra}`;
}
