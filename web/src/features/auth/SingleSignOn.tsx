import { Card } from "react-bootstrap";
import { BrandMark } from "../../components/BrandMark";
import { ThemeToggle } from "../settings/ThemeToggle";
import { providerLoginUrl, useAuthOptions } from "./sso";

/** "Sign in with …" buttons, one per configured provider (nothing when there are none). */
export function ProviderButtons({ returnTo, divider = false }: { returnTo: string; divider?: boolean }) {
  const options = useAuthOptions();
  const providers = options.data?.providers ?? [];
  if (providers.length === 0) return null;
  return (
    <div className="mt-3">
      {divider ? (
        <div className="d-flex align-items-center gap-2 text-body-secondary small mb-3" aria-hidden="true">
          <hr className="flex-grow-1 my-0" />
          or
          <hr className="flex-grow-1 my-0" />
        </div>
      ) : null}
      <ul className="list-unstyled d-grid gap-2 mb-0" aria-label="Single sign-on">
        {providers.map((p) => (
          <li key={p.name} className="d-grid">
            {/* A plain link: the browser itself goes to the provider and comes back. */}
            <a className="btn btn-outline-primary" href={providerLoginUrl(p.name, returnTo)}>
              Sign in with {p.label}
            </a>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The sign-in page when only single sign-on is allowed (OIDC_ONLY): the buttons alone. */
export function SingleSignOnPage({ returnTo }: { returnTo: string }) {
  return (
    <div
      className="auth-page min-vh-100 d-flex align-items-center justify-content-center p-3 overflow-auto"
      style={{ height: "100%" }}
    >
      <Card className="w-100 shadow-sm" style={{ maxWidth: 400 }}>
        <Card.Body className="p-4">
          <div className="d-flex justify-content-between align-items-center mb-1">
            <h1 className="h4 mb-0 d-flex align-items-center gap-2">
              <BrandMark size={28} />
              Sign in to chatapi
            </h1>
            <ThemeToggle />
          </div>
          <p className="text-body-secondary small mb-0">
            This server signs you in through your organisation. New here? Signing in creates your account.
          </p>
          <ProviderButtons returnTo={returnTo} />
        </Card.Body>
      </Card>
    </div>
  );
}
