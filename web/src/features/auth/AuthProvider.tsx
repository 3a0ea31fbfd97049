/** Who is signed in. The refresh token survives reloads; the access token lives in memory. */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, ApiError, unwrap } from "../../api/client";
import * as session from "../../api/session";
import type { TokenPair, User } from "../../api/types";
import { keys } from "../conversations/keys";
import { resetMarkers } from "../messages/api";
import { forgetChanges } from "../messages/changes";
import { forgetDrafts } from "../messages/drafts";
import { forgetOutbox } from "../messages/outbox";
import { forgetOffline, isUnreachable, offlineMe } from "../pwa/offline";

type Status = "checking" | "signed-in" | "signed-out";

interface AuthValue {
  status: Status;
  me: User | undefined;
  login: (username: string, password: string) => Promise<void>;
  register: (username: string, password: string, displayName: string, email?: string, invite?: string) => Promise<void>;
  /** Sign in with a pair issued another way (single sign-on). */
  adopt: (pair: TokenPair) => void;
  logout: () => Promise<void>;
}

const AuthContext = createContext<AuthValue | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const [status, setStatus] = useState<Status>(() => (session.hasSession() ? "checking" : "signed-out"));

  useEffect(() => {
    const off = session.onTokenChange((token) => {
      if (token === null) {
        setStatus("signed-out");
        qc.clear();
        resetMarkers();
        void forgetOffline();
      }
    });
    if (status === "checking") {
      session.getAccessToken().then(
        (token) => setStatus(token ? "signed-in" : "signed-out"),
        // Offline at start-up: keep the refresh token and show the app; it retries.
        () => setStatus("signed-in"),
      );
    }
    return off;
    // Runs once: later changes arrive through onTokenChange.
  }, []);

  const me = useQuery({
    queryKey: keys.me,
    enabled: status === "signed-in",
    // Without network, the user last signed in here (the app opens offline with their list).
    queryFn: () =>
      unwrap(api.GET("/api/v1/users/me")).catch(async (error: unknown) => {
        const saved = isUnreachable(error) ? await offlineMe() : undefined;
        if (!saved) throw error;
        return saved;
      }),
    staleTime: Infinity,
  });

  const login = useCallback(
    async (username: string, password: string) => {
      await session.login(username.trim().toLowerCase(), password);
      qc.clear();
      setStatus("signed-in");
    },
    [qc],
  );

  const register = useCallback(
    async (username: string, password: string, displayName: string, email = "", invite = "") => {
      const name = username.trim().toLowerCase();
      await unwrap(
        api.POST("/api/v1/auth/register", {
          body: {
            username: name,
            password,
            ...(displayName.trim() ? { display_name: displayName.trim() } : {}),
            ...(email.trim() ? { email: email.trim() } : {}),
            ...(invite.trim() ? { invite: invite.trim() } : {}),
          },
        }),
      ).catch((error: unknown) => {
        if (error instanceof ApiError && error.code === "email_taken") throw error;
        if (error instanceof ApiError && error.status === 409) {
          throw new ApiError(`The username “${name}” is taken. Choose another.`, 409, error.code);
        }
        throw error;
      });
      await login(name, password);
    },
    [login],
  );

  const adopt = useCallback(
    (pair: TokenPair) => {
      session.acceptTokens(pair);
      qc.clear();
      setStatus("signed-in");
    },
    [qc],
  );

  const meId = me.data?.id;
  const logout = useCallback(async () => {
    // Signing out on purpose drops unsent messages, queued edits and drafts too (they are
    // this person's, on a shared device).
    if (meId) {
      forgetOutbox(meId);
      forgetChanges(meId);
      forgetDrafts(meId);
    }
    await forgetOffline();
    await session.logout();
  }, [meId]);

  const value = useMemo<AuthValue>(
    () => ({ status, me: me.data, login, register, adopt, logout }),
    [status, me.data, login, register, adopt, logout],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}
