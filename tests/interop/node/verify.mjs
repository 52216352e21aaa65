// Independent check: verify an SD-JWT VC with @sd-jwt/sd-jwt-vc (OpenWallet Foundation's
// sd-jwt-js), knowing nothing but what the credential says: the issuer's keys are found from
// `iss` through SD-JWT VC issuer metadata (`/.well-known/jwt-vc-issuer`), the status through the
// Token Status List the credential references. Run by tests/tests/interop_oid4vci.rs.
//
// usage: node verify.mjs INPUT_JSON
//   INPUT_JSON: {"credential": "<SD-JWT VC>", "holder": <private JWK of its cnf key>,
//                "disclose": ["name_latin", ...], "audience": "...", "nonce": "..."}
//
// The holder makes a key-binding presentation disclosing only `disclose`; the verifier checks
// the issuer signature, the disclosures, the KB-JWT (audience, nonce, sd_hash, signature by the
// cnf key) and the status. Prints {"verified": true, "claims": {...}, "status": 0, ...} or
// {"verified": false, "error": "...", "status": <the status read, if any>}; exits 0 either way
// (the test decides), 2 if it could not run.
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const b64u = (buf) => Buffer.from(buf).toString('base64url');
const decodePart = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
const resolved = [];

// `iss` of the credential, read (unverified) only to know where to look; everything read from
// it is verified below.
const issuerJwt = input.credential.split('~')[0];
const iss = decodePart(issuerJwt.split('.')[1]).iss;

// SD-JWT VC issuer metadata: the well-known path goes between the host and the path of `iss`.
async function issuerKeys(issuer) {
  const u = new URL(issuer);
  const url = `${u.origin}/.well-known/jwt-vc-issuer${u.pathname === '/' ? '' : u.pathname}`;
  resolved.push(url);
  const res = await fetch(url, { headers: { Accept: 'application/json' } });
  if (!res.ok) throw new Error(`jwt-vc-issuer metadata: HTTP ${res.status}`);
  const meta = await res.json();
  if (meta.issuer !== issuer) throw new Error(`jwt-vc-issuer metadata names ${meta.issuer}, not ${issuer}`);
  if (!meta.jwks?.keys) throw new Error('jwt-vc-issuer metadata has no jwks');
  return meta.jwks.keys;
}

// Verifies a JWS signing input against the issuer's key named by its header `kid`. Used for
// the credential and for the status list token (which the credential's issuer signs).
async function issuerVerifier(data, sig) {
  const [h, p] = data.split('.');
  const header = decodePart(h);
  const payload = decodePart(p);
  if (payload.iss !== undefined && payload.iss !== iss) throw new Error(`signed by another issuer: ${payload.iss}`);
  if (header.alg !== 'EdDSA') throw new Error(`unexpected alg ${header.alg}`);
  const jwk = (await issuerKeys(iss)).find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no key ${header.kid} in the issuer's JWK Set`);
  return verify(null, Buffer.from(data), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(sig, 'base64url'));
}

const holderKey = createPrivateKey({ key: input.holder, format: 'jwk' });
let statusRead = null;

const sdjwt = new SDJwtVcInstance({
  hasher: (data, alg) => createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
  hashAlg: 'sha-256',
  saltGenerator: (n) => b64u(randomBytes(n)),
  verifier: issuerVerifier,
  statusVerifier: issuerVerifier,
  statusValidator: async (status) => {
    statusRead = status;
    if (status !== 0) throw new Error(`credential status is ${status} (${status === 1 ? 'revoked' : status === 2 ? 'suspended' : 'invalid'})`);
  },
  kbSigner: (data) => b64u(sign(null, Buffer.from(data), holderKey)),
  kbSignAlg: 'EdDSA',
  kbVerifier: async (data, sig, payload) => {
    const jwk = payload?.cnf?.jwk;
    if (!jwk) throw new Error('no cnf.jwk');
    return verify(null, Buffer.from(data), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(sig, 'base64url'));
  },
});

try {
  const frame = Object.fromEntries((input.disclose ?? []).map((c) => [c, true]));
  const presentation = await sdjwt.present(input.credential, frame, {
    kb: { payload: { iat: Math.floor(Date.now() / 1000), aud: input.audience, nonce: input.nonce } },
  });
  const result = await sdjwt.verify(presentation, {
    keyBindingNonce: input.nonce,
    requiredClaimKeys: input.disclose ?? [],
  });
  if (!result.kb) throw new Error('no key binding verified');
  if (result.kb.payload.aud !== input.audience) throw new Error('KB-JWT for another audience');
  const { _sd, _sd_alg, cnf, status, ...claims } = result.payload;
  process.stdout.write(
    JSON.stringify({ verified: true, iss, claims, status: statusRead, keyBound: true, resolved, typ: result.header?.typ }),
  );
} catch (e) {
  process.stdout.write(JSON.stringify({ verified: false, error: String(e?.message ?? e), status: statusRead, resolved }));
}
