#!/usr/bin/env node
// Generate src/api/schema.gen.ts from the server's OpenAPI document.
//
//   OPENAPI_JSON=/path/to/openapi.json npm run gen:api   (default: ../var/openapi.json)
//
// `make gen-api` dumps the document from the Python app (`chatapi openapi`) and runs
// this; tests/api/test_web_client_api.py regenerates it and compares with the committed
// file, so never edit schema.gen.ts by hand. Keys are sorted first (as the server's
// dump and that test do), so the output depends only on the document's content.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const input = resolve(webDir, process.env.OPENAPI_JSON ?? "../var/openapi.json");
const output = resolve(webDir, "src/api/schema.gen.ts");

if (!existsSync(input)) {
  console.error(
    `gen:api: ${input} does not exist. Dump it from the server first (make openapi, or\n` +
      `  .venv/bin/chatapi openapi > var/openapi.json) or point OPENAPI_JSON at the file.`,
  );
  process.exit(2);
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys(value[k])]),
    );
  }
  return value;
}

const dir = mkdtempSync(join(tmpdir(), "gen-api-"));
try {
  const sorted = join(dir, "openapi.json");
  writeFileSync(sorted, JSON.stringify(sortKeys(JSON.parse(readFileSync(input, "utf8"))), null, 2));
  const cli = resolve(webDir, "node_modules/openapi-typescript/bin/cli.js");
  const result = spawnSync(process.execPath, [cli, sorted, "--output", output], { cwd: webDir, stdio: "inherit" });
  process.exitCode = result.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
