// Cross-checks Authentiq's JWS against the npm `jose` library.
//   node jose.mjs verify <token> <x>   verify with the Ed25519 public key x (base64url)
//   node jose.mjs sign <alg>           make a key, sign a JWT with alg EdDSA or Ed25519
// Prints one JSON object on stdout; exits non-zero on any failure.
import * as jose from 'jose';

const [cmd, ...args] = process.argv.slice(2);

async function verify(token, x) {
  const key = await jose.importJWK({ kty: 'OKP', crv: 'Ed25519', x }, 'EdDSA');
  const { payload, protectedHeader } = await jose.jwtVerify(token, key, {
    algorithms: ['EdDSA'],
  });
  return { payload, protectedHeader };
}

async function sign(alg) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { crv: 'Ed25519', extractable: true });
  const { x } = await jose.exportJWK(publicKey);
  const now = Math.floor(Date.now() / 1000);
  const token = await new jose.SignJWT({ devtoken: 'from-jose' })
    .setProtectedHeader({ alg, typ: 'JWT', kid: x })
    .setSubject(x)
    .setIssuer(x)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .setJti(crypto.randomUUID())
    .sign(privateKey);
  return { token, x };
}

try {
  const out = cmd === 'verify' ? await verify(args[0], args[1]) : await sign(args[0]);
  process.stdout.write(JSON.stringify(out));
} catch (e) {
  process.stderr.write(`${e.code ?? e.name}: ${e.message}\n`);
  process.exit(1);
}
