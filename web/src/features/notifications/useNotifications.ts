import { useEffect, useRef } from "react";
import { subscribePush, useSettings } from "./api";
import { closeChatNotification, notificationPermission } from "./show";

/**
 * While signed in: the settings are loaded (the frame handler reads them from the cache),
 * this browser's push subscription is renewed once when notifications are on and allowed
 * here, and opening a conversation clears its notification.
 */
export function useNotifications(signedIn: boolean, openConversation: string | undefined): void {
  const settings = useSettings(signedIn);
  const on = settings.data?.notifications === true;
  const renewed = useRef(false);
  useEffect(() => {
    if (!on || renewed.current || notificationPermission() !== "granted") return;
    renewed.current = true;
    void subscribePush().catch(() => undefined);
  }, [on]);
  useEffect(() => {
    if (openConversation) void closeChatNotification(openConversation).catch(() => undefined);
  }, [openConversation]);
}
