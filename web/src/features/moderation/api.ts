/**
 * Trust and safety: blocks, reports, message requests, and the moderators' review queue
 * and audit log. Blocks live in one cache entry (`["blocks"]`): the message list
 * collapses blocked people's messages from it.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import type { components } from "../../api/schema.gen";
import { keys } from "../conversations/keys";

type Schemas = components["schemas"];
export type Block = Schemas["BlockRead"];
export type ReportReason = Schemas["ReportCreate"]["reason"];
export type QueueItem = Schemas["QueueItemRead"];
export type ModerationActionName = Schemas["ModerationAction"]["action"];
export type AuditEntry = Schemas["AuditRead"];

export const moderationKeys = {
  blocks: ["blocks"] as const,
  queue: (status: "open" | "resolved") => ["moderation", "queue", status] as const,
  audit: ["moderation", "audit"] as const,
};

/** The people I blocked. */
export function useBlocks(enabled = true) {
  return useQuery({
    queryKey: moderationKeys.blocks,
    enabled,
    staleTime: 60_000,
    queryFn: (): Promise<Block[]> => unwrap(api.GET("/api/v1/users/me/blocks")),
  });
}

/** The ids of the people I blocked, for collapsing their messages. */
export function useBlockedIds(enabled = true): ReadonlySet<string> {
  const blocks = useBlocks(enabled).data;
  return new Set((blocks ?? []).map((b) => b.user.id));
}

export function useSetBlocked() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ userId, blocked }: { userId: string; blocked: boolean }) => {
      const params = { params: { path: { user_id: userId } } };
      if (blocked) await unwrap(api.PUT("/api/v1/users/me/blocks/{user_id}", params));
      else await unwrap(api.DELETE("/api/v1/users/me/blocks/{user_id}", params));
    },
    onSettled: () => qc.invalidateQueries({ queryKey: moderationKeys.blocks }),
  });
}

export interface ReportTarget {
  messageId?: string;
  userId?: string;
  /** How the dialog names what is reported. */
  label: string;
}

export function useReport() {
  return useMutation({
    mutationFn: ({ target, reason, text }: { target: ReportTarget; reason: ReportReason; text: string }) =>
      unwrap(
        api.POST("/api/v1/reports", {
          body: {
            message_id: target.messageId ?? null,
            user_id: target.userId ?? null,
            reason,
            text,
          },
        }),
      ),
  });
}

/** Accept a message request: the chat becomes a normal one. */
export function useAcceptRequest(conversationId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/conversations/{conversation_id}/accept", {
          params: { path: { conversation_id: conversationId } },
        }),
      ),
    onSuccess: async (conversation) => {
      qc.setQueryData(keys.conversation(conversationId), conversation);
      // History again: its attachments were withheld until now.
      await Promise.all([
        qc.invalidateQueries({ queryKey: keys.conversations }),
        qc.invalidateQueries({ queryKey: keys.timeline(conversationId) }),
      ]);
    },
  });
}

export function useQueue(status: "open" | "resolved") {
  return useQuery({
    queryKey: moderationKeys.queue(status),
    queryFn: (): Promise<QueueItem[]> =>
      unwrap(api.GET("/api/v1/moderation/queue", { params: { query: { status, limit: 100 } } })),
  });
}

export function useQueueAction() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({
      item,
      action,
      reason,
      suspendHours,
    }: {
      item: QueueItem;
      action: ModerationActionName;
      reason: string;
      suspendHours?: number | null;
    }) =>
      unwrap(
        api.POST("/api/v1/moderation/queue/{item_id}/actions", {
          params: { path: { item_id: item.id } },
          body: { action, reason, suspend_hours: suspendHours ?? null },
        }),
      ),
    onSettled: () => qc.invalidateQueries({ queryKey: ["moderation"] }),
  });
}

export function useAudit() {
  return useQuery({
    queryKey: moderationKeys.audit,
    queryFn: (): Promise<AuditEntry[]> =>
      unwrap(api.GET("/api/v1/moderation/audit", { params: { query: { limit: 200 } } })),
  });
}

export function isModerator(role: string | null | undefined): boolean {
  return role === "moderator" || role === "admin";
}

export type Invite = Schemas["InviteRead"];
export type InstanceRole = NonNullable<Schemas["RoleUpdate"]["role"]>;

/** An admin gives someone (named by username) an instance role, or takes it away. */
export function useSetRole() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ username, role }: { username: string; role: InstanceRole | null }) => {
      const name = username.trim().replace(/^@/, "").toLowerCase();
      const found = await unwrap(api.GET("/api/v1/users", { params: { query: { q: name, limit: 50 } } }));
      const target = found.find((u) => u.username === name);
      if (!target) throw new Error(`Nobody is called @${name}.`);
      return unwrap(
        api.PUT("/api/v1/admin/users/{user_id}/role", {
          params: { path: { user_id: target.id } },
          body: { role, reason: "" },
        }),
      );
    },
    onSettled: () => qc.invalidateQueries({ queryKey: moderationKeys.audit }),
  });
}

/** An admin makes an invite code (REGISTRATION=invite). */
export function useCreateInvite() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: { max_uses: number; expires_in_hours: number }) =>
      unwrap(api.POST("/api/v1/admin/invites", { body })),
    onSettled: () => qc.invalidateQueries({ queryKey: moderationKeys.audit }),
  });
}
