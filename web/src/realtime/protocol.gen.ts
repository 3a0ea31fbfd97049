/**
 * Generated from the server's AsyncAPI document (/asyncapi.json, built from
 * src/chatapi/realtime/protocol.py) by web/scripts/gen-protocol.mjs: run `make gen-protocol`.
 * Do not edit by hand: tests/test_asyncapi.py fails when this file is stale.
 * Prose, examples and guarantees: docs/protocol.md.
 */

export interface components {
  schemas: {
    /**
     * Auth
     * @description Authenticate the socket, first within the auth timeout, then again to renew.
     */
    Auth: {
      /** Token */
      token: string;
      /**
       * Type
       * @constant
       */
      type: "auth";
    };
    /**
     * AuthRenewed
     * @description A later `auth` frame renewed the socket's token: the new expiry.
     */
    AuthRenewed: {
      /**
       * Expires At
       * Format: date-time
       */
      expires_at: string;
      /**
       * Type
       * @default auth.renewed
       * @constant
       */
      type: "auth.renewed";
    };
    /**
     * ConversationCreatedFrame
     * @description A conversation you belong to was just created (not a timeline event: no seq; its
     *     first event is seq 1).
     */
    ConversationCreatedFrame: {
      /**
       * Conversation Id
       * Format: uuid
       */
      conversation_id: string;
      /**
       * Kind
       * @enum {string}
       */
      kind: "direct" | "group";
      /** Title */
      title: string | null;
      /**
       * Type
       * @default conversation.created
       * @constant
       */
      type: "conversation.created";
    };
    /**
     * ConversationSettingsFrame
     * @description Your own settings for a conversation changed (on this device or another): it is
     *     muted until `muted_until` (null: until unmuted), or not muted. Sent to your sockets only.
     */
    ConversationSettingsFrame: {
      /**
       * Conversation Id
       * Format: uuid
       */
      conversation_id: string;
      /** Muted */
      muted: boolean;
      /** Muted Until */
      muted_until: string | null;
      /**
       * Type
       * @default conversation.settings
       * @constant
       */
      type: "conversation.settings";
    };
    /**
     * Delivered
     * @description Move the delivered marker forward to `seq`.
     */
    Delivered: {
      /**
       * Conversation Id
       * Format: uuid
       */
      conversation_id: string;
      /** Seq */
      seq: number;
      /**
       * Type
       * @constant
       */
      type: "delivered";
    };
    /**
     * ErrorFrame
     * @description A frame could not be acted on; the socket stays open.
     */
    ErrorFrame: {
      /**
       * Client Id
       * @default null
       */
      client_id: string | null;
      /** Code */
      code: string;
      /** Detail */
      detail: string;
      /**
       * Type
       * @default error
       * @constant
       */
      type: "error";
    };
    /** EventConversation */
    EventConversation: {
      /**
       * Id
       * Format: uuid
       */
      id: string;
      /** Title */
      title: string | null;
    };
    /** EventMember */
    EventMember: {
      /**
       * Role
       * @default null
       */
      role?: ("owner" | "admin" | "member") | null;
      /** @default null */
      user?: components["schemas"]["UserRead"] | null;
      /**
       * User Id
       * Format: uuid
       */
      user_id: string;
    };
    /**
     * EventReaction
     * @description What a `message.reaction` event changed: `user_id` added or removed `emoji`.
     */
    EventReaction: {
      /** Added */
      added: boolean;
      /** Emoji */
      emoji: string;
      /**
       * Message Id
       * Format: uuid
       */
      message_id: string;
      /**
       * User Id
       * Format: uuid
       */
      user_id: string;
    };
    /**
     * EventRead
     * @description A numbered change in a conversation's timeline, as `GET …/events` returns it and the
     *     WebSocket pushes it to every member.
     */
    EventRead: {
      /** Actor Id */
      actor_id: string | null;
      /** @default null */
      conversation?: components["schemas"]["EventConversation"] | null;
      /**
       * Conversation Id
       * Format: uuid
       */
      conversation_id: string;
      /**
       * Created At
       * Format: date-time
       */
      created_at: string;
      /** @default null */
      member?: components["schemas"]["EventMember"] | null;
      /** @default null */
      message?: components["schemas"]["MessageRead"] | null;
      /** @default null */
      reaction?: components["schemas"]["EventReaction"] | null;
      /** Seq */
      seq: number;
      /**
       * Type
       * @enum {string}
       */
      type:
        | "message.new"
        | "message.edited"
        | "message.deleted"
        | "member.added"
        | "member.removed"
        | "member.role_changed"
        | "conversation.updated"
        | "message.reaction"
        | "message.pinned"
        | "message.unpinned";
    };
    /** MediaRead */
    MediaRead: {
      /** Content Type */
      content_type: string;
      /**
       * Created At
       * @default null
       */
      created_at: string | null;
      /** Filename */
      filename: string;
      /**
       * Height
       * @default null
       */
      height: number | null;
      /**
       * Id
       * Format: uuid
       */
      id: string;
      /** Size */
      size: number;
      /**
       * Thumbnail Url
       * @default null
       */
      thumbnail_url: string | null;
      /**
       * Url
       * @description signed, expiring URL; works without a header
       */
      url: string;
      /**
       * Width
       * @default null
       */
      width: number | null;
    };
    /**
     * MessageAck
     * @description The message of a `message.send` is committed (sent to the sending socket only).
     */
    MessageAck: {
      /** Client Id */
      client_id: string;
      message: components["schemas"]["MessageRead"];
      /**
       * Type
       * @default message.ack
       * @constant
       */
      type: "message.ack";
    };
    /** MessageRead */
    MessageRead: {
      /** Attachments */
      attachments: components["schemas"]["MediaRead"][];
      /** Body */
      body: string;
      /** Client Id */
      client_id: string | null;
      /**
       * Conversation Id
       * Format: uuid
       */
      conversation_id: string;
      /**
       * Created At
       * Format: date-time
       */
      created_at: string;
      /** Deleted */
      deleted: boolean;
      /** Edited At */
      edited_at: string | null;
      /**
       * Id
       * Format: uuid
       */
      id: string;
      /**
       * Mentions
       * @description members the body mentions by @username (in order of first mention)
       */
      mentions: string[];
      /**
       * Mentions All
       * @description the body mentions everyone (@all, where allowed)
       * @default false
       */
      mentions_all: boolean;
      /**
       * Pinned
       * @default false
       */
      pinned: boolean;
      /**
       * Reactions
       * @description by emoji, in the order first used
       */
      reactions: components["schemas"]["ReactionRead"][];
      /** Reply To Id */
      reply_to_id: string | null;
      /**
       * Sender Id
       * Format: uuid
       */
      sender_id: string;
      /** Seq */
      seq: number;
    };
    /**
     * MessageSend
     * @description Send a message; answered by `message.ack` after commit (idempotent by client_id).
     */
    MessageSend: {
      /** Attachment Ids */
      attachment_ids?: string[];
      /**
       * Body
       * @default
       */
      body?: string;
      /** Client Id */
      client_id: string;
      /**
       * Conversation Id
       * Format: uuid
       */
      conversation_id: string;
      /**
       * Reply To Id
       * @default null
       */
      reply_to_id?: string | null;
      /**
       * Type
       * @constant
       */
      type: "message.send";
    };
    /**
     * Ping
     * @description Answered by `pong`; clients use it to detect dead connections.
     */
    Ping: {
      /**
       * Type
       * @constant
       */
      type: "ping";
    };
    /**
     * Pong
     * @description The answer to `ping`.
     */
    Pong: {
      /**
       * Type
       * @default pong
       * @constant
       */
      type: "pong";
    };
    /**
     * PresenceFrame
     * @description A user you share a conversation with came online or went offline.
     */
    PresenceFrame: {
      /** Last Seen At */
      last_seen_at: string | null;
      /** Online */
      online: boolean;
      /**
       * Type
       * @default presence
       * @constant
       */
      type: "presence";
      /**
       * User Id
       * Format: uuid
       */
      user_id: string;
    };
    /**
     * ReactionRead
     * @description One emoji's reactions on a message.
     */
    ReactionRead: {
      /** Count */
      count: number;
      /** Emoji */
      emoji: string;
      /**
       * Me
       * @description whether you reacted with this emoji
       */
      me: boolean;
      /**
       * User Ids
       * @description who reacted, earliest first
       */
      user_ids: string[];
    };
    /**
     * Read
     * @description Move the read marker (and the delivered one) forward to `seq`.
     */
    Read: {
      /**
       * Conversation Id
       * Format: uuid
       */
      conversation_id: string;
      /** Seq */
      seq: number;
      /**
       * Type
       * @constant
       */
      type: "read";
    };
    /**
     * Ready
     * @description Authenticated: who you are and this socket's session id.
     */
    Ready: {
      /** Session Id */
      session_id: string;
      /**
       * Type
       * @default ready
       * @constant
       */
      type: "ready";
      user: components["schemas"]["UserRead"];
    };
    /**
     * ReceiptFrame
     * @description A member's read/delivered markers moved (to every member, the mover's own sockets
     *     included).
     */
    ReceiptFrame: {
      /**
       * Conversation Id
       * Format: uuid
       */
      conversation_id: string;
      /** Delivered Seq */
      delivered_seq: number;
      /** Read Seq */
      read_seq: number;
      /**
       * Type
       * @default receipt
       * @constant
       */
      type: "receipt";
      /**
       * User Id
       * Format: uuid
       */
      user_id: string;
    };
    /**
     * SettingsUpdated
     * @description You changed your settings (on this device or another): all of them, as they are
     *     now (to every socket of yours).
     */
    SettingsUpdated: {
      settings: components["schemas"]["UserSettingsRead"];
      /**
       * Type
       * @default settings.updated
       * @constant
       */
      type: "settings.updated";
    };
    /**
     * Typing
     * @description Start or stop typing; a `start` not renewed within the typing TTL expires as `stop`.
     */
    Typing: {
      /**
       * Conversation Id
       * Format: uuid
       */
      conversation_id: string;
      /**
       * State
       * @enum {string}
       */
      state: "start" | "stop";
      /**
       * Type
       * @constant
       */
      type: "typing";
    };
    /**
     * TypingFrame
     * @description Someone else in the conversation started or stopped typing.
     */
    TypingFrame: {
      /**
       * Conversation Id
       * Format: uuid
       */
      conversation_id: string;
      /**
       * State
       * @enum {string}
       */
      state: "start" | "stop";
      /**
       * Type
       * @default typing
       * @constant
       */
      type: "typing";
      /**
       * User Id
       * Format: uuid
       */
      user_id: string;
    };
    /** UserRead */
    UserRead: {
      /**
       * Created At
       * Format: date-time
       */
      created_at: string;
      /** Display Name */
      display_name: string;
      /**
       * Email
       * @description your own e-mail address: only in answers about yourself
       * @default null
       */
      email: string | null;
      /**
       * Id
       * Format: uuid
       */
      id: string;
      /**
       * Last Seen At
       * @default null
       */
      last_seen_at: string | null;
      /**
       * Online
       * @default false
       */
      online: boolean;
      /** Username */
      username: string;
    };
    /**
     * UserSettingsRead
     * @description Your own settings, the same on every device of yours.
     */
    UserSettingsRead: {
      /**
       * Notification Previews
       * @description pushes show the message's text or file name (false: "New message", with the sender and the conversation still named)
       */
      notification_previews: boolean;
      /**
       * Notification Sound
       * @description the web client plays a sound for new messages
       */
      notification_sound: boolean;
      /**
       * Notifications
       * @description push notifications at all (false: no push to any device)
       */
      notifications: boolean;
    };
  };
  responses: never;
  parameters: never;
  requestBodies: never;
  headers: never;
  pathItems: never;
}

