import { useCallback, useEffect, useState } from "react";
import { Button, Dropdown, Navbar, Spinner } from "react-bootstrap";
import { Navigate, Outlet, useLocation, useParams } from "react-router";
import { ConnectionBanner } from "../../components/ConnectionBanner";
import { Icon } from "../../components/Icon";
import { SearchDialog } from "../../features/search/SearchDialog";
import { useSearchShortcut } from "../../features/search/useSearchShortcut";
import { BrandMark } from "../../components/BrandMark";
import { useAuth } from "../../features/auth/AuthProvider";
import { useAuthOptions } from "../../features/auth/sso";
import { isMuted, useConversations } from "../../features/conversations/api";
import { ConversationList } from "../../features/conversations/ConversationList";
import { useNotifications } from "../../features/notifications/useNotifications";
import { SecurityModal } from "../../features/settings/SecurityModal";
import { SettingsModal } from "../../features/settings/SettingsModal";
import { SignInMethodsModal } from "../../features/settings/SignInMethodsModal";
import { ThemeToggle } from "../../features/settings/ThemeToggle";
import { useTheme } from "../../lib/theme";

export function ChatLayout() {
  const { status, me, logout } = useAuth();
  const { followsSystem, followSystem } = useTheme();
  const conversations = useConversations(status === "signed-in");
  // Muted conversations count only where they mention me.
  const unread = (conversations.data ?? []).reduce(
    (n, c) => n + (isMuted(c) ? (c.unread_mentions ?? 0) : c.unread_count),
    0,
  );
  useEffect(() => {
    document.title = unread ? `(${unread}) chatapi` : "chatapi";
  }, [unread]);
  const { conversationId } = useParams();
  const location = useLocation();
  // Back from linking a provider (OidcCallbackPage): the dialog opens again to show it.
  const [signInMethods, setSignInMethods] = useState(
    () => (location.state as { signInMethods?: boolean } | null)?.signInMethods === true,
  );
  const [security, setSecurity] = useState(false);
  const [settings, setSettings] = useState(false);
  useNotifications(status === "signed-in", conversationId);
  const hasProviders = (useAuthOptions().data?.providers.length ?? 0) > 0;
  const [searching, setSearching] = useState(false);
  useSearchShortcut(useCallback(() => setSearching(status === "signed-in"), [status]));

  if (status === "checking") {
    return (
      <div className="h-100 d-flex align-items-center justify-content-center">
        <Spinner animation="border" role="status" aria-label="Loading" />
      </div>
    );
  }
  if (status === "signed-out") return <Navigate to="/login" replace state={{ from: location.pathname }} />;

  const open = Boolean(conversationId);
  return (
    <div className={`app-shell d-flex flex-column${open ? " chat-open" : ""}`}>
      <a href="#main" className="visually-hidden-focusable position-absolute p-2 bg-body z-3">
        Skip to conversation
      </a>
      <Navbar className="app-navbar border-bottom px-2 py-1 flex-shrink-0" as="header">
        <Navbar.Brand className="brand fw-bold fs-6 me-auto d-flex align-items-center gap-2">
          <BrandMark />
          chatapi
        </Navbar.Brand>
        <div className="d-flex align-items-center gap-2 min-w-0">
          <Button
            variant="outline-secondary"
            size="sm"
            className="text-body border"
            onClick={() => setSearching(true)}
            aria-keyshortcuts="Control+K /"
            title="Search messages (Ctrl+K or /)"
          >
            <Icon name="search" /> <span className="d-none d-sm-inline">Search</span>
            <span className="visually-hidden d-sm-none">Search messages</span>
          </Button>
          <ThemeToggle />
          <Dropdown align="end">
            <Dropdown.Toggle
              variant="outline-secondary"
              size="sm"
              className="text-truncate text-body border"
              style={{ maxWidth: "12rem" }}
              aria-label={`${me?.display_name ?? "Account"}: account menu`}
            >
              {me?.display_name ?? "Account"}
            </Dropdown.Toggle>
            <Dropdown.Menu>
              <Dropdown.ItemText className="small text-body-secondary">@{me?.username}</Dropdown.ItemText>
              <Dropdown.Divider />
              <Dropdown.Item as="button" onClick={followSystem} disabled={followsSystem}>
                {followsSystem ? "Colours follow the system" : "Follow the system's colours"}
              </Dropdown.Item>
              <Dropdown.Item as="button" onClick={() => setSettings(true)}>
                Settings…
              </Dropdown.Item>
              <Dropdown.Item as="button" onClick={() => setSecurity(true)}>
                Security…
              </Dropdown.Item>
              {hasProviders ? (
                <Dropdown.Item as="button" onClick={() => setSignInMethods(true)}>
                  Sign-in methods…
                </Dropdown.Item>
              ) : null}
              <Dropdown.Item as="button" onClick={() => void logout()}>
                Sign out
              </Dropdown.Item>
            </Dropdown.Menu>
          </Dropdown>
        </div>
      </Navbar>
      <SecurityModal show={security} onHide={() => setSecurity(false)} />
      <SettingsModal show={settings} onHide={() => setSettings(false)} />
      <SearchDialog show={searching} onHide={() => setSearching(false)} meId={me?.id} />
      <SignInMethodsModal show={signInMethods} onHide={() => setSignInMethods(false)} returnTo={location.pathname} />
      <ConnectionBanner />
      <div className="d-flex flex-grow-1 min-h-0">
        <aside className={`sidebar border-end flex-column ${open ? "d-none d-md-flex" : "d-flex"}`}>
          <ConversationList />
        </aside>
        <main id="main" className={`flex-grow-1 min-w-0 min-h-0 flex-column ${open ? "d-flex" : "d-none d-md-flex"}`}>
          <Outlet />
        </main>
      </div>
    </div>
  );
}
