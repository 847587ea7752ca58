// panva's openid-client (certified RP library) against our provider, for
// the Rust end-to-end tests: one command per run, the answer as JSON on
// stdout.
//   node openid-client.mjs revoke ISSUER CLIENT_ID SECRET TOKEN [HINT]
//   node openid-client.mjs introspect ISSUER CLIENT_ID SECRET TOKEN
//   node openid-client.mjs register ISSUER REDIRECT_URI [BEARER]
//   node openid-client.mjs authorize ISSUER CLIENT_ID SECRET REDIRECT_URI
//   node openid-client.mjs exchange ISSUER CLIENT_ID SECRET CALLBACK_URL VERIFIER STATE NONCE [KEY]
// The standards beyond the code flow (PAR, DPoP, device grant, CIBA); an
// OAuth error from the server is the answer `{"error": {...}}` here rather
// than a failed run, so that a test can assert on refusals:
//   node openid-client.mjs par ISSUER CLIENT_ID SECRET REDIRECT_URI [KEY]
//   node openid-client.mjs userinfo ISSUER CLIENT_ID SECRET KEY ACCESS_TOKEN SUB
//   node openid-client.mjs refresh ISSUER CLIENT_ID SECRET KEY REFRESH_TOKEN
//   node openid-client.mjs device-init ISSUER CLIENT_ID SECRET SCOPE
//   node openid-client.mjs device-poll ISSUER CLIENT_ID SECRET RESPONSE_JSON [KEY]
//   node openid-client.mjs ciba-init ISSUER CLIENT_ID SECRET PARAMS_JSON
//   node openid-client.mjs ciba-poll ISSUER CLIENT_ID SECRET RESPONSE_JSON
//   node openid-client.mjs ciba-token ISSUER CLIENT_ID SECRET AUTH_REQ_ID
// SECRET `-`: a public client (no client authentication). KEY: `-` for no
// DPoP, `new` for a fresh ES256 key pair, or the `dpop_key` an earlier run
// printed (the same key again). Runs with a KEY also print `sent`: each
// request openid-client made (method, URL, Authorization scheme, DPoP
// proof) with the response's status, `WWW-Authenticate`, `DPoP-Nonce` and
// body, as they were on the wire.
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
const isPublic = secret === "-";
const config = await oidc.discovery(
  new URL(issuer),
  clientId,
  isPublic ? { token_endpoint_auth_method: "none" } : secret,
  isPublic ? oidc.None() : oidc.ClientSecretBasic(secret),
  insecure,
);
const [token, hint] = args;
const params = hint ? { token_type_hint: hint } : undefined;
// (token and hint are only for revoke and introspect.)

// What openid-client sent and got back, for the runs with a DPoP key.
const sent = [];
config[oidc.customFetch] = async (url, options) => {
  const res = await fetch(url, options);
  const text = await res.clone().text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  sent.push({
    method: options.method,
    url,
    authorization: options.headers.authorization?.split(" ")[0],
    dpop: options.headers.dpop,
    status: res.status,
    www_authenticate: res.headers.get("www-authenticate"),
    dpop_nonce: res.headers.get("dpop-nonce"),
    body,
  });
  return res;
};

const ec = { name: "ECDSA", namedCurve: "P-256" };
/// The DPoP options for KEY, and the key as JWKs (to pass to a later run).
async function dpop(key) {
  if (!key || key === "-") return {};
  let pair;
  if (key === "new") {
    pair = await oidc.randomDPoPKeyPair("ES256", { extractable: true });
  } else {
    const jwk = JSON.parse(key);
    pair = {
      privateKey: await crypto.subtle.importKey("jwk", jwk.private, ec, true, ["sign"]),
      publicKey: await crypto.subtle.importKey("jwk", jwk.public, ec, true, ["verify"]),
    };
  }
  const dpop_key = {
    private: await crypto.subtle.exportKey("jwk", pair.privateKey),
    public: await crypto.subtle.exportKey("jwk", pair.publicKey),
  };
  return { options: { DPoP: oidc.getDPoPHandle(config, pair) }, dpop_key };
}

function tokensOut(tokens) {
  return {
    claims: tokens.id_token ? tokens.claims() : null,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    token_type: tokens.token_type,
    expires_in: tokens.expiresIn(),
    scope: tokens.scope,
  };
}

