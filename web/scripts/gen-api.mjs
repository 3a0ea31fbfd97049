#!/usr/bin/env node
// Generate src/api/schema.gen.ts from the server's OpenAPI document.
//
//   OPENAPI_JSON=/path/to/openapi.json npm run gen:api   (default: ../var/openapi.json)
//
// The backend's make target dumps openapi.json from the Python app and runs this;
// a test compares the result with the committed file, so never edit it by hand.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const input = resolve(webDir, process.env.OPENAPI_JSON ?? "../var/openapi.json");
const output = resolve(webDir, "src/api/schema.gen.ts");

if (!existsSync(input)) {
  console.error(
    `gen:api: ${input} does not exist. Dump it from the server first, e.g.\n` +
      `  .venv/bin/python -c "import json,chatapi.main as m; print(json.dumps(m.app.openapi()))" > var/openapi.json\n` +
      `or point OPENAPI_JSON at the file.`,
  );
  process.exit(2);
}

const cli = resolve(webDir, "node_modules/openapi-typescript/bin/cli.js");
const result = spawnSync(process.execPath, [cli, input, "--output", output], {
  cwd: webDir,
  stdio: "inherit",
});
process.exit(result.status ?? 1);
