/** Message search: pages of hits from GET /api/v1/search/messages, newest first. */
import { useInfiniteQuery } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import type { SearchResults } from "../../api/types";

export const SEARCH_PAGE = 20;
/** The server's limit; a longer query is cut here rather than refused. */
export const MAX_QUERY_CHARS = 200;

/** Whether a query has something to look for: a letter or a digit. */
export function searchable(q: string): boolean {
  return /[\p{L}\p{N}]/u.test(q);
}

export function useMessageSearch(q: string) {
  const query = q.trim().slice(0, MAX_QUERY_CHARS);
  return useInfiniteQuery({
    queryKey: ["search", "messages", query] as const,
    enabled: searchable(query),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/v1/search/messages", {
          params: { query: { q: query, limit: SEARCH_PAGE, ...(pageParam ? { before: pageParam } : {}) } },
        }),
      ),
    getNextPageParam: (last: SearchResults) => last.next_before,
    staleTime: 0,
    gcTime: 60_000,
  });
}
