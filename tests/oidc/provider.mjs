// A real OpenID Provider for chatapi's single sign-on tests: oidc-provider (the certified
// Node implementation) with two people, a few clients and its development login and consent
// pages. Started by pytest (tests/servers.py, OpenIDProvider) and by the browser test
// (web/e2e/oidc.e2e.test.mjs); it listens on loopback only.
//
// Environment:
//   OP_PORT           port on 127.0.0.1 (the issuer is http://127.0.0.1:OP_PORT)
//   OP_REDIRECT_URIS  comma-separated redirect URIs every client may use
//
// Prints one line `listening <issuer>` on stdout once it answers.
//
// Besides the well-behaved client `chatapi`, some clients get ID tokens spoilt on the way
// out of the token endpoint, so that the relying party's refusals can be tested with real
// codes, real PKCE and a real token endpoint:
//   chatapi-forged     the ID token re-signed with a key this provider never publishes
//                      (same `kid`, so only the signature gives it away)
//   chatapi-audience   the ID token re-signed with this provider's own key, but issued to
//                      another client (`aud` and `azp`: another-app)
//   chatapi-expiring   ID tokens live one second, and the token answer is held for two
//   another-app        a second relying party registered here (the `aud` above)
import { SignJWT, decodeJwt, exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";

const HOST = "127.0.0.1";
const port = Number(process.env.OP_PORT);
const redirectUris = (process.env.OP_REDIRECT_URIS ?? "")
  .split(",")
  .map((uri) => uri.trim())
  .filter(Boolean);
if (!Number.isInteger(port) || port <= 0) {
  console.error("OP_PORT must be a port number");
  process.exit(2);
}
if (redirectUris.length === 0) {
  console.error("OP_REDIRECT_URIS is empty: name the relying parties' callback URLs");
  process.exit(2);
}

/** The people. devInteractions accepts any password; the login is the account id. */
const USERS = {
  alice: {
    preferred_username: "alice",
    name: "Alice Liddell",
    email: "alice@example.test",
    email_verified: true,
  },
  // Someone who already has a chatapi account with a password and links this provider.
  bob: {
    preferred_username: "bob",
    name: "Bob Baker",
    email: "bob@example.test",
    email_verified: true,
  },
};

const KID = "op-signing-key";
const ALG = "RS256";

async function signingKey() {
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  return privateKey;
}

const publishedKey = await signingKey();
const unpublishedKey = await signingKey();
const publishedJwk = { ...(await exportJWK(publishedKey)), kid: KID, alg: ALG, use: "sig" };

const client = (clientId) => ({
  client_id: clientId,
  client_secret: `${clientId}-secret`,
  redirect_uris: redirectUris,
  grant_types: ["authorization_code"],
  response_types: ["code"],
  token_endpoint_auth_method: "client_secret_basic",
});

const CLIENTS = ["chatapi", "chatapi-forged", "chatapi-audience", "chatapi-expiring", "another-app"];

/** How the token endpoint spoils the ID token of some clients (see the header). */
const TAMPER = {
  "chatapi-forged": { key: unpublishedKey },
  "chatapi-audience": { key: publishedKey, claims: { aud: "another-app", azp: "another-app" } },
  "chatapi-expiring": { holdMs: 2_000 },
};

const issuer = `http://${HOST}:${port}`;
const provider = new Provider(issuer, {
  clients: CLIENTS.map(client),
  jwks: { keys: [publishedJwk] },
  async findAccount(_ctx, id) {
    const user = USERS[id];
    if (!user) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...user }) };
  },
  claims: {
    openid: ["sub"],
    profile: ["name", "preferred_username"],
    email: ["email", "email_verified"],
  },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ["chatapi-test-op-cookie-key"] },
  ttl: {
    IdToken: (_ctx, _token, c) => (c.clientId === "chatapi-expiring" ? 1 : 3600),
  },
  // Tests must see their own failures: the relying party's clock is the only skew.
  clockTolerance: 0,
});

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== "/token" || ctx.method !== "POST" || ctx.status !== 200) return;
  const tamper = TAMPER[ctx.oidc?.client?.clientId];
  if (!tamper || typeof ctx.body?.id_token !== "string") return;
  if (tamper.holdMs) await new Promise((resolve) => setTimeout(resolve, tamper.holdMs));
  if (tamper.key) {
    const claims = { ...decodeJwt(ctx.body.id_token), ...(tamper.claims ?? {}) };
    ctx.body.id_token = await new SignJWT(claims).setProtectedHeader({ alg: ALG, kid: KID }).sign(tamper.key);
  }
});

const server = provider.listen(port, HOST, () => console.log(`listening ${issuer}`));

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
