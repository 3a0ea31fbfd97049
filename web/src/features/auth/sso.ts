/**
 * Single sign-on (OpenID Connect): which providers there are, the one-time code the
 * server hands back at /oidc/callback, a new person's signup or account linking, and an
 * account's linked providers. The browser goes to the provider by plain navigation;
 * chatapi's tokens only ever arrive in a POST answer, never in a URL.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, publicApi, unwrap } from "../../api/client";
import type { AuthOptions, OidcOutcome, SignInMethods, TokenPair } from "../../api/types";

export const ssoKeys = {
  options: ["auth", "options"] as const,
  methods: ["me", "sign-in-methods"] as const,
};

/** Where the sign-in with a provider starts: a navigation, so it works with a plain link. */
export function providerLoginUrl(name: string, returnTo: string): string {
  const query = new URLSearchParams({ return_to: safeReturnTo(returnTo) });
  return `/api/v1/auth/oidc/${encodeURIComponent(name)}/login?${query.toString()}`;
}

/** A path of this site (the server checks it again): anything else is "/". */
export function safeReturnTo(path: string | null | undefined): string {
  if (!path || !path.startsWith("/") || path.startsWith("//") || path.includes("\\")) return "/";
  return path;
}

export function useAuthOptions() {
  return useQuery({
    queryKey: ssoKeys.options,
    queryFn: (): Promise<AuthOptions> => unwrap(publicApi.GET("/api/v1/auth/providers")),
    staleTime: 5 * 60_000,
    retry: 1,
  });
}

// One exchange per code, however often a component mounts (React's StrictMode mounts
// twice in development): the code works once.
const exchanges = new Map<string, Promise<OidcOutcome>>();

/** The one-time code of /oidc/callback#code=… for what the sign-in came to. */
export function exchangeCode(code: string): Promise<OidcOutcome> {
  let pending = exchanges.get(code);
  if (!pending) {
    pending = unwrap(publicApi.POST("/api/v1/auth/oidc/exchange", { body: { code } }));
    exchanges.set(code, pending);
  }
  return pending;
}

export function signUpWithTicket(ticket: string, username: string, displayName: string): Promise<TokenPair> {
  const name = displayName.trim();
  return unwrap(
    publicApi.POST("/api/v1/auth/oidc/signup", {
      body: { ticket, username: username.trim().toLowerCase(), ...(name ? { display_name: name } : {}) },
    }),
  );
}

export function linkExistingAccount(ticket: string, username: string, password: string): Promise<TokenPair> {
  return unwrap(
    publicApi.POST("/api/v1/auth/oidc/link-account", {
      body: { ticket, username: username.trim().toLowerCase(), password },
    }),
  );
}

export function useSignInMethods(enabled: boolean) {
  return useQuery({
    queryKey: ssoKeys.methods,
    enabled,
    queryFn: (): Promise<SignInMethods> => unwrap(api.GET("/api/v1/users/me/sign-in-methods")),
  });
}

/** Link a provider to the signed-in account: off to the provider, back to `returnTo`. */
export async function startLinking(provider: string, returnTo: string): Promise<void> {
  const { authorization_url } = await unwrap(
    api.POST("/api/v1/auth/oidc/{provider}/link", {
      params: { path: { provider } },
      body: { return_to: safeReturnTo(returnTo) },
    }),
  );
  window.location.assign(authorization_url);
}

export function useUnlinkProvider() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (provider: string) =>
      unwrap(api.DELETE("/api/v1/users/me/identities/{provider}", { params: { path: { provider } } })),
    onSettled: () => qc.invalidateQueries({ queryKey: ssoKeys.methods }),
  });
}
