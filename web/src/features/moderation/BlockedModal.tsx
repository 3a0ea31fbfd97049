import { Alert, Button, ListGroup, Modal, Spinner } from "react-bootstrap";
import { Avatar } from "../../components/Avatar";
import { useBlocks, useSetBlocked } from "./api";

/** Settings: the people I blocked, each with Unblock. */
export function BlockedModal({ show, onHide }: { show: boolean; onHide: () => void }) {
  const blocks = useBlocks(show);
  const setBlocked = useSetBlocked();
  return (
    <Modal show={show} onHide={onHide} centered aria-labelledby="blocked-title" scrollable>
      <Modal.Header closeButton>
        <Modal.Title id="blocked-title" className="h5">
          Blocked people
        </Modal.Title>
      </Modal.Header>
      <Modal.Body>
        <p className="small text-body-secondary">
          They cannot start a chat with you or add you to groups, and your direct chat with them is paused. In groups
          you share, their messages are collapsed. They are not told.
        </p>
        {blocks.isPending ? (
          <Spinner animation="border" size="sm" role="status" aria-label="Loading" />
        ) : blocks.error ? (
          <Alert variant="danger">{blocks.error.message}</Alert>
        ) : blocks.data.length === 0 ? (
          <p className="mb-0" data-testid="no-blocks">
            You have not blocked anyone.
          </p>
        ) : (
          <ListGroup data-testid="blocked-list">
            {blocks.data.map((b) => (
              <ListGroup.Item key={b.user.id} className="d-flex align-items-center gap-2">
                <Avatar name={b.user.display_name} seed={b.user.id} small />
                <div className="flex-grow-1 min-w-0">
                  <div className="text-truncate">{b.user.display_name}</div>
                  <div className="small text-body-secondary text-truncate">@{b.user.username}</div>
                </div>
                <Button
                  size="sm"
                  variant="outline-secondary"
                  disabled={setBlocked.isPending}
                  onClick={() => setBlocked.mutate({ userId: b.user.id, blocked: false })}
                >
                  Unblock
                </Button>
              </ListGroup.Item>
            ))}
          </ListGroup>
        )}
      </Modal.Body>
    </Modal>
  );
}
