/** The tab's single ChatSocket, shared by the provider (lifecycle) and feature hooks (sending). */
import { api, unwrap } from "../api/client";
import { getAccessToken } from "../api/session";
import { ChatSocket, defaultSocketUrl } from "./socket";

let socket: ChatSocket | null = null;
let authLostHandler: (() => void) | null = null;

export function getSocket(): ChatSocket {
  if (!socket) {
    socket = new ChatSocket({
      url: defaultSocketUrl(window.location),
      getToken: (force) => getAccessToken(force),
      fetchEvents: (conversationId, afterSeq, limit) =>
        unwrap(
          api.GET("/api/v1/conversations/{conversation_id}/events", {
            params: { path: { conversation_id: conversationId }, query: { after_seq: afterSeq, limit } },
          }),
        ),
      onAuthLost: () => authLostHandler?.(),
    });
  }
  return socket;
}

export function onSocketAuthLost(handler: (() => void) | null): void {
  authLostHandler = handler;
}
