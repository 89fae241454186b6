// Verifies the client_assertion JWT that certificate credentials send (RFC 7523 as Entra uses it): signed
// with the registered certificate's key (RS256 with an `x5t` header, or PS256 with `x5t#S256`), issued by and
// about the client, addressed to this token endpoint, and currently valid.
import { constants, createHash, timingSafeEqual, verify, X509Certificate } from 'node:crypto';
import { z } from 'zod';

const HeaderSchema = z.object({ alg: z.string(), x5t: z.string().optional(), 'x5t#S256': z.string().optional() });
const ClaimsSchema = z.object({
  aud: z.union([z.string(), z.array(z.string())]),
  iss: z.string(),
  sub: z.string(),
  exp: z.number(),
  nbf: z.number().optional(),
});

export type AssertionCheck = { ok: true } | { ok: false; reason: string };

function decodeJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

function sameText(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export interface AssertionExpectations {
  clientId: string;
  certificatePem: string;
  /** The token endpoint URL(s) the assertion may be addressed to. */
  audiences: readonly string[];
  nowSeconds: number;
}

export function verifyClientAssertion(assertion: string, expected: AssertionExpectations): AssertionCheck {
  const parts = assertion.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'assertion is not a compact JWT' };
  const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
  const header = HeaderSchema.safeParse(decodeJson(headerPart));
  const claims = ClaimsSchema.safeParse(decodeJson(claimsPart));
  if (!header.success || !claims.success) return { ok: false, reason: 'assertion header or claims malformed' };

  const certificate = new X509Certificate(expected.certificatePem);
  const thumbprints = {
    x5t: createHash('sha1').update(certificate.raw).digest('base64url'),
    'x5t#S256': createHash('sha256').update(certificate.raw).digest('base64url'),
  };
  const presented = header.data['x5t#S256'] !== undefined ? { name: 'x5t#S256' as const, value: header.data['x5t#S256'] } : header.data.x5t !== undefined ? { name: 'x5t' as const, value: header.data.x5t } : undefined;
  if (!presented) return { ok: false, reason: 'assertion has no certificate thumbprint' };
  if (!sameText(presented.value, thumbprints[presented.name])) return { ok: false, reason: 'certificate thumbprint does not match a registered certificate' };

  const signedData = Buffer.from(`${headerPart}.${claimsPart}`);
  const signature = Buffer.from(signaturePart, 'base64url');
  let valid: boolean;
  if (header.data.alg === 'RS256') {
    valid = verify('sha256', signedData, certificate.publicKey, signature);
  } else if (header.data.alg === 'PS256') {
    valid = verify('sha256', signedData, { key: certificate.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
  } else {
    return { ok: false, reason: `unsupported assertion algorithm ${header.data.alg}` };
  }
  if (!valid) return { ok: false, reason: 'assertion signature is invalid' };

  const c = claims.data;
  if (c.iss !== expected.clientId || c.sub !== expected.clientId) return { ok: false, reason: 'assertion iss/sub is not the client id' };
  const audiences = Array.isArray(c.aud) ? c.aud : [c.aud];
  if (!audiences.some((a) => expected.audiences.includes(a))) return { ok: false, reason: 'assertion audience is not this token endpoint' };
  const skew = 300; // Entra tolerates five minutes of clock skew
  if (c.exp + skew < expected.nowSeconds) return { ok: false, reason: 'assertion expired' };
  if (c.nbf !== undefined && c.nbf - skew > expected.nowSeconds) return { ok: false, reason: 'assertion not yet valid' };
  return { ok: true };
}
