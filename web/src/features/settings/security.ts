import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import type { SignedInSession, User } from "../../api/types";
import { keys } from "../conversations/keys";

export const securityKeys = { sessions: ["me", "sessions"] as const };

/** The sessions signed in to the account (one per sign-in on a device), newest use first. */
export function useSessions(enabled: boolean) {
  return useQuery({
    queryKey: securityKeys.sessions,
    enabled,
    queryFn: (): Promise<SignedInSession[]> => unwrap(api.GET("/api/v1/users/me/sessions")),
  });
}

/** Sign out one device, or (`null`) every session but this one. */
export function useSignOutSessions() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (sessionId: string | null) =>
      sessionId === null
        ? unwrap(api.DELETE("/api/v1/users/me/sessions"))
        : unwrap(api.DELETE("/api/v1/users/me/sessions/{session_id}", { params: { path: { session_id: sessionId } } })),
    onSettled: () => qc.invalidateQueries({ queryKey: securityKeys.sessions }),
  });
}

/** Change the password; the server signs out every other session. */
export function useChangePassword() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: { current_password: string; new_password: string }) =>
      unwrap(api.POST("/api/v1/users/me/password", { body })),
    onSuccess: () => qc.invalidateQueries({ queryKey: securityKeys.sessions }),
  });
}

/** "Firefox 133 on Windows", "curl", or "Unknown device". */
export function deviceName(session: Pick<SignedInSession, "browser" | "os">): string {
  if (session.browser && session.os) return `${session.browser} on ${session.os}`;
  return session.browser ?? session.os ?? "Unknown device";
}

/** Set (or with null, remove) the account's e-mail address, where reset links go. */
export function useChangeEmail() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (email: string | null): Promise<User> => unwrap(api.PATCH("/api/v1/users/me", { body: { email } })),
    onSuccess: (me) => qc.setQueryData(keys.me, me),
  });
}

/** Close the account (with its password, when it has one). */
export function useCloseAccount() {
  return useMutation({
    mutationFn: (password: string | null) =>
      unwrap(api.DELETE("/api/v1/users/me", { body: password === null ? {} : { password } })),
  });
}
