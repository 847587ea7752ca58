// panva's openid-client (certified RP library) against our provider, for
// the Rust end-to-end tests: one command per run, the answer as JSON on
// stdout.
//   node openid-client.mjs revoke ISSUER CLIENT_ID SECRET TOKEN [HINT]
//   node openid-client.mjs introspect ISSUER CLIENT_ID SECRET TOKEN
import * as oidc from "openid-client";

const [command, issuer, clientId, secret, token, hint] = process.argv.slice(2);
const config = await oidc.discovery(
  new URL(issuer),
  clientId,
  secret,
  oidc.ClientSecretBasic(secret),
  { execute: [oidc.allowInsecureRequests] },
);
const params = hint ? { token_type_hint: hint } : undefined;
let out;
switch (command) {
  case "revoke":
    await oidc.tokenRevocation(config, token, params);
    out = { revoked: true };
    break;
  case "introspect":
    out = await oidc.tokenIntrospection(config, token, params);
    break;
  default:
    throw new Error(`unknown command ${command}`);
}
process.stdout.write(JSON.stringify(out));
