import { useState } from "react";
import { Alert, Button, Card, Form, InputGroup } from "react-bootstrap";
import { useCreateInvite, useSetRole, type InstanceRole } from "./api";

/** Admins: grant or take instance roles, and make invite links. */
export function AdminTools() {
  const setRole = useSetRole();
  const invite = useCreateInvite();
  const [username, setUsername] = useState("");
  const [role, setRoleChoice] = useState<InstanceRole | "none">("moderator");
  const [uses, setUses] = useState(1);
  const link = invite.data?.code
    ? `${window.location.origin}/register?invite=${encodeURIComponent(invite.data.code)}`
    : null;
  return (
    <div className="d-flex flex-wrap gap-3 mb-3">
      <Card className="flex-grow-1" style={{ minWidth: "18rem" }}>
        <Card.Body>
          <Card.Title as="h3" className="h6">
            Roles
          </Card.Title>
          <Form
            onSubmit={(e) => {
              e.preventDefault();
              setRole.mutate({ username, role: role === "none" ? null : role });
            }}
          >
            <InputGroup size="sm">
              <Form.Control
                placeholder="username"
                aria-label="Username"
                value={username}
                onChange={(e) => setUsername(e.target.value)}
                required
              />
              <Form.Select
                aria-label="Role"
                value={role}
                onChange={(e) => setRoleChoice(e.target.value as InstanceRole | "none")}
                style={{ maxWidth: "9rem" }}
              >
                <option value="moderator">moderator</option>
                <option value="admin">admin</option>
                <option value="none">no role</option>
              </Form.Select>
              <Button type="submit" disabled={setRole.isPending}>
                Set role
              </Button>
            </InputGroup>
          </Form>
          {setRole.isSuccess ? (
            <div className="small mt-2" role="status">
              @{setRole.data.username} is now {setRole.data.role ?? "without a role"}.
            </div>
          ) : null}
          {setRole.error ? (
            <Alert variant="danger" className="mt-2 mb-0 py-1 small">
              {setRole.error.message}
            </Alert>
          ) : null}
        </Card.Body>
      </Card>
      <Card className="flex-grow-1" style={{ minWidth: "18rem" }}>
        <Card.Body>
          <Card.Title as="h3" className="h6">
            Invite link
          </Card.Title>
          <Form
            onSubmit={(e) => {
              e.preventDefault();
              invite.mutate({ max_uses: uses, expires_in_hours: 24 * 7 });
            }}
          >
            <InputGroup size="sm">
              <InputGroup.Text as="label" htmlFor="invite-uses">
                Uses
              </InputGroup.Text>
              <Form.Control
                id="invite-uses"
                type="number"
                min={1}
                max={10000}
                value={uses}
                onChange={(e) => setUses(Math.max(1, Number(e.target.value) || 1))}
                style={{ maxWidth: "6rem" }}
              />
              <Button type="submit" disabled={invite.isPending}>
                Make a link (valid a week)
              </Button>
            </InputGroup>
          </Form>
          {link ? (
            <Form.Control
              size="sm"
              readOnly
              className="mt-2"
              aria-label="The invite link"
              value={link}
              onFocus={(e) => e.currentTarget.select()}
              data-testid="invite-link"
            />
          ) : null}
          {invite.error ? (
            <Alert variant="danger" className="mt-2 mb-0 py-1 small">
              {invite.error.message}
            </Alert>
          ) : null}
        </Card.Body>
      </Card>
    </div>
  );
}
