import DOMPurify from "dompurify";
import MarkdownIt from "markdown-it";
import type { StateCore, StateInline } from "markdown-it";

/**
 * Message text as safe HTML: a markdown subset (bold, italic, strikethrough, inline code,
 * fenced code blocks, block quotes, lists, links; bare URLs become links) with raw HTML
 * off, only http(s) and mailto links, and the result sanitized by DOMPurify with a short
 * allow-list of tags and attributes. Mentions (`@username` of someone the server says the
 * message mentions, and `@all`) become highlighted spans.
 */

/** Schemes a link may have; anything else stays text. */
const SAFE_LINK = /^(?:https?:|mailto:)/i;

export interface MentionNames {
  /** Lower-case usernames the message mentions (from the server's `mentions`). */
  names: ReadonlySet<string>;
  /** The message mentions everyone (`mentions_all`). */
  all: boolean;
  /** The reader's own username, lower-case: their mention is drawn more strongly. */
  me?: string | undefined;
}

const NO_MENTIONS: MentionNames = { names: new Set(), all: false };

const md = new MarkdownIt("zero", { html: false, linkify: true, breaks: true, typographer: false });
md.enable([
  "blockquote",
  "fence",
  "list",
  "emphasis",
  "strikethrough",
  "backticks",
  "link",
  "autolink",
  "linkify",
  "newline",
  "escape",
  "entity",
]);
md.linkify.set({ fuzzyEmail: false });
md.validateLink = (url: string) => SAFE_LINK.test(url.trim());

// Links open in a new tab, and tell the target nothing.
md.renderer.rules.link_open = (tokens, idx, options, _env, self) => {
  const token = tokens[idx]!;
  token.attrSet("target", "_blank");
  token.attrSet("rel", "noopener noreferrer nofollow");
  return self.renderToken(tokens, idx, options);
};

/** `@name` where the message mentions that name (not within a word or an address). */
function mention(state: StateInline, silent: boolean): boolean {
  const src = state.src;
  const at = state.pos;
  if (src.charCodeAt(at) !== 0x40 /* @ */) return false;
  if (at > 0 && /[\p{L}\p{N}_@.]/u.test(src[at - 1]!)) return false;
  const match = /^@([a-z0-9_.-]{3,32})/i.exec(src.slice(at));
  if (!match) return false;
  const known: MentionNames = (state.env as { mentions?: MentionNames }).mentions ?? NO_MENTIONS;
  // The longest mentioned name the text starts with (trailing dots and hyphens are punctuation).
  let name = match[1]!.toLowerCase();
  while (name.length >= 3 && !(known.names.has(name) || (name === "all" && known.all))) {
    if (!/[.-]$/.test(name)) return false;
    name = name.slice(0, -1);
  }
  if (name.length < 3) return false;
  if (!silent) {
    const token = state.push("mention", "span", 0);
    token.content = name;
    token.meta = { me: name === "all" || name === known.me };
  }
  state.pos += 1 + name.length;
  return true;
}
md.inline.ruler.before("emphasis", "mention", mention);
md.renderer.rules.mention = (tokens, idx) => {
  const token = tokens[idx]!;
  const me = (token.meta as { me: boolean }).me;
  return `<span class="mention${me ? " mention-me" : ""}" data-mention="${md.utils.escapeHtml(token.content)}">@${md.utils.escapeHtml(token.content)}</span>`;
};

/** A line of a paragraph that is one emoji and nothing else is drawn large. */
md.core.ruler.push("emoji_line", (state: StateCore) => {
  for (const block of state.tokens) {
    if (block.type !== "inline" || !block.children) continue;
    const kids = block.children;
    kids.forEach((token, i) => {
      const before = kids[i - 1]?.type;
      const after = kids[i + 1]?.type;
      const lineStart = before === undefined || before === "softbreak" || before === "hardbreak";
      const lineEnd = after === undefined || after === "softbreak" || after === "hardbreak";
      if (token.type === "text" && lineStart && lineEnd && isSingleEmojiLine(token.content)) {
        token.type = "emoji_line";
      }
    });
  }
});
md.renderer.rules.emoji_line = (tokens, idx) =>
  `<span class="emoji-line">${md.utils.escapeHtml(tokens[idx]!.content)}</span>`;

const ALLOWED_TAGS = ["p", "br", "strong", "em", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a", "span"];
const ALLOWED_ATTR = ["href", "target", "rel", "class", "data-mention", "start"];

const purifier = DOMPurify();
purifier.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName !== "A") return;
  const href = node.getAttribute("href") ?? "";
  if (!SAFE_LINK.test(href.trim())) {
    node.removeAttribute("href");
    return;
  }
  node.setAttribute("target", "_blank");
  node.setAttribute("rel", "noopener noreferrer nofollow");
});

/** The body as sanitized HTML, ready for the message bubble. */
export function renderMarkdown(body: string, mentions: MentionNames = NO_MENTIONS): string {
  // No whitespace between the blocks: it would show in the bubble and in its text.
  const html = md.render(body, { mentions }).trim().replace(/>\n+</g, "><");
  return purifier.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOWED_URI_REGEXP: SAFE_LINK,
    ALLOW_DATA_ATTR: false,
    RETURN_TRUSTED_TYPE: false,
  });
}

// One emoji: a pictograph with its variation selectors, skin tones and ZWJ sequences,
// or a flag (two regional indicators), or a keycap.
const EMOJI =
  "(?:\\p{Regional_Indicator}{2}|[#*0-9]\\uFE0F?\\u20E3|\\p{Extended_Pictographic}(?:\\uFE0F|\\p{Emoji_Modifier})*(?:\\u200D\\p{Extended_Pictographic}(?:\\uFE0F|\\p{Emoji_Modifier})*)*)";
const JUST_EMOJI = new RegExp(`^\\s*(?:${EMOJI}\\s*){1,3}$`, "u");
const ONE_EMOJI = new RegExp(`^${EMOJI}$`, "u");

/** A body that is just one to three emoji is shown large. */
export function isEmojiOnly(body: string): boolean {
  return JUST_EMOJI.test(body);
}

/** A line holding a single emoji and nothing else (shown large within longer text). */
export function isSingleEmojiLine(line: string): boolean {
  return ONE_EMOJI.test(line.trim());
}
