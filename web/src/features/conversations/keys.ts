export const keys = {
  me: ["me"] as const,
  // GET /users/me/settings (notifications, previews, sound); `settings.updated` frames too.
  settings: ["settings"] as const,
  conversations: ["conversations"] as const,
  conversation: (id: string) => ["conversation", id] as const,
  members: (id: string) => ["members", id] as const,
  timeline: (id: string) => ["timeline", id] as const,
  pins: (id: string) => ["pins", id] as const,
  user: (id: string) => ["user", id] as const,
  userSearch: (q: string) => ["users", "search", q] as const,
};
