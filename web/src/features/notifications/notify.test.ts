import { ALICE, CONV, ME, message } from "../../test/factories";
import {
  attachmentPreview,
  DEFAULT_SETTINGS,
  messagePreview,
  notificationFor,
  plainText,
  shouldNotify,
  type NotifyInput,
} from "./notify";

const ON = DEFAULT_SETTINGS;
const NOW = Date.parse("2026-06-01T12:00:00Z");

function input(over: Partial<NotifyInput> = {}): NotifyInput {
  return {
    message: message(5),
    meId: ME,
    conversation: { muted: false, muted_until: null },
    onScreen: false,
    live: true,
    settings: ON,
    permission: "granted",
    now: NOW,
    ...over,
  };
}

describe("who is notified", () => {
  it("a live message from someone else in a conversation not on screen", () => {
    expect(shouldNotify(input())).toBe(true);
  });

  it("never for the open conversation in a visible tab", () => {
    expect(shouldNotify(input({ onScreen: true }))).toBe(false);
  });

  it("never for my own messages (another tab or device of mine)", () => {
    expect(shouldNotify(input({ message: message(5, { sender_id: ME }) }))).toBe(false);
  });

  it("never for messages caught up after a reconnect", () => {
    expect(shouldNotify(input({ live: false }))).toBe(false);
  });

  it("not when notifications are off, unknown yet, or the browser does not allow them", () => {
    expect(shouldNotify(input({ settings: { ...ON, notifications: false } }))).toBe(false);
    expect(shouldNotify(input({ settings: undefined }))).toBe(false);
    expect(shouldNotify(input({ permission: "default" }))).toBe(false);
    expect(shouldNotify(input({ permission: "denied" }))).toBe(false);
    expect(shouldNotify(input({ permission: "unsupported" }))).toBe(false);
  });

  it("a muted conversation stays quiet unless the message mentions me", () => {
    const muted = { muted: true, muted_until: null };
    expect(shouldNotify(input({ conversation: muted }))).toBe(false);
    expect(shouldNotify(input({ conversation: muted, message: message(5, { mentions: [ME] }) }))).toBe(true);
    expect(shouldNotify(input({ conversation: muted, message: message(5, { mentions_all: true }) }))).toBe(true);
    expect(shouldNotify(input({ conversation: muted, message: message(5, { mentions: [ALICE] }) }))).toBe(false);
  });

  it("a mute that has run out no longer silences", () => {
    expect(shouldNotify(input({ conversation: { muted: true, muted_until: "2026-06-01T11:59:00Z" } }))).toBe(true);
    expect(shouldNotify(input({ conversation: { muted: true, muted_until: "2026-06-01T13:00:00Z" } }))).toBe(false);
  });

  it("a deleted message does not notify", () => {
    expect(shouldNotify(input({ message: message(5, { deleted: true }) }))).toBe(false);
  });
});

describe("what the notification says", () => {
  it("markdown marks and link targets are dropped, lines joined", () => {
    expect(plainText("**Lunch** at _noon_? See [the menu](https://x.example/m)\n> quoted\n- item `code`")).toBe(
      "Lunch at noon? See the menu quoted item code",
    );
    expect(plainText("```js\nlet a = 1\n```")).toBe("let a = 1");
    expect(plainText("snake_case_name and 2*3*4")).toBe("snake_case_name and 2*3*4");
  });

  it("long text is cut with an ellipsis", () => {
    const text = plainText("word ".repeat(100));
    expect(text.length).toBeLessThanOrEqual(140);
    expect(text.endsWith("…")).toBe(true);
  });

  it("attachments say what they are", () => {
    expect(attachmentPreview([{ content_type: "image/png", filename: "a.png" }])).toBe("📷 Photo");
    expect(attachmentPreview([{ content_type: "video/mp4", filename: "a.mp4" }])).toBe("🎥 Video");
    expect(attachmentPreview([{ content_type: "application/pdf", filename: "report.pdf" }])).toBe("📄 report.pdf");
    expect(
      attachmentPreview([
        { content_type: "image/png", filename: "a.png" },
        { content_type: "image/png", filename: "b.png" },
      ]),
    ).toBe("📷 Photo (+1)");
  });

  it("text wins over attachments; nothing at all is a new message", () => {
    const photo = {
      id: "m",
      url: "/m",
      thumbnail_url: null,
      content_type: "image/jpeg",
      filename: "p.jpg",
      size: 1,
      width: 1,
      height: 1,
      created_at: null,
    };
    expect(messagePreview({ body: "look", attachments: [photo] })).toBe("look");
    expect(messagePreview({ body: "", attachments: [photo] })).toBe("📷 Photo");
    expect(messagePreview({ body: "  ", attachments: [] })).toBe("New message");
  });

  it("a group's title follows the sender; the tag is one per conversation", () => {
    const n = notificationFor(message(5, { body: "hi **all**" }), { kind: "group", title: "Weekend" }, "Alice", ON);
    expect(n).toEqual({
      title: "Alice · Weekend",
      body: "hi all",
      tag: `conversation:${CONV}`,
      url: `/c/${CONV}`,
      conversationId: CONV,
    });
    expect(notificationFor(message(5), { kind: "direct", title: null }, "Alice", ON).title).toBe("Alice");
  });

  it("with previews off the body says only that a message came", () => {
    const n = notificationFor(message(5, { body: "secret" }), undefined, "Alice", { notification_previews: false });
    expect(n.body).toBe("New message");
  });
});
