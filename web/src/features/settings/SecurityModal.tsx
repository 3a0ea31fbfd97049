import { useId, useState, type FormEvent } from "react";
import { Alert, Badge, Button, Form, ListGroup, Modal, Spinner } from "react-bootstrap";
import type { SignedInSession } from "../../api/types";
import { dayLabel, formatTime } from "../../lib/format";
import { useAuthOptions, useSignInMethods } from "../auth/sso";
import { useAuth } from "../auth/AuthProvider";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import {
  deviceName,
  useChangeEmail,
  useCloseAccount,
  useChangePassword,
  useSessions,
  useSignOutSessions,
} from "./security";

const MIN_PASSWORD = 8;

function when(iso: string): string {
  return `${dayLabel(iso).toLowerCase()} at ${formatTime(iso)}`;
}

/**
 * The account's security: change the password (every other session is signed out), and
 * the devices signed in, each of which can be signed out, or all but this one at once.
 */
export function SecurityModal({ show, onHide }: { show: boolean; onHide: () => void }) {
  const options = useAuthOptions();
  const methods = useSignInMethods(show);
  // An account that signs in with single sign-on only has no password to change.
  const hasPassword = options.data?.password_login !== false && methods.data?.password === true;
  return (
    <Modal show={show} onHide={onHide} aria-labelledby="security-title" fullscreen="sm-down" size="lg">
      <Modal.Header closeButton>
        <Modal.Title id="security-title" as="h2" className="h5">
          Security
        </Modal.Title>
      </Modal.Header>
      <Modal.Body className="d-flex flex-column gap-4">
        {hasPassword ? <PasswordForm /> : null}
        {hasPassword && options.data?.password_reset ? <EmailForm /> : null}
        <SessionList enabled={show} />
        {methods.data ? <CloseAccount hasPassword={methods.data.password} /> : null}
      </Modal.Body>
    </Modal>
  );
}

function PasswordForm() {
  const change = useChangePassword();
  const ids = useId();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [checked, setChecked] = useState(false);
  const [done, setDone] = useState(false);
  const tooShort = next.length < MIN_PASSWORD;
  const mismatch = again !== next;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setChecked(true);
    setDone(false);
    if (!current || tooShort || mismatch) return;
    try {
      await change.mutateAsync({ current_password: current, new_password: next });
      setCurrent("");
      setNext("");
      setAgain("");
      setChecked(false);
      setDone(true);
    } catch {
      // The error is shown from the mutation's state.
    }
  }

  return (
    <section aria-labelledby={`${ids}-title`}>
      <h3 id={`${ids}-title`} className="h6">
        Change password
      </h3>
      {done ? (
        <Alert variant="success" role="status" data-testid="password-changed">
          Password changed. Every other device was signed out.
        </Alert>
      ) : null}
      {change.isError ? (
        <Alert variant="danger" role="alert" data-testid="password-error">
          {change.error instanceof Error ? change.error.message : "The password was not changed."}
        </Alert>
      ) : null}
      <Form noValidate onSubmit={(e) => void submit(e)} className="d-flex flex-column gap-2">
        <Form.Group controlId={`${ids}-current`}>
          <Form.Label>Current password</Form.Label>
          <Form.Control
            type="password"
            autoComplete="current-password"
            value={current}
            onChange={(e) => setCurrent(e.target.value)}
            isInvalid={checked && !current}
            required
          />
          <Form.Control.Feedback type="invalid">Type your current password.</Form.Control.Feedback>
        </Form.Group>
        <Form.Group controlId={`${ids}-new`}>
          <Form.Label>New password</Form.Label>
          <Form.Control
            type="password"
            autoComplete="new-password"
            value={next}
            onChange={(e) => setNext(e.target.value)}
            isInvalid={checked && tooShort}
            aria-describedby={`${ids}-new-help`}
            required
          />
          <Form.Text id={`${ids}-new-help`}>At least {MIN_PASSWORD} characters.</Form.Text>
          <Form.Control.Feedback type="invalid">Use at least {MIN_PASSWORD} characters.</Form.Control.Feedback>
        </Form.Group>
        <Form.Group controlId={`${ids}-again`}>
          <Form.Label>New password again</Form.Label>
          <Form.Control
            type="password"
            autoComplete="new-password"
            value={again}
            onChange={(e) => setAgain(e.target.value)}
            isInvalid={checked && mismatch}
            required
          />
          <Form.Control.Feedback type="invalid">The two new passwords differ.</Form.Control.Feedback>
        </Form.Group>
        <div>
          <Button type="submit" disabled={change.isPending}>
            {change.isPending ? "Changing…" : "Change password"}
          </Button>
        </div>
      </Form>
    </section>
  );
}