type Schemas = components["schemas"];

/** Authenticate the socket, first within the auth timeout, then again to renew. */
export type Auth = Schemas["Auth"];
/** Send a message; answered by `message.ack` after commit (idempotent by client_id). */
export type MessageSend = Schemas["MessageSend"];
/** Start or stop typing; a `start` not renewed within the typing TTL expires as `stop`. */
export type Typing = Schemas["Typing"];
/** Move the read marker (and the delivered one) forward to `seq`. */
export type Read = Schemas["Read"];
/** Move the delivered marker forward to `seq`. */
export type Delivered = Schemas["Delivered"];
/** Answered by `pong`; clients use it to detect dead connections. */
export type Ping = Schemas["Ping"];
/** Authenticated: who you are and this socket's session id. */
export type Ready = Schemas["Ready"];
/** A later `auth` frame renewed the socket's token: the new expiry. */
export type AuthRenewed = Schemas["AuthRenewed"];
/** The message of a `message.send` is committed (sent to the sending socket only). */
export type MessageAck = Schemas["MessageAck"];
/** A numbered change in a conversation's timeline, as `GET …/events` returns it and the WebSocket pushes it to every member. */
export type EventRead = Schemas["EventRead"];
/** Someone else in the conversation started or stopped typing. */
export type TypingFrame = Schemas["TypingFrame"];
/** A member's read/delivered markers moved (to every member, the mover's own sockets included). */
export type ReceiptFrame = Schemas["ReceiptFrame"];
/** A user you share a conversation with came online or went offline. */
export type PresenceFrame = Schemas["PresenceFrame"];
/** A conversation you belong to was just created (not a timeline event: no seq; its first event is seq 1). */
export type ConversationCreatedFrame = Schemas["ConversationCreatedFrame"];
/** You changed your settings (on this device or another): all of them, as they are now (to every socket of yours). */
export type SettingsUpdated = Schemas["SettingsUpdated"];
/** Your own settings for a conversation changed (on this device or another): it is muted until `muted_until` (null: until unmuted), or not muted. Sent to your sockets only. */
export type ConversationSettingsFrame = Schemas["ConversationSettingsFrame"];
/** A frame could not be acted on; the socket stays open. */
export type ErrorFrame = Schemas["ErrorFrame"];
/** The answer to `ping`. */
export type Pong = Schemas["Pong"];

