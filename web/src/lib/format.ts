/** Formatting helpers: times, day labels, file sizes, names. */

export function formatTime(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

export function dayKey(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function dayLabel(iso: string, now: Date = new Date()): string {
  const d = new Date(iso);
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const that = new Date(d.getFullYear(), d.getMonth(), d.getDate());
  const days = Math.round((today.getTime() - that.getTime()) / 86_400_000);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  return d.toLocaleDateString(undefined, {
    weekday: "long",
    day: "numeric",
    month: "long",
    ...(d.getFullYear() === now.getFullYear() ? {} : { year: "numeric" }),
  });
}

/** Short time for the conversation list: a time today, a date otherwise. */
export function formatListTime(iso: string, now: Date = new Date()): string {
  const d = new Date(iso);
  if (dayKey(iso) === dayKey(now.toISOString())) return formatTime(iso);
  return d.toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

export function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function formatLastSeen(iso: string | null | undefined): string {
  if (!iso) return "offline";
  return `last seen ${dayLabel(iso).toLowerCase()} at ${formatTime(iso)}`;
}

const segmenter = typeof Intl !== "undefined" && "Segmenter" in Intl ? new Intl.Segmenter() : null;
const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;

/** User-perceived characters: "é" written as e + a combining accent is one, so is 👍🏽. */
function graphemes(text: string): string[] {
  return segmenter ? Array.from(segmenter.segment(text), (s) => s.segment) : Array.from(text);
}

/**
 * Up to two initials from the letters and digits of a name, grapheme-aware: the first
 * and last words' first letters, or a single word's first two. Emoji, symbols and
 * punctuation never become initials; a name with no letter or digit gives "" (the
 * avatar then shows a person icon).
 */
export function initials(name: string): string {
  const words = name
    .trim()
    .split(/[\s._-]+/)
    .map((word) => graphemes(word).filter((g) => LETTER_OR_DIGIT.test(g)))
    .filter((letters) => letters.length > 0);
  const first = words[0];
  if (!first) return "";
  const last = words[words.length - 1] ?? first;
  const picked = words.length > 1 ? [first[0], last[0]] : first.slice(0, 2);
  return picked.join("").toLocaleUpperCase();
}
