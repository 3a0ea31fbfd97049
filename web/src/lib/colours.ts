/**
 * Stable colours from ids: the same person always gets the same avatar and name colour,
 * on every device, in both colour modes. The colours themselves are CSS custom
 * properties (app.css: --chat-avatar-N, --chat-name-N), chosen to pass WCAG AA contrast
 * in light and dark mode.
 */

/** How many avatar and name colours app.css defines. */
export const PALETTE_SIZE = 8;

/** FNV-1a over the UTF-16 code units: small, fast and well spread for ids. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The palette slot of an id: 0 … PALETTE_SIZE - 1. */
export function colourIndex(id: string): number {
  return hashString(id) % PALETTE_SIZE;
}
