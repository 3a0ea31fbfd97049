// Draws the app icons of the web app manifest (public/icons/*.png) from one SVG, with the
// Chromium the e2e suite uses. Run once after changing the mark: node scripts/gen-icons.mjs
// "any" icons are a rounded tile; "maskable" ones fill the square and keep the mark inside
// the central 80 % safe zone, since the platform crops them to its own shape.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { launchBrowser, webDir } from "../e2e/harness.mjs";

const ACCENT = "#4f46e5";
const BUBBLE = "M5 3h14a3 3 0 0 1 3 3v9a3 3 0 0 1-3 3h-7l-5 4v-4H5a3 3 0 0 1-3-3V6a3 3 0 0 1 3-3Z";

function svg({ maskable }) {
  // The mark (24 units) scaled into the tile: 60 % of the side, or 50 % for maskable.
  const scale = maskable ? 0.5 : 0.6;
  const offset = (1 - scale) / 2;
  const tile = maskable
    ? `<rect width="100" height="100" fill="${ACCENT}"/>`
    : `<rect width="100" height="100" rx="22" fill="${ACCENT}"/>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">${tile}
  <g transform="translate(${offset * 100} ${offset * 100 + 2}) scale(${(scale * 100) / 24})">
    <path d="${BUBBLE}" fill="#fff"/>
    <path d="M7 8.5h10M7 12.5h6" stroke="${ACCENT}" stroke-width="2" stroke-linecap="round" fill="none"/>
  </g></svg>`;
}

const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  for (const [name, size, maskable] of [
    ["icon-192.png", 192, false],
    ["icon-512.png", 512, false],
    ["maskable-192.png", 192, true],
    ["maskable-512.png", 512, true],
  ]) {
    await page.setViewportSize({ width: size, height: size });
    await page.setContent(
      `<html><body style="margin:0;background:transparent">${svg({ maskable }).replace("<svg ", `<svg width="${size}" height="${size}" `)}</body></html>`,
    );
    const png = await page.screenshot({ omitBackground: true });
    await writeFile(join(webDir, "public", "icons", name), png);
  }
  await writeFile(join(webDir, "public", "icons", "icon.svg"), svg({ maskable: false }) + "\n");
} finally {
  await browser.close();
}
