import { QueryClientProvider } from "@tanstack/react-query";
import { useEffect } from "react";
import { RouterProvider } from "react-router";
import { AuthProvider } from "../features/auth/AuthProvider";
import { UpdatePrompt } from "../features/pwa/UpdatePrompt";
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
          <RouterProvider router={router} />
          <UpdatePrompt />
        </RealtimeProvider>
      </AuthProvider>
    </QueryClientProvider>
  );
}
