import { Alert, Button } from "react-bootstrap";

/**
 * A message request: a direct chat from someone I share no conversation with. Until I
 * accept, its attachments and links are not shown.
 */
export function RequestBanner(props: {
  name: string;
  accepting: boolean;
  error: string | null;
  onAccept: () => void;
  onBlock: () => void;
  onReport: () => void;
}) {
  return (
    <div
      className="border-bottom px-3 py-2 bg-body-tertiary"
      role="region"
      aria-label="Message request"
      data-testid="request-banner"
    >
      <div className="fw-semibold">{props.name} wants to message you</div>
      <div className="small text-body-secondary mb-2">
        You have no chat or group in common. Attachments and links stay hidden until you accept (replying accepts too).
      </div>
      <div className="d-flex flex-wrap gap-2">
        <Button size="sm" onClick={props.onAccept} disabled={props.accepting}>
          Accept
        </Button>
        <Button size="sm" variant="danger" onClick={props.onBlock}>
          Block
        </Button>
        <Button size="sm" variant="outline-secondary" onClick={props.onReport}>
          Report
        </Button>
      </div>
      {props.error ? (
        <Alert variant="danger" className="mt-2 mb-0 py-1 small">
          {props.error}
        </Alert>
      ) : null}
    </div>
  );
}
