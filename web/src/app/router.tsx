import { createBrowserRouter } from "react-router";
import { EmptyState } from "../components/EmptyState";
import { AuthPage } from "../features/auth/AuthPage";
import { OidcCallbackPage } from "../features/auth/OidcCallbackPage";
import { ConversationRoute } from "../features/messages/ConversationView";
import { ChatLayout } from "./routes/ChatLayout";

export const router = createBrowserRouter([
  { path: "/login", element: <AuthPage mode="login" /> },
  { path: "/register", element: <AuthPage mode="register" /> },
  { path: "/oidc/callback", element: <OidcCallbackPage /> },
  {
    path: "/",
    element: <ChatLayout />,
    children: [
      {
        index: true,
        element: (
          <EmptyState title="Pick a conversation">
            <p className="small">Or search for someone to start one.</p>
          </EmptyState>
        ),
      },
      { path: "c/:conversationId", element: <ConversationRoute /> },
    ],
  },
  { path: "*", element: <EmptyState title="Page not found" /> },
]);
