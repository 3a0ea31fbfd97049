import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Alert, Button, Form, InputGroup, ListGroup, Modal } from "react-bootstrap";
import type { Conversation, Role } from "../../api/types";
import { Avatar } from "../../components/Avatar";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import {
  keys,
  useAddMember,
  useChangeRole,
  useMembers,
  useRemoveMember,
  useRenameConversation,
} from "../conversations/api";
import { UserPicker } from "../conversations/UserPicker";

const ROLES: Role[] = ["owner", "admin", "member"];

export function GroupSettingsModal({
  show,
  onHide,
  conversation,
  meId,
}: {
  show: boolean;
  onHide: () => void;
  conversation: Conversation;
  meId: string;
}) {
  const qc = useQueryClient();
  const id = conversation.id;
  const members = useMembers(id);
  const rename = useRenameConversation(id);
  const add = useAddMember(id);
  const changeRole = useChangeRole(id);
  const removeMember = useRemoveMember(id);
  const [title, setTitle] = useState(conversation.title ?? "");
  const [error, setError] = useState<string | null>(null);
  const myRole = members.data?.find((m) => m.user.id === meId)?.role ?? conversation.my_role;
  const canManage = myRole === "owner" || myRole === "admin";
  const isOwner = myRole === "owner";

  useEffect(() => {
    if (show) setTitle(conversation.title ?? "");
  }, [show, conversation.title]);

  const run = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err instanceof Error ? err.message : "That did not work.");
    }
  };

  async function onRename(e: FormEvent) {
    e.preventDefault();
    if (title.trim()) await run(() => rename.mutateAsync(title.trim()));
  }

  const [confirmLeave, setConfirmLeave] = useState(false);

  async function leave() {
    setConfirmLeave(false);
    await run(async () => {
      await removeMember.mutateAsync(meId);
      // The chat stays, read-only: the member.removed event about me turns it so on the
      // socket; the server's copy says so too, should the socket be down.
      onHide();
      void qc.invalidateQueries({ queryKey: keys.conversation(id) });
      void qc.invalidateQueries({ queryKey: keys.conversations });
    });
  }

  return (
    <Modal show={show} onHide={onHide} aria-labelledby="group-settings-title" fullscreen="sm-down" scrollable>
      <Modal.Header closeButton>
        <Modal.Title id="group-settings-title" as="h2" className="h5">
          Group settings
        </Modal.Title>
      </Modal.Header>
      <Modal.Body>
        {error ? (
          <Alert variant="danger" dismissible onClose={() => setError(null)}>
            {error}
          </Alert>
        ) : null}
        <Form onSubmit={(e) => void onRename(e)} className="mb-4">
          <Form.Label htmlFor="group-rename">Group name</Form.Label>
          <InputGroup>
            <Form.Control
              id="group-rename"
              value={title}
              maxLength={128}
              disabled={!canManage}
              onChange={(e) => setTitle(e.target.value)}
            />
            <Button type="submit" disabled={!canManage || !title.trim() || title.trim() === conversation.title}>
              Rename
            </Button>
          </InputGroup>
          {!canManage ? <Form.Text>Only owners and admins can rename the group.</Form.Text> : null}
        </Form>
        <h3 className="h6">Members ({members.data?.length ?? conversation.members_count})</h3>
        <ListGroup className="mb-3">
          {(members.data ?? []).map((m) => {
            const self = m.user.id === meId;
            return (
              <ListGroup.Item key={m.user.id} className="d-flex align-items-center gap-2" data-testid="member-row">
                <Avatar
                  name={m.user.display_name}
                  seed={m.user.id}
                  online={m.user.online}
                  imageUrl={m.user.avatar_thumb_url}
                  small
                />
                <div className="flex-grow-1 min-w-0">
                  <div className="text-truncate">
                    {m.user.display_name}
                    {self ? " (you)" : ""} <span className="small text-body-secondary">@{m.user.username}</span>
                  </div>
                  <div className="d-flex flex-wrap align-items-center gap-2 mt-1">
                    {isOwner && !self ? (
                      <Form.Select
                        size="sm"
                        style={{ width: "auto" }}
                        value={m.role}
                        aria-label={`Role of ${m.user.display_name}`}
                        onChange={(e) =>
                          void run(() => changeRole.mutateAsync({ userId: m.user.id, role: e.target.value as Role }))
                        }
                      >
                        {ROLES.map((r) => (
                          <option key={r} value={r}>
                            {r}
                          </option>
                        ))}
                      </Form.Select>
                    ) : (
                      <span className="badge text-bg-secondary text-capitalize">{m.role}</span>
                    )}
                    {canManage && !self && m.role !== "owner" ? (
                      <Button
                        size="sm"
                        variant="outline-danger"
                        aria-label={`Remove ${m.user.display_name}`}
                        onClick={() => void run(() => removeMember.mutateAsync(m.user.id))}
                      >
                        Remove
                      </Button>
                    ) : null}
                  </div>
                </div>
              </ListGroup.Item>
            );
          })}
        </ListGroup>
        {canManage ? (
          <div className="mb-3">
            <h3 className="h6">Add people</h3>
            <UserPicker
              label="Search people to add"
              exclude={(members.data ?? []).map((m) => m.user.id)}
              actionLabel={(u) => `Add ${u.display_name} to the group`}
              onPick={(u) => void run(() => add.mutateAsync({ userId: u.id }))}
            />
          </div>
        ) : null}
      </Modal.Body>
      <Modal.Footer className="justify-content-between">
        <Button variant="outline-danger" onClick={() => setConfirmLeave(true)}>
          Leave group
        </Button>
        <Button variant="secondary" onClick={onHide}>
          Close
        </Button>
      </Modal.Footer>
      <ConfirmDialog
        show={confirmLeave}
        title="Leave group?"
        body={`You will stop receiving messages from “${conversation.title ?? "this group"}”. What was said until then stays readable.`}
        confirmLabel="Leave"
        onCancel={() => setConfirmLeave(false)}
        onConfirm={() => void leave()}
      />
    </Modal>
  );
}
