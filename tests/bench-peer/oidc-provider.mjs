// The peer for `bench-oidc --peer`: panva's oidc-provider (npm, 9.13.3) with
// its default in-memory adapter, RS256 ID tokens, rotating refresh tokens,
// one confidential client (client_secret_basic) like bench-oidc's RS256
// client, and a fixed account. bench-oidc copies this file into its scratch
// folder (beside node_modules/oidc-provider) and runs it there:
//
//   BENCH_PEER='{"client_id":…,"client_secret":…,"redirect_uri":…}' \
//     node oidc-provider.mjs
//
// It listens on a free loopback port and prints one JSON line on stdout,
//   {"issuer":…,"pid":…}
// then answers commands on stdin, one line each, with one JSON line:
//   access     → {"access_token":…}       a live access token for /userinfo
//   refresh N  → {"refresh_tokens":[…]}   N refresh tokens, each of its own
//                grant: the start of a rotating chain, as a sign-in leaves
//                (asked for just before each phase: the default adapter is
//                an LRU of 1000 entries, which drops what sits unused)
// Logs go to stderr. It exits when its stdin closes (bench-oidc gone) or on
// SIGTERM/SIGINT.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import Provider from 'oidc-provider';

const cfg = JSON.parse(process.env.BENCH_PEER ?? '{}');
for (const k of ['client_id', 'client_secret', 'redirect_uri']) {
  if (typeof cfg[k] !== 'string') {
    console.error(`BENCH_PEER must name ${k}`);
    process.exit(2);
  }
}
const scope = 'openid email profile offline_access';
const account = {
  accountId: 'bench-account',
  async claims() {
    return {
      sub: 'bench-account',
      email: 'device-0@bench.example',
      email_verified: true,
      name: 'Bench Device',
    };
  },
};

const server = createServer();
// Idle kept-alive connections stay open between phases (Node's default is 5 s).
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

// Keys like ours: an RSA key for RS256 and an Ed25519 key, both in the JWKS.
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  clients: [{
    client_id: cfg.client_id,
    client_secret: cfg.client_secret,
    redirect_uris: [cfg.redirect_uri],
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [{ ...rsa, kid: 'rsa-1', alg: 'RS256', use: 'sig' }, { ...ed, kid: 'ed-1', alg: 'EdDSA', use: 'sig' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  findAccount: async (ctx, id) => (id === account.accountId ? account : undefined),
  claims: { email: ['email', 'email_verified'], profile: ['name'] },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  rotateRefreshToken: true,
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  ttl: {
    AccessToken: 3600,
    IdToken: 3600,
    RefreshToken: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
    Session: 14 * 24 * 3600,
    Interaction: 3600,
    AuthorizationCode: 60,
  },
});
server.on('request', provider.callback());
provider.on('server_error', (ctx, err) => console.error('server_error', err));

// What completed sign-ins leave: each its grant and refresh token (a reused
// refresh token revokes its grant, so chains share nothing), or an access
// token.
const client = await provider.Client.find(cfg.client_id);
async function signedIn() {
  const grant = new provider.Grant({ accountId: account.accountId, clientId: client.clientId });
  grant.addOIDCScope(scope);
  return grant.save();
}
async function refreshTokens(count) {
  const authTime = Math.floor(Date.now() / 1000);
  const out = [];
  for (let i = 0; i < count; i += 1) {
    const rt = new provider.RefreshToken({
      accountId: account.accountId,
      authTime,
      client,
      grantId: await signedIn(),
      gty: 'authorization_code',
      rotations: 0,
      scope,
    });
    out.push(await rt.save());
  }
  return out;
}
async function accessToken() {
  const at = new provider.AccessToken({
    accountId: account.accountId,
    client,
    grantId: await signedIn(),
    gty: 'authorization_code',
    scope: 'openid email profile',
  });
  return at.save();
}

const say = (v) => process.stdout.write(`${JSON.stringify(v)}\n`);
say({ issuer, pid: process.pid });
const commands = createInterface({ input: process.stdin });
commands.on('line', async (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  try {
    if (cmd === 'access') {
      say({ access_token: await accessToken() });
    } else if (cmd === 'refresh' && Number.isInteger(Number(arg))) {
      say({ refresh_tokens: await refreshTokens(Number(arg)) });
    } else {
      say({ error: `unknown command: ${line}` });
    }
  } catch (err) {
    console.error(err);
    say({ error: String(err) });
  }
});
// bench-oidc gone (or done): stop.
commands.on('close', () => process.exit(0));
const stop = () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
