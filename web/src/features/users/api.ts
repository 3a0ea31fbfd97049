/**
 * People by id, for names that must not depend on the current member list: the sender
 * of an old message may have left. One cache entry per user (`["user", id]`), filled
 * from every list of people the client already has (members, `member.added` events)
 * and otherwise fetched once from GET /users/{id}, which answers for any user id.
 */
import { useQueries, type QueryClient, type UseQueryResult } from "@tanstack/react-query";
import { useCallback, useMemo } from "react";
import { api, ApiError, unwrap } from "../../api/client";
import type { User } from "../../api/types";
import { keys } from "../conversations/keys";

const USER_STALE_MS = 10 * 60_000;

/** Put people the client already knows into the per-user cache (fresher data wins). */
export function rememberUsers(qc: QueryClient, users: readonly User[]): void {
  for (const u of users) qc.setQueryData<User>(keys.user(u.id), u);
}

export function fetchUser(id: string): Promise<User> {
  return unwrap(api.GET("/api/v1/users/{user_id}", { params: { path: { user_id: id } } }));
}

/** A name for someone who could not be looked up. */
export const UNKNOWN_NAME = "Unknown";
/** The server knows no such user any more: the account was closed. */
export const CLOSED_ACCOUNT_NAME = "Deleted account";
/** Shown while a name is being looked up. */
export const PENDING_NAME = "…";

// Module-level, so the combined result keeps its identity while no lookup changes.
function namesOf(results: UseQueryResult<User>[]): string[] {
  return results.map((r) =>
    r.data
      ? r.data.display_name
      : r.error instanceof ApiError && r.error.status === 404
        ? CLOSED_ACCOUNT_NAME
        : r.isError
          ? UNKNOWN_NAME
          : PENDING_NAME,
  );
}

/**
 * Display names for `ids`: from `known` (e.g. the current members) first, else from the
 * per-user cache, fetching the people nobody has told the client about yet.
 */
export function useDisplayNames(ids: readonly string[], known: ReadonlyMap<string, string>): (id: string) => string {
  const missing = useMemo(() => [...new Set(ids)].filter((id) => !known.has(id)).sort(), [ids, known]);
  const looked = useQueries({
    queries: missing.map((id) => ({
      queryKey: keys.user(id),
      queryFn: () => fetchUser(id),
      staleTime: USER_STALE_MS,
      gcTime: 60 * 60_000,
    })),
    combine: namesOf,
  });
  return useCallback(
    (id: string) => {
      const name = known.get(id);
      if (name !== undefined) return name;
      const index = missing.indexOf(id);
      return index >= 0 ? (looked[index] ?? PENDING_NAME) : PENDING_NAME;
    },
    [known, missing, looked],
  );
}

function picturesOf(results: UseQueryResult<User>[]): (string | null)[] {
  return results.map((r) => r.data?.avatar_thumb_url ?? null);
}

/**
 * Profile picture thumbnails for `ids` (null: none, show initials): from `known` (e.g.
 * the current members) first, else from the per-user cache that `useDisplayNames` fills
 * (the same queries: nobody is fetched twice).
 */
export function usePictures(
  ids: readonly string[],
  known: ReadonlyMap<string, string | null> = NO_PICTURES,
): (id: string) => string | null {
  const missing = useMemo(() => [...new Set(ids)].filter((id) => !known.has(id)).sort(), [ids, known]);
  const looked = useQueries({
    queries: missing.map((id) => ({
      queryKey: keys.user(id),
      queryFn: () => fetchUser(id),
      staleTime: USER_STALE_MS,
      gcTime: 60 * 60_000,
    })),
    combine: picturesOf,
  });
  return useCallback(
    (id: string) => {
      if (known.has(id)) return known.get(id) ?? null;
      const index = missing.indexOf(id);
      return index >= 0 ? (looked[index] ?? null) : null;
    },
    [known, missing, looked],
  );
}

const NO_PICTURES: ReadonlyMap<string, string | null> = new Map();
