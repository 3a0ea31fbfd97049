import { useQueryClient } from "@tanstack/react-query";
import { Button } from "react-bootstrap";
import { Icon } from "../../components/Icon";
import { discardChange, retryChange, useMessageChange } from "./changes";

/** Under a message with an edit or delete not yet saved: waiting, or refused with Retry and Discard. */
export function ChangeNote({ messageId }: { messageId: string }) {
  const qc = useQueryClient();
  const change = useMessageChange(messageId);
  if (!change) return null;
  const what = change.kind === "edit" ? "Edit" : "Delete";
  if (change.status === "failed") {
    return (
      <div className="clearfix small text-danger" data-testid="queued-action" role="status">
        {what} not saved{change.error ? `: ${change.error}` : ""}.{" "}
        <Button variant="link" size="sm" className="p-0 align-baseline" onClick={() => retryChange(qc, change.id)}>
          Retry
        </Button>{" "}
        <Button
          variant="link"
          size="sm"
          className="p-0 align-baseline text-danger"
          onClick={() => discardChange(change.id)}
        >
          Discard
        </Button>
      </div>
    );
  }
  return (
    <div className="clearfix small text-body-secondary fst-normal" data-testid="queued-action" role="status">
      <Icon name="clock" size={12} /> {what} waiting for the connection
    </div>
  );
}