/// An OAuth error the server answered with, as JSON; anything else fails the run.
function oauthError(err) {
  if (err instanceof oidc.ResponseBodyError) {
    return {
      error: {
        error: err.error,
        error_description: err.error_description,
        status: err.status,
        www_authenticate: err.response?.headers.get("www-authenticate") ?? null,
      },
    };
  }
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    const [challenge] = err.cause;
    return {
      error: {
        error: challenge?.parameters?.error,
        error_description: challenge?.parameters?.error_description,
        scheme: challenge?.scheme,
        status: err.status,
      },
    };
  }
  throw err;
}

/// Polls at most a minute (the tests answer before the first poll).
const pollFor = (options) => ({ ...options, signal: AbortSignal.timeout(60_000) });

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
    const [callback, verifier, state, nonce, key] = args;
    const { options, dpop_key } = await dpop(key);
    try {
      const tokens = await oidc.authorizationCodeGrant(
        config,
        new URL(callback),
        {
          pkceCodeVerifier: verifier,
          expectedState: state,
          expectedNonce: nonce,
          idTokenExpected: true,
        },
        undefined,
        options,
      );
      out = dpop_key ? { ...tokensOut(tokens), dpop_key, sent } : tokensOut(tokens);
    } catch (err) {
      // The provider's refusal, as data (anything else still fails the run).
      if (!(err instanceof oidc.ResponseBodyError)) throw err;
      out = { ...oauthError(err), sent };
    }
    break;
  }
  case "par": {
    // buildAuthorizationUrlWithPAR: the request goes to discovery's
    // pushed_authorization_request_endpoint, the URL carries its request_uri.
    const [redirectUri, key] = args;
    const { options, dpop_key } = await dpop(key);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    try {
      const url = await oidc.buildAuthorizationUrlWithPAR(
        config,
        {
          redirect_uri: redirectUri,
          scope: "openid email~rs",
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: "S256",
          state,
          nonce,
        },
        options,
      );
      out = { url: url.href, verifier, state, nonce, dpop_key, sent };
    } catch (err) {
      out = { ...oauthError(err), sent };
    }
    break;
  }
  case "userinfo": {
    const [key, accessToken, sub] = args;
    const { options, dpop_key } = await dpop(key);
    try {
      const info = await oidc.fetchUserInfo(config, accessToken, sub, options);
      out = { userinfo: info, dpop_key, sent };
    } catch (err) {
      out = { ...oauthError(err), sent };
    }
    break;
  }
  case "refresh": {
    const [key, refreshToken] = args;
    const { options, dpop_key } = await dpop(key);
    try {
      const tokens = await oidc.refreshTokenGrant(config, refreshToken, undefined, options);
      out = { ...tokensOut(tokens), dpop_key, sent };
    } catch (err) {
      out = { ...oauthError(err), sent };
    }
    break;
  }
  case "device-init": {
    const [scope] = args;
    try {
      out = await oidc.initiateDeviceAuthorization(config, { scope });
    } catch (err) {
      out = oauthError(err);
    }
    break;
  }
  case "device-poll": {
    const [response, key] = args;
    const { options, dpop_key } = await dpop(key);
    try {
      const tokens = await oidc.pollDeviceAuthorizationGrant(
        config,
        JSON.parse(response),
        undefined,
        pollFor(options),
      );
      out = { ...tokensOut(tokens), dpop_key, sent };
    } catch (err) {
      out = { ...oauthError(err), sent };
    }
    break;
  }
  case "ciba-init": {
    const [parameters] = args;
    try {
      out = await oidc.initiateBackchannelAuthentication(config, JSON.parse(parameters));
    } catch (err) {
      out = oauthError(err);
    }
    break;
  }
  case "ciba-poll": {
    const [response] = args;
    try {
      const tokens = await oidc.pollBackchannelAuthenticationGrant(
        config,
        JSON.parse(response),
        undefined,
        pollFor(),
      );
      out = { ...tokensOut(tokens), sent };
    } catch (err) {
      out = { ...oauthError(err), sent };
    }
    break;
  }
  case "ciba-token": {
    // Ping mode: pinged, the client asks for the tokens once, at once.
    const [authReqId] = args;
    try {
      const tokens = await oidc.genericGrantRequest(config, "urn:openid:params:grant-type:ciba", {
        auth_req_id: authReqId,
      });
      out = { ...tokensOut(tokens), sent };
    } catch (err) {
      out = { ...oauthError(err), sent };
    }
    break;
  }
  default:
    throw new Error(`unknown command ${command}`);
}
process.stdout.write(JSON.stringify(out));
