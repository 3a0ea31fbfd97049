import { Modal } from "react-bootstrap";
import { NotificationSettings } from "../notifications/NotificationSettings";

/** The person's settings, stored on the server (the same on every device). */
export function SettingsModal({ show, onHide }: { show: boolean; onHide: () => void }) {
  return (
    <Modal show={show} onHide={onHide} aria-labelledby="settings-title" fullscreen="sm-down">
      <Modal.Header closeButton>
        <Modal.Title id="settings-title" as="h2" className="h5">
          Settings
        </Modal.Title>
      </Modal.Header>
      <Modal.Body className="d-flex flex-column gap-4">
        <NotificationSettings enabled={show} />
      </Modal.Body>
    </Modal>
  );
}
