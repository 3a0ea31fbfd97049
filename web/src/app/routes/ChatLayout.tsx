import { useCallback, useEffect, useState } from "react";
import { Button, Dropdown, Navbar, Spinner } from "react-bootstrap";
import { Link, Navigate, Outlet, useLocation, useParams } from "react-router";
import { ConnectionBanner } from "../../components/ConnectionBanner";
import { CallBarSlot, CallStageSlot } from "../../features/calls/CallUI";
import { Icon } from "../../components/Icon";
import { SearchDialog } from "../../features/search/SearchDialog";
import { useSearchShortcut } from "../../features/search/useSearchShortcut";
import { BrandMark } from "../../components/BrandMark";
import { useAuth } from "../../features/auth/AuthProvider";
import { CallProvider } from "../../features/calls/CallProvider";
import { useAuthOptions } from "../../features/auth/sso";
import { isMuted, useConversations } from "../../features/conversations/api";
import { ConversationList } from "../../features/conversations/ConversationList";
import { ProfileModal } from "../../features/profile/ProfileModal";
import { useNotifications } from "../../features/notifications/useNotifications";
import { SecurityModal } from "../../features/settings/SecurityModal";
import { SettingsModal } from "../../features/settings/SettingsModal";
import { Avatar } from "../../components/Avatar";
import { BlockedModal } from "../../features/moderation/BlockedModal";
import { isModerator } from "../../features/moderation/api";
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
  const [profile, setProfile] = useState(false);
  const [blockedList, setBlockedList] = useState(false);
  const hasProviders = (useAuthOptions().data?.providers.length ?? 0) > 0;
  const [searching, setSearching] = useState(false);
  useSearchShortcut(useCallback(() => setSearching(status === "signed-in"), [status]));

  if (status === "signed-out") return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  if (status === "checking" || !me) {
    return (
      <div className="h-100 d-flex align-items-center justify-content-center">
        <Spinner animation="border" role="status" aria-label="Loading" />
      </div>
    );
  }

  // A conversation or a moderation page takes the main pane (on phones: the whole screen).
  const open = Boolean(conversationId) || location.pathname.startsWith("/moderation");
  // Calls while signed in, one state per user: here, inside the signed-in pages, so that
  // signing in or out never changes the tree above the router (that remounted every page).
  return (
    <CallProvider key={me.id} meId={me.id}>
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
                className="account-toggle d-inline-flex align-items-center gap-2 text-body border"
                style={{ maxWidth: "12rem" }}
                aria-label={`${me?.display_name ?? "Account"}: account menu`}
                data-testid="account-menu"
              >
                {/* The picture only: initials would be text the button's name does not hold. */}
                {me?.avatar_thumb_url ? (
                  <Avatar name={me.display_name} seed={me.id} imageUrl={me.avatar_thumb_url} small />
                ) : null}
                <span className="text-truncate">{me?.display_name ?? "Account"}</span>
              </Dropdown.Toggle>
              <Dropdown.Menu>
                <Dropdown.ItemText className="small text-body-secondary">@{me?.username}</Dropdown.ItemText>
                <Dropdown.Divider />
                <Dropdown.Item as="button" onClick={followSystem} disabled={followsSystem}>
                  {followsSystem ? "Colours follow the system" : "Follow the system's colours"}
                </Dropdown.Item>
                <Dropdown.Item as="button" onClick={() => setProfile(true)}>
                  Profile…
                </Dropdown.Item>
                <Dropdown.Item as="button" onClick={() => setSettings(true)}>
                  Settings…
                </Dropdown.Item>
                <Dropdown.Item as="button" onClick={() => setSecurity(true)}>
                  Security…
                </Dropdown.Item>
                <Dropdown.Item as="button" onClick={() => setBlockedList(true)}>
                  Blocked people…
                </Dropdown.Item>
                {isModerator(me?.role) ? (
                  <Dropdown.Item as={Link} to="/moderation">
                    Review queue
                  </Dropdown.Item>
                ) : null}
                {me?.role === "admin" ? (
                  <Dropdown.Item as={Link} to="/moderation/audit">
                    Audit log
                  </Dropdown.Item>
                ) : null}
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
        <ProfileModal show={profile} onHide={() => setProfile(false)} />
        <SecurityModal show={security} onHide={() => setSecurity(false)} />
        <SettingsModal show={settings} onHide={() => setSettings(false)} />
        <BlockedModal show={blockedList} onHide={() => setBlockedList(false)} />
        <SearchDialog show={searching} onHide={() => setSearching(false)} meId={me?.id} />
        <SignInMethodsModal show={signInMethods} onHide={() => setSignInMethods(false)} returnTo={location.pathname} />
        <ConnectionBanner />
        <CallBarSlot openConversationId={conversationId} />
        <div className="d-flex flex-grow-1 min-h-0">
          <aside className={`sidebar border-end flex-column ${open ? "d-none d-md-flex" : "d-flex"}`}>
            <ConversationList />
          </aside>
          <main id="main" className={`flex-grow-1 min-w-0 min-h-0 flex-column ${open ? "d-flex" : "d-none d-md-flex"}`}>
            <CallStageSlot openConversationId={conversationId} />
            <Outlet />
          </main>
        </div>
      </div>
    </CallProvider>
  );
}