/** Every frame a client may send. */
export type ClientFrame = Auth | MessageSend | Typing | Read | Delivered | Ping;

/** Every frame the server may send (clients should ignore types they do not know). */
export type ServerFrame =
  | Ready
  | AuthRenewed
  | MessageAck
  | EventRead
  | TypingFrame
  | ReceiptFrame
  | PresenceFrame
  | ConversationCreatedFrame
  | SettingsUpdated
  | ConversationSettingsFrame
  | ErrorFrame
  | Pong;

/** The `type` of every client frame. */
export const CLIENT_FRAME_TYPES = [
  "auth",
  "message.send",
  "typing",
  "read",
  "delivered",
  "ping",
] as const satisfies readonly ClientFrame["type"][];
export type ClientFrameType = (typeof CLIENT_FRAME_TYPES)[number];

/** The `type` of every server frame. */
export const SERVER_FRAME_TYPES = [
  "ready",
  "auth.renewed",
  "message.ack",
  "message.new",
  "message.edited",
  "message.deleted",
  "member.added",
  "member.removed",
  "member.role_changed",
  "conversation.updated",
  "message.reaction",
  "message.pinned",
  "message.unpinned",
  "typing",
  "receipt",
  "presence",
  "conversation.created",
  "settings.updated",
  "conversation.settings",
  "error",
  "pong",
] as const satisfies readonly ServerFrame["type"][];
export type ServerFrameType = (typeof SERVER_FRAME_TYPES)[number];

/** The `type` of the numbered timeline events (`EventRead`, also returned by GET …/events). */
export const TIMELINE_EVENT_TYPES = [
  "message.new",
  "message.edited",
  "message.deleted",
  "member.added",
  "member.removed",
  "member.role_changed",
  "conversation.updated",
  "message.reaction",
  "message.pinned",
  "message.unpinned",
] as const satisfies readonly ServerFrameType[];
export type TimelineEventType = (typeof TIMELINE_EVENT_TYPES)[number];
