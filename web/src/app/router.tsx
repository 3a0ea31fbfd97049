import { createBrowserRouter } from "react-router";
import { ChatIllustration, EmptyState } from "../components/EmptyState";
import { StartChatButton } from "../features/conversations/StartChatButton";
import { AuthPage } from "../features/auth/AuthPage";
import { OidcCallbackPage } from "../features/auth/OidcCallbackPage";
import { ForgotPasswordPage, ResetPasswordPage } from "../features/auth/PasswordResetPages";
import { ConversationRoute } from "../features/messages/ConversationView";
import { AuditLogPage } from "../features/moderation/AuditLogPage";
import { ReviewQueuePage } from "../features/moderation/ReviewQueuePage";
import { ChatLayout } from "./routes/ChatLayout";

export const router = createBrowserRouter([
  { path: "/login", element: <AuthPage mode="login" /> },
  { path: "/register", element: <AuthPage mode="register" /> },
  { path: "/oidc/callback", element: <OidcCallbackPage /> },
  { path: "/forgot-password", element: <ForgotPasswordPage /> },
  { path: "/reset-password", element: <ResetPasswordPage /> },
  {
    path: "/",
    element: <ChatLayout />,
    children: [
      {
        index: true,
        element: (
          <EmptyState title="Pick up a conversation" illustration={<ChatIllustration />} action={<StartChatButton />}>
            <p className="mb-2">Choose a chat from the list, or find someone to talk to.</p>
          </EmptyState>
        ),
      },
      { path: "c/:conversationId", element: <ConversationRoute /> },
      { path: "moderation", element: <ReviewQueuePage /> },
      { path: "moderation/audit", element: <AuditLogPage /> },
    ],
  },
  { path: "*", element: <EmptyState title="Page not found" /> },
]);
