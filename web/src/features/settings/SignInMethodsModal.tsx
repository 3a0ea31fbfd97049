import { useState } from "react";
import { Alert, Badge, Button, ListGroup, Modal, Spinner } from "react-bootstrap";
import { startLinking, useAuthOptions, useSignInMethods, useUnlinkProvider } from "../auth/sso";

/**
 * How the account signs in: its password (or none) and the single sign-on providers, each
 * linked or not. Linking goes to the provider and comes back here; unlinking the only way
 * in is refused by the server, which says why.
 */
export function SignInMethodsModal({
  show,
  onHide,
  returnTo,
}: {
  show: boolean;
  onHide: () => void;
  returnTo: string;
}) {
  const options = useAuthOptions();
  const methods = useSignInMethods(show);
  const unlink = useUnlinkProvider();
  const [error, setError] = useState<string | null>(null);
  const [leaving, setLeaving] = useState<string | null>(null);
  const providers = options.data?.providers ?? [];
  const identities = methods.data?.identities ?? [];
  // Identities of providers no longer configured can still be unlinked.
  const rows = [
    ...providers.map((p) => ({
      name: p.name,
      label: p.label,
      identity: identities.find((i) => i.provider === p.name),
    })),
    ...identities
      .filter((i) => !providers.some((p) => p.name === i.provider))
      .map((i) => ({ name: i.provider, label: i.label, identity: i })),
  ];

  async function link(provider: string) {
    setError(null);
    setLeaving(provider);
    try {
      await startLinking(provider, returnTo);
    } catch (err) {
      setLeaving(null);
      setError(err instanceof Error ? err.message : "Linking did not start.");
    }
  }

  async function remove(provider: string) {
    setError(null);
    try {
      await unlink.mutateAsync(provider);
    } catch (err) {
      setError(err instanceof Error ? err.message : "Unlinking did not work.");
    }
  }

  return (
    <Modal show={show} onHide={onHide} aria-labelledby="sign-in-methods-title" fullscreen="sm-down">
      <Modal.Header closeButton>
        <Modal.Title id="sign-in-methods-title" as="h2" className="h5">
          Sign-in methods
        </Modal.Title>
      </Modal.Header>
      <Modal.Body>
        {error ? (
          <Alert variant="danger" role="alert" data-testid="sign-in-methods-error">
            {error}
          </Alert>
        ) : null}
        {methods.isPending ? (
          <Spinner size="sm" animation="border" role="status" aria-label="Loading" />
        ) : (
          <ListGroup>
            <ListGroup.Item className="d-flex justify-content-between align-items-center">
              <span>Password</span>
              {methods.data?.password ? (
                <Badge bg="secondary">Set</Badge>
              ) : (
                <span className="small text-body-secondary">None: you sign in with a provider</span>
              )}
            </ListGroup.Item>
            {rows.map(({ name, label, identity }) => (
              <ListGroup.Item key={name} className="d-flex justify-content-between align-items-center gap-2">
                <div className="min-w-0">
                  <div>{label}</div>
                  <div className="small text-body-secondary text-truncate">
                    {identity ? `Linked${identity.email ? ` as ${identity.email}` : ""}` : "Not linked"}
                  </div>
                </div>
                {identity ? (
                  <Button
                    size="sm"
                    variant="outline-danger"
                    disabled={unlink.isPending}
                    onClick={() => void remove(name)}
                    aria-label={`Unlink ${label}`}
                  >
                    Unlink
                  </Button>
                ) : (
                  <Button
                    size="sm"
                    variant="outline-primary"
                    disabled={leaving !== null}
                    onClick={() => void link(name)}
                    aria-label={`Link ${label}`}
                  >
                    {leaving === name ? "Opening…" : "Link"}
                  </Button>
                )}
              </ListGroup.Item>
            ))}
          </ListGroup>
        )}
      </Modal.Body>
    </Modal>
  );
}
