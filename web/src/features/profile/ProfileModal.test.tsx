import { QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import type { Conversation, User } from "../../api/types";
import { keys } from "../conversations/keys";
import { ME, user } from "../../test/factories";
import { ProfileModal } from "./ProfileModal";

// `me` as the AuthProvider gives it: the cached profile, re-rendered when it changes.
vi.mock("../auth/AuthProvider", () => ({
  useAuth: () => ({
    me: useQuery<User>({ queryKey: ["me"], queryFn: () => Promise.reject(new Error("cached only")), enabled: false })
      .data,
  }),
}));

const PICTURE = "/api/v1/users/me/avatar?version=1&exp=1&sig=s";
const THUMB = "/api/v1/users/me/avatar/thumbnail?version=1&exp=1&sig=s";

function answer(status: number, body?: unknown) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

function server(routes: Record<string, (body: unknown) => Response>) {
  const sent: { route: string; body: unknown }[] = [];
  const respond = (method: string) =>
    (async (path: string, init?: { body?: unknown }) => {
      const route = `${method} ${path}`;
      sent.push({ route, body: init?.body });
      const handler = routes[route];
      const response = handler ? handler(init?.body) : answer(404, { detail: "nope", code: "not_found" });
      const text = await response.clone().text();
      const parsed: unknown = text ? JSON.parse(text) : undefined;
      return response.ok ? { data: parsed, response } : { error: parsed, response };
    }) as never;
  vi.spyOn(api, "PATCH").mockImplementation(respond("PATCH"));
  vi.spyOn(api, "DELETE").mockImplementation(respond("DELETE"));
  return sent;
}

function renderModal(me: User) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  qc.setQueryData(keys.me, me);
  render(
    <QueryClientProvider client={qc}>
      <ProfileModal show onHide={() => {}} />
    </QueryClientProvider>,
  );
  return qc;
}

afterEach(() => vi.restoreAllMocks());

describe("the Profile dialog", () => {
  it("renames me: the new name is sent and shown, and the lists I appear in follow", async () => {
    const me = { ...user(ME, "Me"), email: "me@example.com" };
    const renamed = { ...me, display_name: "Ada Lovelace" };
    const sent = server({ "PATCH /api/v1/users/me": () => answer(200, renamed) });
    const qc = renderModal(me);
    qc.setQueryData<Conversation[]>(keys.conversations, []);
    qc.setQueryData(keys.members("c"), [{ user: me, role: "member", last_read_seq: 0, last_delivered_seq: 0 }]);
    const input = screen.getByTestId("display-name-input");
    await userEvent.clear(input);
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(screen.getByText("Type a name people will know you by.")).toBeTruthy();
    expect(sent).toEqual([]);
    await userEvent.type(input, "  Ada Lovelace ");
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByTestId("name-saved");
    expect(sent).toEqual([{ route: "PATCH /api/v1/users/me", body: { display_name: "Ada Lovelace" } }]);
    expect((input as HTMLInputElement).value).toBe("Ada Lovelace");
    expect(qc.getQueryData<User>(keys.me)?.display_name).toBe("Ada Lovelace");
    const members = qc.getQueryData<{ user: User }[]>(keys.members("c"));
    expect(members?.[0]?.user.display_name).toBe("Ada Lovelace");
  });

  it("shows my picture large, and removes it: initials again", async () => {
    const me = { ...user(ME, "Grace Hopper"), avatar_url: PICTURE, avatar_thumb_url: THUMB };
    const sent = server({
      "DELETE /api/v1/users/me/avatar": () => answer(200, { ...me, avatar_url: null, avatar_thumb_url: null }),
    });
    renderModal(me);
    const picture = document.querySelector(".avatar-lg img");
    expect(picture?.getAttribute("src")).toBe(PICTURE);
    await userEvent.click(screen.getByRole("button", { name: "Remove picture" }));
    await screen.findByRole("button", { name: "Upload a picture…" });
    expect(sent.map((s) => s.route)).toEqual(["DELETE /api/v1/users/me/avatar"]);
    expect(document.querySelector(".avatar-lg img")).toBeNull();
    expect(document.querySelector(".avatar-lg")?.textContent).toBe("GH");
  });

  it("says why a removal failed", async () => {
    const me = { ...user(ME, "Grace"), avatar_url: PICTURE, avatar_thumb_url: THUMB };
    server({
      "DELETE /api/v1/users/me/avatar": () => answer(503, { detail: "Try again in a moment.", code: "unavailable" }),
    });
    renderModal(me);
    await userEvent.click(screen.getByRole("button", { name: "Remove picture" }));
    await waitFor(() => expect(screen.getByTestId("picture-error").textContent).toContain("Try again"));
  });
});
