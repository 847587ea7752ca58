// panva's openid-client (certified RP library) against our provider, for
// the Rust end-to-end tests: one command per run, the answer as JSON on
// stdout.
//   node openid-client.mjs revoke ISSUER CLIENT_ID SECRET TOKEN [HINT]
//   node openid-client.mjs introspect ISSUER CLIENT_ID SECRET TOKEN
//   node openid-client.mjs register ISSUER REDIRECT_URI [BEARER]
//   node openid-client.mjs authorize ISSUER CLIENT_ID SECRET REDIRECT_URI
//   node openid-client.mjs exchange ISSUER CLIENT_ID SECRET CALLBACK_URL VERIFIER STATE NONCE
import * as oidc from "openid-client";

const insecure = { execute: [oidc.allowInsecureRequests] };
const [command, issuer, ...rest] = process.argv.slice(2);

if (command === "register") {
  // dynamicClientRegistration: discovery's registration_endpoint, the
  // bearer as its initial access token (an account token works the same).
  const [redirectUri, bearer] = rest;
  const config = await oidc.dynamicClientRegistration(
    new URL(issuer),
    {
      redirect_uris: [redirectUri],
      client_name: "openid-client test",
      token_endpoint_auth_method: "client_secret_basic",
      id_token_signed_response_alg: "RS256",
    },
    undefined,
    { ...insecure, initialAccessToken: bearer || undefined },
  );
  process.stdout.write(JSON.stringify(config.clientMetadata()));
  process.exit(0);
}

const [clientId, secret, ...args] = rest;
const config = await oidc.discovery(
  new URL(issuer),
  clientId,
  secret,
  oidc.ClientSecretBasic(secret),
  insecure,
);
const [token, hint] = args;
const params = hint ? { token_type_hint: hint } : undefined;
// (token and hint are only for revoke and introspect.)
let out;
switch (command) {
  case "revoke":
    await oidc.tokenRevocation(config, token, params);
    out = { revoked: true };
    break;
  case "introspect":
    out = await oidc.tokenIntrospection(config, token, params);
    break;
  case "authorize": {
    const [redirectUri] = args;
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: "openid email~rs",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    out = { url: url.href, verifier, state, nonce };
    break;
  }
  case "exchange": {
    const [callback, verifier, state, nonce] = args;
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    out = { claims: tokens.claims(), access_token: tokens.access_token, refresh_token: tokens.refresh_token };
    break;
  }
  default:
    throw new Error(`unknown command ${command}`);
}
process.stdout.write(JSON.stringify(out));
