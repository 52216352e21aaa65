// Independent check: an OpenID4VCI 1.0 wallet built on @openid4vc/openid4vci (OpenWallet
// Foundation's oid4vc-ts), run against our issuer by tests/tests/interop_oid4vci.rs.
//
// usage: node wallet.mjs OFFER_URI TX_CODE [KEYS]
//
// Resolves the offer, discovers the credential issuer metadata and the authorization server
// metadata with the library's own parsers, redeems the pre-authorized code with the transaction
// code, takes a nonce from the Nonce Endpoint, and asks for KEYS (default 1) SD-JWT VC
// instances with one `jwt` proof per fresh Ed25519 key (`proofs`). Prints one JSON object:
// what the library classified and saw, the credentials, and the holder keys (private JWKs, for
// the key-binding presentation). On a refusal it prints {"error": ..., "status": ...} and exits 1.
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { clientAuthenticationDynamic } from '@openid4vc/oauth2';
import { Openid4vciClient, Openid4vciVersion } from '@openid4vc/openid4vci';
import { setGlobalConfig } from '@openid4vc/utils';

// The issuer under test listens on http://127.0.0.1 (loopback); the library insists on https
// unless told otherwise.
setGlobalConfig({ allowInsecureUrls: true });

const [offerUri, txCode, keysArg] = process.argv.slice(2);
const keyCount = Number(keysArg ?? '1');

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const fetched = [];
const loggingFetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input.url ?? String(input);
  fetched.push(`${(init?.method ?? 'GET').toUpperCase()} ${new URL(url).pathname}`);
  return fetch(input, init);
};

// Holder keys: Ed25519, kept here so the verifier script can sign key-binding JWTs.
const holders = Array.from({ length: keyCount }, () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKey, privateKey, publicJwk: publicKey.export({ format: 'jwk' }), privateJwk: privateKey.export({ format: 'jwk' }) };
});
const byX = new Map(holders.map((h) => [h.publicJwk.x, h]));

const callbacks = {
  fetch: loggingFetch,
  // Picks the client authentication from the authorization server metadata: anonymous for the
  // pre-authorized code grant only when `pre-authorized_grant_anonymous_access_supported` says so
  // (otherwise it would send a client_id and fail here, since we have no client registration).
  clientAuthentication: clientAuthenticationDynamic({ clientId: 'vneid-interop-wallet' }),
  generateRandom: (n) => randomBytes(n),
  hash: (data, alg) => createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
  signJwt: async (signer, { header, payload }) => {
    const holder = byX.get(signer.publicJwk?.x);
    if (!holder) throw new Error('signJwt: unknown key');
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
    const sig = sign(null, Buffer.from(input), holder.privateKey);
    return { jwt: `${input}.${b64u(sig)}`, signerJwk: holder.publicJwk };
  },
};

const client = new Openid4vciClient({ callbacks });

try {
  const credentialOffer = await client.resolveCredentialOffer(offerUri);
  const issuerMetadata = await client.resolveIssuerMetadata(credentialOffer.credential_issuer);
  const configurationId = credentialOffer.credential_configuration_ids[0];

  const { accessTokenResponse, authorizationServer } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer,
    issuerMetadata,
    txCode,
  });
  const nonce = await client.requestNonce({ issuerMetadata });
  const jwts = [];
  for (const h of holders) {
    const { jwt } = await client.createCredentialRequestJwtProof({
      issuerMetadata,
      credentialConfigurationId: configurationId,
      signer: { method: 'jwk', alg: 'EdDSA', publicJwk: h.publicJwk },
      nonce: nonce.c_nonce,
    });
    jwts.push(jwt);
  }
  const { credentialResponse } = await client.retrieveCredentials({
    issuerMetadata,
    accessToken: accessTokenResponse.access_token,
    credentialConfigurationId: configurationId,
    proofs: { jwt: jwts },
  });

  process.stdout.write(
    JSON.stringify({
      originalDraftVersion: issuerMetadata.originalDraftVersion,
      isV1: issuerMetadata.originalDraftVersion === Openid4vciVersion.V1,
      txCodeAsked: credentialOffer.grants?.['urn:ietf:params:oauth:grant-type:pre-authorized_code']?.tx_code ?? null,
      authorizationServer,
      authorizationServerMetadata: issuerMetadata.authorizationServers[0],
      credentialIssuerMetadata: issuerMetadata.credentialIssuer,
      fetched,
      tokenType: accessTokenResponse.token_type,
      nonce: nonce.c_nonce,
      credentials: (credentialResponse.credentials ?? []).map((c) => c.credential),
      extraMembers: Object.keys(credentialResponse).filter((k) => !['credentials', 'notification_id'].includes(k)),
      holders: holders.map((h) => h.privateJwk),
    }),
  );
} catch (e) {
  const body = e?.errorResponse ?? e?.credentialErrorResponseResult?.data ?? null;
  process.stdout.write(
    JSON.stringify({
      error: e?.name ?? 'Error',
      message: String(e?.message ?? e),
      errorResponse: body,
      status: e?.response?.status ?? null,
      fetched,
    }),
  );
  process.exitCode = 1;
}
