import type { SearchHit } from "../../api/types";

export interface HitGroup {
  conversationId: string;
  hits: SearchHit[];
}

/**
 * Hits grouped by conversation, for showing them under one heading each: the groups in
 * the order of their newest hit, the hits inside a group newest first (the server's
 * order). A hit seen twice (pages that overlap while new messages arrive) is kept once.
 */
export function groupHits(hits: readonly SearchHit[]): HitGroup[] {
  const groups = new Map<string, HitGroup>();
  const seen = new Set<string>();
  for (const hit of hits) {
    if (seen.has(hit.message.id)) continue;
    seen.add(hit.message.id);
    let group = groups.get(hit.conversation_id);
    if (!group) {
      group = { conversationId: hit.conversation_id, hits: [] };
      groups.set(hit.conversation_id, group);
    }
    group.hits.push(hit);
  }
  return [...groups.values()];
}

/** Where a hit opens: its conversation, at its message. */
export function hitPath(hit: SearchHit): string {
  return `/c/${hit.conversation_id}?at=${hit.seq}`;
}
