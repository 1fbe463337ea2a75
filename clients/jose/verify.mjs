// Verifies one access token the way a Node.js service guarded by authfn
// would: the keys come from the service's JWKS (createRemoteJWKSet), the
// issuer and audience are pinned. Prints the protected header and the
// claims as JSON and exits 0, or prints the error and exits 1.
//   JWKS_URL=... ISSUER=... AUDIENCE=... TOKEN=... node verify.mjs
import { createRemoteJWKSet, jwtVerify } from 'jose';

const { JWKS_URL, ISSUER, AUDIENCE, TOKEN } = process.env;
try {
  const jwks = createRemoteJWKSet(new URL(JWKS_URL));
  const { payload, protectedHeader } = await jwtVerify(TOKEN, jwks, {
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['ES256', 'EdDSA'],
  });
  console.log(JSON.stringify({ header: protectedHeader, claims: payload }));
} catch (err) {
  console.log(JSON.stringify({ error: err.code || err.name, message: err.message }));
  process.exit(1);
}
