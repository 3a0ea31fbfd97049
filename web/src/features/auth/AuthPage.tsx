import { useState, type FormEvent } from "react";
import { Alert, Button, Card, Form, Spinner } from "react-bootstrap";
import { Link, Navigate, useLocation, useNavigate } from "react-router";
import { BrandMark } from "../../components/BrandMark";
import { takeEndedByServer } from "../../api/session";
import { useAuth } from "./AuthProvider";
import { ThemeToggle } from "../settings/ThemeToggle";
import { ProviderButtons, SingleSignOnPage } from "./SingleSignOn";
import { safeReturnTo, useAuthOptions } from "./sso";

const USERNAME = /^[a-z0-9_.-]{3,32}$/;

export function AuthPage({ mode }: { mode: "login" | "register" }) {
  const { status, login, register } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [email, setEmail] = useState("");
  // An invite link is /register?invite=<code>.
  const [invite, setInvite] = useState(() => new URLSearchParams(location.search).get("invite") ?? "");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [endedElsewhere] = useState(() => mode === "login" && takeEndedByServer());
  const isRegister = mode === "register";
  // Single sign-on: back to the page that sent the person here, after the provider.
  const options = useAuthOptions();
  const returnTo = safeReturnTo((location.state as { from?: string } | null)?.from);

  if (status === "signed-in") {
    const from = (location.state as { from?: string } | null)?.from ?? "/";
    return <Navigate to={from} replace />;
  }
  if (options.data?.password_login === false) return <SingleSignOnPage returnTo={returnTo} />;

  const usernameProblem =
    isRegister && username && !USERNAME.test(username.trim().toLowerCase())
      ? "3–32 characters: letters a–z, digits, '_', '.' or '-'."
      : null;
  const passwordProblem = isRegister && password && password.length < 8 ? "At least 8 characters." : null;

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    if (usernameProblem || passwordProblem) return;
    setBusy(true);
    setError(null);
    try {
      if (isRegister) await register(username, password, displayName, email, invite);
      else await login(username, password);
      navigate("/", { replace: true });
    } catch (err) {
      setError(err instanceof Error ? err.message : "Something went wrong.");
    } finally {
      setBusy(false);
    }
  }

  return (
    <div
      className="auth-page min-vh-100 d-flex align-items-center justify-content-center p-3 overflow-auto"
      style={{ height: "100%" }}
    >
      <Card className="w-100 shadow-sm" style={{ maxWidth: 400 }}>
        <Card.Body className="p-4">
          <div className="d-flex justify-content-between align-items-center mb-3">
            <h1 className="h4 mb-0 d-flex align-items-center gap-2">
              <BrandMark size={28} />
              {isRegister ? "Create your account" : "Sign in to chatapi"}
            </h1>
            <ThemeToggle />
          </div>
          {endedElsewhere && !error ? (
            <Alert variant="info" role="status" data-testid="session-ended">
              Your session on this device has ended: signed out from another device, a password change, a suspension by
              the moderators, or it expired. Sign in again.
            </Alert>
          ) : null}
          {error ? (
            <Alert variant="danger" role="alert" data-testid="auth-error">
              {error}
            </Alert>
          ) : null}
          <Form onSubmit={onSubmit} noValidate>
            <Form.Group className="mb-3" controlId="auth-username">
              <Form.Label>Username</Form.Label>
              <Form.Control
                name="username"
                autoComplete="username"
                autoCapitalize="none"
                autoFocus
                required
                value={username}
                isInvalid={Boolean(usernameProblem)}
                onChange={(e) => setUsername(e.target.value)}
              />
              <Form.Control.Feedback type="invalid">{usernameProblem}</Form.Control.Feedback>
            </Form.Group>
            {isRegister ? (
              <Form.Group className="mb-3" controlId="auth-display-name">
                <Form.Label>
                  Display name <span className="text-body-secondary small">(optional)</span>
                </Form.Label>
                <Form.Control
                  name="display_name"
                  autoComplete="name"
                  maxLength={64}
                  value={displayName}
                  onChange={(e) => setDisplayName(e.target.value)}
                />
              </Form.Group>
            ) : null}
            {isRegister && options.data?.registration_mode === "invite" ? (
              <Form.Group className="mb-3" controlId="auth-invite">
                <Form.Label>Invite code</Form.Label>
                <Form.Control
                  name="invite"
                  autoComplete="off"
                  required
                  maxLength={128}
                  value={invite}
                  onChange={(e) => setInvite(e.target.value)}
                />
                <Form.Text>This server accepts new accounts by invitation.</Form.Text>
              </Form.Group>
            ) : null}
            {isRegister && options.data?.password_reset ? (
              <Form.Group className="mb-3" controlId="auth-email">
                <Form.Label>
                  E-mail address <span className="text-body-secondary small">(optional: to reset your password)</span>
                </Form.Label>
                <Form.Control
                  type="email"
                  name="email"
                  autoComplete="email"
                  maxLength={254}
                  value={email}
                  onChange={(e) => setEmail(e.target.value)}
                />
              </Form.Group>
            ) : null}
            <Form.Group className="mb-3" controlId="auth-password">
              <Form.Label>Password</Form.Label>
              <Form.Control
                type="password"
                name="password"
                autoComplete={isRegister ? "new-password" : "current-password"}
                required
                value={password}
                isInvalid={Boolean(passwordProblem)}
                onChange={(e) => setPassword(e.target.value)}
              />
              <Form.Control.Feedback type="invalid">{passwordProblem}</Form.Control.Feedback>
              {!isRegister && options.data?.password_reset ? (
                <div className="text-end mt-1">
                  <Link to="/forgot-password" className="small">
                    Forgot your password?
                  </Link>
                </div>
              ) : null}
            </Form.Group>
            <Button type="submit" className="w-100" disabled={busy || !username || !password}>
              {busy ? (
                <Spinner size="sm" animation="border" role="status" aria-label="Working" className="me-2" />
              ) : null}
              {isRegister ? "Create account" : "Sign in"}
            </Button>
          </Form>
          <ProviderButtons returnTo={returnTo} divider />
          <p className="mt-3 mb-0 text-center small">
            {isRegister ? (
              <>
                Already have an account? <Link to="/login">Sign in</Link>
              </>
            ) : options.data?.registration === false ? null : (
              <>
                New here? <Link to="/register">Create an account</Link>
              </>
            )}
          </p>
        </Card.Body>
      </Card>
    </div>
  );
}
