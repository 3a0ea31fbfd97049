import { QueryClient } from "@tanstack/react-query";
import { ApiError } from "../api/client";

/** The one cache of server state; REST answers and socket frames both write here. */
export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 30_000,
      retry: (failures, error) =>
        !(error instanceof ApiError && error.status >= 400 && error.status < 500) && failures < 3,
      refetchOnWindowFocus: false,
    },
  },
});
