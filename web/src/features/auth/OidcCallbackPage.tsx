import { useEffect, useState, type FormEvent } from "react";
import { Alert, Button, Card, Form, Spinner } from "react-bootstrap";
import { Link, useNavigate } from "react-router";
import type { OidcSignupNeeded, TokenPair } from "../../api/types";
import { useAuth } from "./AuthProvider";
import { exchangeCode, linkExistingAccount, signUpWithTicket, useAuthOptions } from "./sso";

type View = { kind: "working" } | { kind: "failed"; message: string } | { kind: "signup"; offer: OidcSignupNeeded };

/**
 * Where the server sends the browser back from a provider: /oidc/callback#code=<one-time
 * code>. The code leaves the address bar at once and is exchanged by POST; then the person
 * is signed in (and back where they were), or their link is made, or — new here — they
 * choose a username or link the account they already have.
 */
export function OidcCallbackPage() {
  const navigate = useNavigate();
  const { adopt } = useAuth();
  const [code] = useState(() => new URLSearchParams(window.location.hash.slice(1)).get("code"));
  const [view, setView] = useState<View>(() =>
    code ? { kind: "working" } : { kind: "failed", message: "This sign-in link is incomplete. Start again." },
  );

  useEffect(() => {
    // Out of the address bar and the history entry: the code is for this page only.
    if (window.location.hash) window.history.replaceState(window.history.state, "", window.location.pathname);
    if (!code) return;
    let live = true;
    exchangeCode(code).then(
      (outcome) => {
        if (!live) return;
        switch (outcome.outcome) {
          case "signed_in":
            adopt(outcome.tokens);
            navigate(outcome.return_to, { replace: true });
            break;
          case "linked":
            navigate(outcome.return_to, { replace: true, state: { signInMethods: true } });
            break;
          case "signup":
            setView({ kind: "signup", offer: outcome });
            break;
        }
      },
      (error: unknown) => {
        if (live) setView({ kind: "failed", message: error instanceof Error ? error.message : "The sign-in failed." });
      },
    );
    return () => {
      live = false;
    };
  }, [code, adopt, navigate]);

  return (
    <div
      className="auth-page min-vh-100 d-flex align-items-center justify-content-center p-3 overflow-auto"
      style={{ height: "100%" }}
    >
      <Card className="w-100 shadow-sm" style={{ maxWidth: 440 }}>
        <Card.Body className="p-4">
          {view.kind === "working" ? (
            <div className="d-flex align-items-center gap-2" role="status">
              <Spinner size="sm" animation="border" aria-hidden="true" />
              Signing you in…
            </div>
          ) : null}
          {view.kind === "failed" ? (
            <>
              <h1 className="h4">You are not signed in</h1>
              <Alert variant="danger" data-testid="sso-error">
                {view.message}
              </Alert>
              <Link to="/login">Back to sign-in</Link>
            </>
          ) : null}
          {view.kind === "signup" ? (
            <NewHere
              offer={view.offer}
              onSignedIn={(pair) => {
                adopt(pair);
                navigate(view.offer.return_to, { replace: true });
              }}
            />
          ) : null}
        </Card.Body>
      </Card>
    </div>
  );
}

/** A person the provider vouched for, new here: a new account, or one they already have. */
function NewHere({ offer, onSignedIn }: { offer: OidcSignupNeeded; onSignedIn: (pair: TokenPair) => void }) {
  const options = useAuthOptions();
  const label = options.data?.providers.find((p) => p.name === offer.provider)?.label ?? offer.provider;
  const [username, setUsername] = useState(offer.proposed_username);
  const [displayName, setDisplayName] = useState(offer.display_name);
  const [linkUsername, setLinkUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function run(action: () => Promise<TokenPair>) {
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await action());
    } catch (err) {
      setError(err instanceof Error ? err.message : "That did not work.");
    } finally {
      setBusy(false);
    }
  }

  const create = (e: FormEvent) => {
    e.preventDefault();
    void run(() => signUpWithTicket(offer.ticket, username, displayName));
  };
  const link = (e: FormEvent) => {
    e.preventDefault();
    void run(() => linkExistingAccount(offer.ticket, linkUsername, password));
  };

  return (
    <>
      <h1 className="h4">Welcome, {offer.display_name}</h1>
      <p className="text-body-secondary small">
        You signed in with {label}
        {offer.email ? ` as ${offer.email}` : ""}. This is your first time here.
      </p>
      {error ? (
        <Alert variant="danger" role="alert" data-testid="sso-error">
          {error}
        </Alert>
      ) : null}
      <Form onSubmit={create} aria-labelledby="sso-new-account">
        <h2 id="sso-new-account" className="h6">
          Create your account
        </h2>
        <Form.Group className="mb-2" controlId="sso-username">
          <Form.Label>Username</Form.Label>
          <Form.Control
            name="username"
            autoCapitalize="none"
            autoComplete="username"
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
          {offer.username_taken ? (
            <Form.Text>Someone here already has the username you use with {label}; this one is free.</Form.Text>
          ) : null}
        </Form.Group>
        <Form.Group className="mb-3" controlId="sso-display-name">
          <Form.Label>Display name</Form.Label>
          <Form.Control
            name="display_name"
            autoComplete="name"
            maxLength={64}
            value={displayName}
            onChange={(e) => setDisplayName(e.target.value)}
          />
        </Form.Group>
        <Button type="submit" className="w-100" disabled={busy || !username.trim()}>
          Create account
        </Button>
      </Form>
      <hr />
      <Form onSubmit={link} aria-labelledby="sso-link-account">
        <h2 id="sso-link-account" className="h6">
          Already have an account here?
        </h2>
        <p className="small text-body-secondary">
          Confirm it with its password: from then on, {label} signs you in to it.
        </p>
        <Form.Group className="mb-2" controlId="sso-link-username">
          <Form.Label>Your username</Form.Label>
          <Form.Control
            name="link_username"
            autoCapitalize="none"
            autoComplete="username"
            value={linkUsername}
            onChange={(e) => setLinkUsername(e.target.value)}
          />
        </Form.Group>
        <Form.Group className="mb-3" controlId="sso-link-password">
          <Form.Label>Its password</Form.Label>
          <Form.Control
            type="password"
            name="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Form.Group>
        <Button
          type="submit"
          variant="outline-primary"
          className="w-100"
          disabled={busy || !linkUsername.trim() || !password}
        >
          Link and sign in
        </Button>
      </Form>
    </>
  );
}
