/**
 * Builds the service worker (src/sw/sw.ts) into dist/sw.js after the app, with the list of
 * the build's files for its offline cache. A dozen lines of our own instead of Workbox
 * (vite-plugin-pwa pulls in workbox-build, Babel and a second Rollup): the worker's rules
 * are few (network-first pages, cache-first shell files, nothing else), we own all of them,
 * and the app bundle gains nothing.
 *
 * The list holds every file in dist/ except the worker itself and source maps. Files under
 * assets/ carry a content hash in their name; every other file gets a revision (a hash of
 * its content). The cache is named for a hash of the whole list, so any change to any file
 * makes a new worker the browser installs, and the page offers to reload.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { build, type Plugin, type ResolvedConfig } from "vite";

interface PrecacheEntry {
  url: string;
  revision: string | null;
}

const SW_FILE = "sw.js";

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join("/"))
    .sort();
}

function hash(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex").slice(0, 16);
}

export async function precacheManifest(outDir: string): Promise<PrecacheEntry[]> {
  const files = (await listFiles(outDir)).filter((f) => f !== SW_FILE && !f.endsWith(".map"));
  return Promise.all(
    files.map(async (f) => ({
      url: `/${f}`,
      revision: f.startsWith("assets/") ? null : hash(await readFile(join(outDir, f))),
    })),
  );
}

export function serviceWorker(entry = "src/sw/sw.ts"): Plugin {
  let config: ResolvedConfig;
  return {
    name: "chatapi-service-worker",
    apply: "build",
    configResolved(resolved) {
      config = resolved;
    },
    async closeBundle() {
      const outDir = resolve(config.root, config.build.outDir);
      const manifest = await precacheManifest(outDir);
      await build({
        configFile: false,
        root: config.root,
        logLevel: "warn",
        publicDir: false,
        define: {
          __PRECACHE__: JSON.stringify(manifest),
          __SHELL_CACHE__: JSON.stringify(`chatapi-shell-${hash(JSON.stringify(manifest))}`),
        },
        build: {
          outDir,
          emptyOutDir: false,
          sourcemap: false,
          minify: true,
          lib: {
            entry: resolve(config.root, entry),
            formats: ["iife"],
            name: "chatapiServiceWorker",
            fileName: () => SW_FILE,
          },
        },
      });
    },
  };
}
