/**
 * The typed REST client: openapi-fetch over the paths generated from the server's
 * /openapi.json, with the bearer token added and one refresh-and-retry on 401.
 */
import createClient from "openapi-fetch";
import type { paths } from "./schema.gen";
import { describeError, errorText, getAccessToken } from "./session";

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

async function authFetch(request: Request): Promise<Response> {
  // Keep an unread copy: a retried request needs its body again.
  const retry = request.clone();
  const token = await getAccessToken();
  if (token) request.headers.set("Authorization", `Bearer ${token}`);
  const response = await fetch(request);
  if (response.status !== 401 || !token) return response;
  const fresh = await getAccessToken(true);
  if (!fresh) return response;
  retry.headers.set("Authorization", `Bearer ${fresh}`);
  return fetch(retry);
}

export const api = createClient<paths>({ baseUrl: "", fetch: authFetch });

/**
 * The same client without the bearer token or the refresh-and-retry: for the sign-in
 * steps that carry no session (single sign-on's exchange, signup and account linking).
 */
export const publicApi = createClient<paths>({
  // Absolute (the page's own origin), so requests can be built outside a browser too.
  baseUrl: globalThis.location?.origin ?? "",
  fetch: (request) => fetch(request),
});

/**
 * Unwrap an openapi-fetch result: the data, or an ApiError with the server's words.
 * 204 answers give `undefined`.
 */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch {
    throw new ApiError("The server cannot be reached.", 0, "network");
  }
  const { data, error, response } = result;
  if (response.ok) return data as T;
  if (error !== undefined) {
    const { message, code } = errorText(error, response.status, response.headers.get("Retry-After"));
    throw new ApiError(message, response.status, code);
  }
  const { message, code } = await describeError(response);
  throw new ApiError(message, response.status, code);
}

/** The data layer's base URL for endpoints openapi-fetch does not cover (multipart upload). */
export const API_BASE = "/api/v1";
