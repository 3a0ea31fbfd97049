import { useState, type FormEvent, type ReactNode } from "react";
import { Alert, Button, Card, Form, Spinner } from "react-bootstrap";
import { Link } from "react-router";
import { publicApi, unwrap } from "../../api/client";
import { BrandMark } from "../../components/BrandMark";
import { ThemeToggle } from "../settings/ThemeToggle";
import { useAuthOptions } from "./sso";

const MIN_PASSWORD = 8;

function AuthCard({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div className="auth-page min-vh-100 d-flex align-items-center justify-content-center p-3 overflow-auto">
      <Card className="w-100 shadow-sm" style={{ maxWidth: 400 }}>
        <Card.Body className="p-4">
          <div className="d-flex align-items-center justify-content-between mb-3">
            <h1 className="h4 mb-0 d-flex align-items-center gap-2">
              <BrandMark />
              {title}
            </h1>
            <ThemeToggle />
          </div>
          {children}
        </Card.Body>
      </Card>
    </div>
  );
}

/** "Forgot your password?": a username or e-mail address in, the same answer for all. */
export function ForgotPasswordPage() {
  const options = useAuthOptions();
  const [login, setLogin] = useState("");
  const [sent, setSent] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!login.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const answer = await unwrap(publicApi.POST("/api/v1/auth/password-reset", { body: { login: login.trim() } }));
      setSent(answer.detail);
    } catch (err) {
      setError(err instanceof Error ? err.message : "Something went wrong.");
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthCard title="Reset your password">
      {options.data && !options.data.password_reset ? (
        <Alert variant="warning" role="alert">
          Password reset by e-mail is not set up on this server. Ask its operator for help.
        </Alert>
      ) : sent ? (
        <Alert variant="success" role="status" data-testid="reset-sent">
          {sent} Check your inbox (and the spam folder); the link works for 30 minutes.
        </Alert>
      ) : (
        <>
          <p className="small text-body-secondary">
            Type your username or the e-mail address on your account: we mail you a link to choose a new password.
          </p>
          {error ? (
            <Alert variant="danger" role="alert" data-testid="reset-error">
              {error}
            </Alert>
          ) : null}
          <Form noValidate onSubmit={(e) => void submit(e)}>
            <Form.Group className="mb-3" controlId="reset-login">
              <Form.Label>Username or e-mail address</Form.Label>
              <Form.Control
                autoComplete="username"
                autoCapitalize="none"
                autoFocus
                required
                maxLength={254}
                value={login}
                onChange={(e) => setLogin(e.target.value)}
              />
            </Form.Group>
            <Button type="submit" className="w-100" disabled={busy || !login.trim()}>
              {busy ? (
                <Spinner size="sm" animation="border" role="status" aria-label="Working" className="me-2" />
              ) : null}
              Send the link
            </Button>
          </Form>
        </>
      )}
      <p className="mt-3 mb-0 text-center small">
        <Link to="/login">Back to sign in</Link>
      </p>
    </AuthCard>
  );
}

/** The token from `#token=…`, read once; the fragment is then taken off the address. */
function takeToken(): string {
  const token = new URLSearchParams(window.location.hash.slice(1)).get("token") ?? "";
  if (window.location.hash) window.history.replaceState(window.history.state, "", window.location.pathname);
  return token;
}

/** The link from the mail: choose the new password. */
export function ResetPasswordPage() {
  const [token] = useState(takeToken);
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [checked, setChecked] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const tooShort = next.length < MIN_PASSWORD;
  const mismatch = again !== next;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setChecked(true);
    if (tooShort || mismatch) return;
    setBusy(true);
    setError(null);
    try {
      await unwrap(publicApi.POST("/api/v1/auth/password-reset/confirm", { body: { token, new_password: next } }));
      setDone(true);
    } catch (err) {
      setError(err instanceof Error ? err.message : "Something went wrong.");
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthCard title="Choose a new password">
      {!token ? (
        <Alert variant="warning" role="alert">
          This page needs the link from the reset mail. <Link to="/forgot-password">Ask for a new link</Link>.
        </Alert>
      ) : done ? (
        <Alert variant="success" role="status" data-testid="reset-done">
          Your password is changed, and every device was signed out. <Link to="/login">Sign in</Link> with the new
          password.
        </Alert>
      ) : (
        <>
          {error ? (
            <Alert variant="danger" role="alert" data-testid="reset-error">
              {error} <Link to="/forgot-password">Ask for a new link</Link>.
            </Alert>
          ) : null}
          <Form noValidate onSubmit={(e) => void submit(e)}>
            <Form.Group className="mb-3" controlId="reset-new">
              <Form.Label>New password</Form.Label>
              <Form.Control
                type="password"
                autoComplete="new-password"
                autoFocus
                required
                value={next}
                isInvalid={checked && tooShort}
                onChange={(e) => setNext(e.target.value)}
              />
              <Form.Control.Feedback type="invalid">Use at least {MIN_PASSWORD} characters.</Form.Control.Feedback>
            </Form.Group>
            <Form.Group className="mb-3" controlId="reset-again">
              <Form.Label>New password again</Form.Label>
              <Form.Control
                type="password"
                autoComplete="new-password"
                required
                value={again}
                isInvalid={checked && mismatch}
                onChange={(e) => setAgain(e.target.value)}
              />
              <Form.Control.Feedback type="invalid">The two passwords differ.</Form.Control.Feedback>
            </Form.Group>
            <Button type="submit" className="w-100" disabled={busy || !next}>
              {busy ? (
                <Spinner size="sm" animation="border" role="status" aria-label="Working" className="me-2" />
              ) : null}
              Set the new password
            </Button>
          </Form>
        </>
      )}
    </AuthCard>
  );
}
