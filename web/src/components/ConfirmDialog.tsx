import { Button, Modal } from "react-bootstrap";

/** A yes/no question in a modal: keyboard-friendly (focus starts on the confirm button). */
export function ConfirmDialog({
  show,
  title,
  body,
  confirmLabel,
  onConfirm,
  onCancel,
}: {
  show: boolean;
  title: string;
  body: string;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <Modal show={show} onHide={onCancel} centered size="sm" aria-labelledby="confirm-title">
      <Modal.Header closeButton>
        <Modal.Title id="confirm-title" as="h2" className="h6">
          {title}
        </Modal.Title>
      </Modal.Header>
      <Modal.Body>{body}</Modal.Body>
      <Modal.Footer>
        <Button variant="secondary" onClick={onCancel}>
          Cancel
        </Button>
        <Button variant="danger" onClick={onConfirm} autoFocus>
          {confirmLabel}
        </Button>
      </Modal.Footer>
    </Modal>
  );
}
