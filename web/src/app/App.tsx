import { QueryClientProvider } from "@tanstack/react-query";
import { useEffect, type ReactNode } from "react";
import { RouterProvider } from "react-router";
import { AuthProvider, useAuth } from "../features/auth/AuthProvider";
import { CallProvider } from "../features/calls/CallProvider";
import { installDialogFocusTrap } from "../lib/focusTrap";
import { RealtimeProvider } from "../realtime/RealtimeProvider";
import { queryClient } from "./queryClient";
import { router } from "./router";

export function App() {
  useEffect(() => installDialogFocusTrap(), []);
  return (
    <QueryClientProvider client={queryClient}>
      <AuthProvider>
        <RealtimeProvider>
          <Calls>
            <RouterProvider router={router} />
          </Calls>
        </RealtimeProvider>
      </AuthProvider>
    </QueryClientProvider>
  );
}

/** Calls while signed in, one state per user. */
function Calls({ children }: { children: ReactNode }) {
  const { status, me } = useAuth();
  if (status !== "signed-in" || !me) return <>{children}</>;
  return (
    <CallProvider key={me.id} meId={me.id}>
      {children}
    </CallProvider>
  );
}