function EmailForm() {
  const { me } = useAuth();
  const change = useChangeEmail();
  const ids = useId();
  const [email, setEmail] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const value = email ?? me?.email ?? "";

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSaved(false);
    try {
      await change.mutateAsync(value.trim() || null);
      setEmail(null);
      setSaved(true);
    } catch {
      // Shown from the mutation's state.
    }
  }

  return (
    <section aria-labelledby={`${ids}-title`}>
      <h3 id={`${ids}-title`} className="h6">
        E-mail for password resets
      </h3>
      {saved ? (
        <Alert variant="success" role="status">
          {me?.email ? `Reset links go to ${me.email}.` : "No e-mail address: you cannot reset your password by mail."}
        </Alert>
      ) : null}
      {change.isError ? (
        <Alert variant="danger" role="alert">
          {change.error instanceof Error ? change.error.message : "The address was not saved."}
        </Alert>
      ) : null}
      <Form noValidate onSubmit={(e) => void submit(e)} className="d-flex gap-2 align-items-end">
        <Form.Group controlId={`${ids}-email`} className="flex-grow-1">
          <Form.Label>E-mail address (only you see it)</Form.Label>
          <Form.Control
            type="email"
            autoComplete="email"
            maxLength={254}
            value={value}
            onChange={(e) => setEmail(e.target.value)}
          />
        </Form.Group>
        <Button type="submit" variant="outline-primary" disabled={change.isPending || email === null}>
          Save
        </Button>
      </Form>
    </section>
  );
}

function CloseAccount({ hasPassword }: { hasPassword: boolean }) {
  const { logout } = useAuth();
  const close = useCloseAccount();
  const ids = useId();
  const [password, setPassword] = useState("");
  const [asking, setAsking] = useState(false);

  async function confirm() {
    setAsking(false);
    try {
      await close.mutateAsync(hasPassword ? password : null);
      await logout();
    } catch {
      // Shown from the mutation's state.
    }
  }

  return (
    <section aria-labelledby={`${ids}-title`} className="border border-danger-subtle rounded p-3">
      <h3 id={`${ids}-title`} className="h6 text-danger-emphasis">
        Close account
      </h3>
      <p className="small text-body-secondary mb-2">
        You leave your groups and are signed out everywhere. Your files are deleted, with the messages that carried
        them; your text messages stay, shown as from “Deleted account”. This cannot be undone.
      </p>
      {close.isError ? (
        <Alert variant="danger" role="alert" data-testid="close-error">
          {close.error instanceof Error ? close.error.message : "The account was not closed."}
        </Alert>
      ) : null}
      <Form
        noValidate
        className="d-flex gap-2 align-items-end"
        onSubmit={(e) => {
          e.preventDefault();
          setAsking(true);
        }}
      >
        {hasPassword ? (
          <Form.Group controlId={`${ids}-password`} className="flex-grow-1">
            <Form.Label>Your password</Form.Label>
            <Form.Control
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </Form.Group>
        ) : null}
        <Button type="submit" variant="outline-danger" disabled={close.isPending || (hasPassword && !password)}>
          Close account…
        </Button>
      </Form>
      <ConfirmDialog
        show={asking}
        title="Close your account?"
        body="Your files are deleted and you are signed out everywhere. This cannot be undone."
        confirmLabel="Close my account"
        onConfirm={() => void confirm()}
        onCancel={() => setAsking(false)}
      />
    </section>
  );
}

function SessionList({ enabled }: { enabled: boolean }) {
  const sessions = useSessions(enabled);
  const signOut = useSignOutSessions();
  const ids = useId();
  const list = sessions.data ?? [];
  const others = list.filter((s) => !s.current).length;

  return (
    <section aria-labelledby={`${ids}-title`}>
      <div className="d-flex justify-content-between align-items-center gap-2 mb-2">
        <h3 id={`${ids}-title`} className="h6 mb-0">
          Where you are signed in
        </h3>
        <Button
          size="sm"
          variant="outline-danger"
          disabled={others === 0 || signOut.isPending}
          onClick={() => signOut.mutate(null)}
        >
          Sign out everywhere else
        </Button>
      </div>
      {signOut.isError ? (
        <Alert variant="danger" role="alert">
          {signOut.error instanceof Error ? signOut.error.message : "Signing out did not work."}
        </Alert>
      ) : null}
      {sessions.isPending ? (
        <Spinner size="sm" animation="border" role="status" aria-label="Loading" />
      ) : sessions.isError ? (
        <Alert variant="warning" role="alert">
          The list of devices could not be loaded.
        </Alert>
      ) : (
        <ListGroup data-testid="session-list">
          {list.map((s) => (
            <SessionRow key={s.id} session={s} busy={signOut.isPending} onSignOut={() => signOut.mutate(s.id)} />
          ))}
        </ListGroup>
      )}
    </section>
  );
}

function SessionRow({ session, busy, onSignOut }: { session: SignedInSession; busy: boolean; onSignOut: () => void }) {
  const name = deviceName(session);
  const via = session.method === "password" ? "password" : session.method;
  return (
    <ListGroup.Item className="d-flex justify-content-between align-items-center gap-2" data-testid="session-row">
      <div className="min-w-0">
        <div className="d-flex align-items-center gap-2">
          <span className="text-truncate">{name}</span>
          {session.current ? (
            <Badge bg="success" pill>
              This device
            </Badge>
          ) : null}
        </div>
        <div className="small text-body-secondary">
          {session.address ? `${session.address} · ` : ""}signed in {when(session.created_at)} with {via} · last active{" "}
          {when(session.last_used_at)}
        </div>
      </div>
      {session.current ? null : (
        <Button
          size="sm"
          variant="outline-secondary"
          disabled={busy}
          onClick={onSignOut}
          aria-label={`Sign out ${name}`}
        >
          Sign out
        </Button>
      )}
    </ListGroup.Item>
  );
}
