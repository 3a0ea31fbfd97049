#!/usr/bin/env node
// Generate src/realtime/protocol.gen.ts from the server's AsyncAPI document.
//
//   ASYNCAPI_JSON=/path/to/asyncapi.json npm run gen:protocol   (default: ../var/asyncapi.json)
//   PROTOCOL_GEN_TS=/elsewhere.ts ...   writes there instead (tests/test_asyncapi.py does)
//
// `make gen-protocol` dumps the document from the Python app (`chatapi asyncapi`) and
// runs this; tests/test_asyncapi.py regenerates the file from the app's /asyncapi.json and
// compares it with the committed one, so never edit protocol.gen.ts by hand.
//
// The frame types come from openapi-typescript (the generator of src/api/schema.gen.ts),
// run on a synthetic OpenAPI 3.1 document made of the AsyncAPI `components.schemas`, so
// the socket's and the REST client's types are built the same way and the socket's
// EventRead is structurally the REST EventRead. Around them this script writes one alias
// per message, the ClientFrame / ServerFrame unions and the `type` values as const arrays.
// Keys are sorted first and the result goes through prettier: the output depends only on
// the document's content.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";
import * as prettier from "prettier";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const input = resolve(webDir, process.env.ASYNCAPI_JSON ?? "../var/asyncapi.json");
const output = resolve(webDir, process.env.PROTOCOL_GEN_TS ?? "src/realtime/protocol.gen.ts");

if (!existsSync(input)) {
  console.error(
    `gen:protocol: ${input} does not exist. Dump it from the server first (make asyncapi, or\n` +
      `  .venv/bin/chatapi asyncapi > var/asyncapi.json) or point ASYNCAPI_JSON at the file.`,
  );
  process.exit(2);
}

function fail(message) {
  console.error(`gen:protocol: ${message}`);
  process.exit(1);
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

/** The object a local `#/a/b` reference points at. */
function resolveRef(doc, ref) {
  if (typeof ref !== "string" || !ref.startsWith("#/")) fail(`unsupported $ref ${JSON.stringify(ref)}`);
  let node = doc;
  for (const part of ref.slice(2).split("/")) {
    node = node?.[part.replaceAll("~1", "/").replaceAll("~0", "~")];
  }
  if (node === undefined) fail(`$ref ${ref} does not resolve`);
  return node;
}

const SCHEMA_PREFIX = "#/components/schemas/";

/** A message of an operation: its alias name, summary, schema name and `type` values. */
function frame(doc, ref) {
  let message = resolveRef(doc, ref);
  while (message.$ref) message = resolveRef(doc, message.$ref);
  const name = message.name;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name ?? "")) fail(`message ${ref} has no usable name`);
  const payloadRef = message.payload?.$ref;
  if (!payloadRef?.startsWith(SCHEMA_PREFIX)) fail(`message ${name}: payload is not a $ref to a schema`);
  const schemaName = payloadRef.slice(SCHEMA_PREFIX.length);
  const typeSchema = resolveRef(doc, payloadRef).properties?.type ?? {};
  const types = "const" in typeSchema ? [typeSchema.const] : typeSchema.enum;
  if (!Array.isArray(types) || types.length === 0 || !types.every((t) => typeof t === "string")) {
    fail(`message ${name}: its payload has no string \`type\` (const or enum)`);
  }
  return { name, summary: message.summary ?? "", schemaName, types };
}

function operationFrames(doc, action) {
  const operations = Object.entries(doc.operations ?? {}).filter(([, op]) => op.action === action);
  if (operations.length !== 1) fail(`expected one "${action}" operation, found ${operations.length}`);
  return operations[0][1].messages.map((m) => frame(doc, m.$ref));
}

function comment(text) {
  const body = text.replaceAll("*/", "*\\/");
  return body ? `/** ${body} */\n` : "";
}

const literal = (value) => JSON.stringify(value);

const doc = sortKeys(JSON.parse(readFileSync(input, "utf8")));
if (doc.asyncapi !== "3.0.0") fail(`expected an AsyncAPI 3.0.0 document, got ${doc.asyncapi}`);
const client = operationFrames(doc, "receive"); // what the server receives
const server = operationFrames(doc, "send"); // what the server sends
const timeline = doc["x-timeline-event-types"];
if (!Array.isArray(timeline) || timeline.length === 0) fail("x-timeline-event-types is missing");
const serverTypes = server.flatMap((f) => f.types);
for (const t of timeline) if (!serverTypes.includes(t)) fail(`timeline event type ${t} is not a server frame`);

const ast = await openapiTS(
  {
    openapi: "3.1.0",
    info: { title: doc.info.title, version: doc.info.version },
    paths: {},
    components: { schemas: doc.components.schemas },
  },
  // Optional exactly when a schema does not list the field as required (client frames:
  // fields with a default; server frames list every field).
  { silent: true, defaultNonNullable: false },
);
const schemas = astToString(ast.filter((node) => node.name?.text === "components"));

const aliases = [...client, ...server]
  .map((f) => `${comment(f.summary)}export type ${f.name} = Schemas[${literal(f.schemaName)}];`)
  .join("\n");
const union = (frames) => frames.map((f) => f.name).join(" | ");
const list = (values) => `[${values.map(literal).join(", ")}]`;

const text = `/**
 * Generated from the server's AsyncAPI document (/asyncapi.json, built from
 * src/chatapi/realtime/protocol.py) by web/scripts/gen-protocol.mjs: run \`make gen-protocol\`.
 * Do not edit by hand: tests/test_asyncapi.py fails when this file is stale.
 * Prose, examples and guarantees: docs/protocol.md.
 */

${schemas}
type Schemas = components["schemas"];

${aliases}

/** Every frame a client may send. */
export type ClientFrame = ${union(client)};

/** Every frame the server may send (clients should ignore types they do not know). */
export type ServerFrame = ${union(server)};

/** The \`type\` of every client frame. */
export const CLIENT_FRAME_TYPES = ${list(client.flatMap((f) => f.types))} as const satisfies readonly ClientFrame["type"][];
export type ClientFrameType = (typeof CLIENT_FRAME_TYPES)[number];

/** The \`type\` of every server frame. */
export const SERVER_FRAME_TYPES = ${list(serverTypes)} as const satisfies readonly ServerFrame["type"][];
export type ServerFrameType = (typeof SERVER_FRAME_TYPES)[number];

/** The \`type\` of the numbered timeline events (\`EventRead\`, also returned by GET …/events). */
export const TIMELINE_EVENT_TYPES = ${list(timeline)} as const satisfies readonly ServerFrameType[];
export type TimelineEventType = (typeof TIMELINE_EVENT_TYPES)[number];
`;

// The project's prettier settings, wherever the output goes.
const config = (await prettier.resolveConfig(resolve(webDir, "src/realtime/protocol.gen.ts"))) ?? {};
writeFileSync(output, await prettier.format(text, { ...config, filepath: output }));
console.log(`gen:protocol: ${input} → ${output}`);
