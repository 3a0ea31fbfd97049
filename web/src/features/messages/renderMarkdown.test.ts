import { isEmojiOnly, renderMarkdown } from "./renderMarkdown";
import corpus from "./xss-corpus.json";

function dom(html: string): HTMLElement {
  const el = document.createElement("div");
  el.innerHTML = html;
  return el;
}

const mentions = (names: string[], me?: string, all = false) => ({ names: new Set(names), all, me });

describe("renderMarkdown: the markdown subset", () => {
  it("renders bold, italic, strikethrough and inline code", () => {
    const el = dom(renderMarkdown("**bold** _it_ ~~gone~~ `x < y`"));
    expect(el.querySelector("strong")?.textContent).toBe("bold");
    expect(el.querySelector("em")?.textContent).toBe("it");
    expect(el.querySelector("s")?.textContent).toBe("gone");
    expect(el.querySelector("code")?.textContent).toBe("x < y");
  });

  it("renders fenced code blocks, quotes and lists", () => {
    const el = dom(renderMarkdown("```\nconst a = 1;\n**not bold**\n```\n\n> quoted\n\n- one\n- two\n\n1. first"));
    expect(el.querySelector("pre code")?.textContent).toBe("const a = 1;\n**not bold**\n");
    expect(el.querySelector("pre strong")).toBeNull();
    expect(el.querySelector("blockquote")?.textContent?.trim()).toBe("quoted");
    expect([...el.querySelectorAll("ul li")].map((li) => li.textContent)).toEqual(["one", "two"]);
    expect(el.querySelector("ol li")?.textContent).toBe("first");
  });

  it("keeps line breaks and shows raw HTML as text", () => {
    const el = dom(renderMarkdown("line one\nline <b>two</b>"));
    expect(el.querySelector("br")).not.toBeNull();
    expect(el.querySelector("b")).toBeNull();
    expect(el.textContent).toContain("line <b>two</b>");
  });

  it("turns URLs into links that open in a new tab and tell the target nothing", () => {
    const el = dom(renderMarkdown("see https://example.com/a?b=1 and [docs](https://docs.example.org)"));
    const links = [...el.querySelectorAll("a")];
    expect(links.map((a) => a.getAttribute("href"))).toEqual(["https://example.com/a?b=1", "https://docs.example.org"]);
    for (const a of links) {
      expect(a.getAttribute("target")).toBe("_blank");
      expect(a.getAttribute("rel")).toBe("noopener noreferrer nofollow");
    }
  });

  it("links mailto but leaves other schemes and relative links as text", () => {
    const el = dom(renderMarkdown("[mail](mailto:a@example.com) [ftp](ftp://x.example) [rel](/settings)"));
    expect([...el.querySelectorAll("a")].map((a) => a.getAttribute("href"))).toEqual(["mailto:a@example.com"]);
    expect(el.textContent).toContain("[ftp](ftp://x.example)");
  });

  it("draws images as text, not as images", () => {
    const el = dom(renderMarkdown("![cat](https://example.com/cat.png)"));
    expect(el.querySelector("img")).toBeNull();
  });
});

describe("renderMarkdown: mentions", () => {
  it("highlights the mentioned names, mine more strongly", () => {
    const el = dom(renderMarkdown("hi @Alice and @bob, not @carol", mentions(["alice", "bob"], "bob")));
    const spans = [...el.querySelectorAll("span.mention")];
    expect(spans.map((s) => s.textContent)).toEqual(["@alice", "@bob"]);
    expect(spans.map((s) => s.classList.contains("mention-me"))).toEqual([false, true]);
    expect(el.textContent).toContain("@carol");
  });

  it("highlights @all for everyone when the message mentions all", () => {
    const el = dom(renderMarkdown("@all lunch", mentions([], "bob", true)));
    expect(el.querySelector("span.mention.mention-me")?.textContent).toBe("@all");
    expect(dom(renderMarkdown("@all lunch", mentions([], "bob"))).querySelector("span.mention")).toBeNull();
  });

  it("does not highlight inside code, addresses or words, and drops trailing punctuation", () => {
    const m = mentions(["alice"], "bob");
    expect(dom(renderMarkdown("`@alice`", m)).querySelector("span.mention")).toBeNull();
    expect(dom(renderMarkdown("mail x@alice.example", m)).querySelector("span.mention")).toBeNull();
    expect(dom(renderMarkdown("thanks @alice.", m)).querySelector("span.mention")?.textContent).toBe("@alice");
  });
});

describe("emoji", () => {
  it("knows a body of one to three emoji", () => {
    expect(isEmojiOnly("🎉")).toBe(true);
    expect(isEmojiOnly("👍🏽 ❤️ 🇫🇷")).toBe(true);
    expect(isEmojiOnly("👨‍👩‍👧")).toBe(true);
    expect(isEmojiOnly("🎉🎉🎉🎉")).toBe(false);
    expect(isEmojiOnly("ok 🎉")).toBe(false);
    expect(isEmojiOnly("12")).toBe(false);
  });

  it("draws a single emoji alone on its line large", () => {
    const el = dom(renderMarkdown("done\n🚀\nnext 🎉"));
    expect([...el.querySelectorAll(".emoji-line")].map((s) => s.textContent)).toEqual(["🚀"]);
  });
});

describe("renderMarkdown: XSS corpus", () => {
  it("has at least 30 payloads", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(30);
  });

  const ALLOWED = new Set(["P", "BR", "STRONG", "EM", "S", "CODE", "PRE", "BLOCKQUOTE", "UL", "OL", "LI", "A", "SPAN"]);

  it.each(corpus.map((p, i) => [i, p] as const))("payload %i renders inert", (_i, payload) => {
    const html = renderMarkdown(payload, mentions(["alice"], "bob"));
    const el = dom(html);
    for (const node of el.querySelectorAll("*")) {
      expect(ALLOWED.has(node.tagName)).toBe(true);
      for (const attr of node.attributes) {
        expect(attr.name).toMatch(/^(href|target|rel|class|data-mention|start)$/);
      }
    }
    for (const a of el.querySelectorAll("a")) {
      const href = a.getAttribute("href");
      if (href !== null) expect(href).toMatch(/^(https?:|mailto:)/i);
    }
    expect(html).not.toMatch(/<(script|img|svg|iframe|style|form|input|math|details|body)\b/i);
    expect(html).not.toMatch(/<[a-z][^>]*\son\w+\s*=/i);
    expect(html).not.toMatch(/<[a-z][^>]*(?:href|src)\s*=\s*["']?\s*(?:javascript|vbscript|data):/i);
  });
});
