/**
 * The profile: display name and picture. Changes (mine, from the mutations; others', from
 * `user.updated` frames) go into every cached place a person appears, through
 * `applyUserUpdate`, so a new name or picture shows everywhere at once.
 */
import { useMutation, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import type { Conversation, Member, User } from "../../api/types";
import { keys } from "../conversations/keys";
import type { CropBox } from "./cropMath";

/** What a profile change can change: the rest (presence, e-mail) has its own ways. */
type Profile = Pick<User, "display_name" | "username" | "avatar_url" | "avatar_thumb_url">;

function profileOf(u: User): Profile {
  return {
    display_name: u.display_name,
    username: u.username,
    avatar_url: u.avatar_url ?? null,
    avatar_thumb_url: u.avatar_thumb_url ?? null,
  };
}

/**
 * Write a user's new profile into the caches: me, the conversation list's direct peers
 * (and who removed me from a group), every member list, the per-user cache and user
 * searches. Presence and my own e-mail address stay as they are.
 */
export function applyUserUpdate(qc: QueryClient, user: User): void {
  const profile = profileOf(user);
  const patch = <T extends User>(u: T): T => (u.id === user.id ? { ...u, ...profile } : u);
  const me = qc.getQueryData<User>(keys.me);
  if (me?.id === user.id) qc.setQueryData<User>(keys.me, patch(me));
  qc.setQueryData<Conversation[]>(keys.conversations, (list) =>
    list?.map((c) => {
      const other = c.other_user?.id === user.id;
      const remover = c.former?.removed_by?.id === user.id;
      if (!other && !remover) return c;
      return {
        ...c,
        ...(other && c.other_user ? { other_user: patch(c.other_user) } : {}),
        ...(remover && c.former?.removed_by ? { former: { ...c.former, removed_by: patch(c.former.removed_by) } } : {}),
      };
    }),
  );
  for (const [key, members] of qc.getQueriesData<Member[]>({ queryKey: ["members"] })) {
    if (!members?.some((m) => m.user.id === user.id)) continue;
    qc.setQueryData<Member[]>(
      key,
      members.map((m) => (m.user.id === user.id ? { ...m, user: patch(m.user) } : m)),
    );
  }
  const known = qc.getQueryData<User>(keys.user(user.id));
  if (known) qc.setQueryData<User>(keys.user(user.id), patch(known));
  for (const [key, found] of qc.getQueriesData<User[]>({ queryKey: ["users", "search"] })) {
    if (found?.some((u) => u.id === user.id)) qc.setQueryData<User[]>(key, found.map(patch));
  }
}

/** Change my display name. */
export function useRename() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (displayName: string): Promise<User> =>
      unwrap(api.PATCH("/api/v1/users/me", { body: { display_name: displayName } })),
    onSuccess: (me) => {
      qc.setQueryData(keys.me, me);
      applyUserUpdate(qc, me);
    },
  });
}

/** Upload a picture, cut to `crop` (image pixels, as displayed) on the server. */
export function useSetPicture() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ file, crop }: { file: Blob; crop: CropBox | null }): Promise<User> => {
      const form = new FormData();
      form.append("file", file, file instanceof File ? file.name : "picture");
      return unwrap(
        api.PUT("/api/v1/users/me/avatar", {
          params: { query: crop ?? {} },
          // Multipart, as the browser builds it (with its boundary).
          body: form as unknown as { file: string },
          bodySerializer: (body: unknown) => body as FormData,
        }),
      );
    },
    onSuccess: (me) => {
      qc.setQueryData(keys.me, me);
      applyUserUpdate(qc, me);
    },
  });
}

/** Remove my picture (initials again). */
export function useRemovePicture() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (): Promise<User> => unwrap(api.DELETE("/api/v1/users/me/avatar")),
    onSuccess: (me) => {
      qc.setQueryData(keys.me, me);
      applyUserUpdate(qc, me);
    },
  });
}
