import { useState, type FormEvent } from "react";
import { Alert, Badge, Button, CloseButton, Form, Modal } from "react-bootstrap";
import { useNavigate } from "react-router";
import type { User } from "../../api/types";
import { useCreateGroup } from "./api";
import { UserPicker } from "./UserPicker";

export function NewGroupModal({ show, onHide, meId }: { show: boolean; onHide: () => void; meId: string | undefined }) {
  const [title, setTitle] = useState("");
  const [members, setMembers] = useState<User[]>([]);
  const create = useCreateGroup();
  const navigate = useNavigate();
  const [created, setCreated] = useState<string | null>(null);

  function close() {
    setTitle("");
    setMembers([]);
    create.reset();
    onHide();
  }

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    if (!title.trim()) return;
    const conversation = await create
      .mutateAsync({ title: title.trim(), memberIds: members.map((m) => m.id) })
      .catch(() => null);
    if (conversation) {
      // Navigate once the dialog has gone, so focus lands in the new conversation.
      setCreated(conversation.id);
      close();
    }
  }

  return (
    <Modal
      show={show}
      onHide={close}
      aria-labelledby="new-group-title"
      fullscreen="sm-down"
      onExited={() => {
        if (created) navigate(`/c/${created}`);
        setCreated(null);
      }}
    >
      <Form onSubmit={onSubmit}>
        <Modal.Header closeButton>
          <Modal.Title id="new-group-title" as="h2" className="h5">
            New group
          </Modal.Title>
        </Modal.Header>
        <Modal.Body>
          {create.error ? <Alert variant="danger">{create.error.message}</Alert> : null}
          <Form.Group className="mb-3" controlId="group-title">
            <Form.Label>Group name</Form.Label>
            <Form.Control value={title} maxLength={128} required onChange={(e) => setTitle(e.target.value)} autoFocus />
          </Form.Group>
          <div className="mb-2 fw-medium">Members</div>
          <div className="d-flex flex-wrap gap-2 mb-2" aria-live="polite">
            {members.map((m) => (
              <Badge key={m.id} bg="secondary" className="d-inline-flex align-items-center gap-1 fs-6 fw-normal">
                {m.display_name}
                <CloseButton
                  variant="white"
                  aria-label={`Remove ${m.display_name}`}
                  style={{ fontSize: "0.6rem" }}
                  onClick={() => setMembers((list) => list.filter((x) => x.id !== m.id))}
                />
              </Badge>
            ))}
          </div>
          <UserPicker
            label="Add people by username"
            exclude={[...(meId ? [meId] : []), ...members.map((m) => m.id)]}
            actionLabel={(u) => `Add ${u.display_name}`}
            onPick={(u) => setMembers((list) => [...list, u])}
          />
        </Modal.Body>
        <Modal.Footer>
          <Button variant="secondary" onClick={close}>
            Cancel
          </Button>
          <Button type="submit" disabled={!title.trim() || create.isPending}>
            Create group
          </Button>
        </Modal.Footer>
      </Form>
    </Modal>
  );
}
