// Bearer tokens bound to (tenant, client, audience, app roles). JWT-shaped like Entra's (header.payload.signature,
// with `tid`, `appid`, `aud` and `roles` claims) so tools can read the roles, but unsigned: the simulator only
// trusts tokens it issued, looked up by hash. Lifetimes run on the real clock, not the
// simulator's `now`: @azure/identity caches tokens by real time, and moving the simulated clock for content
// expiry must not silently invalidate them.
import { createHash, randomBytes } from 'node:crypto';
import type { Permission } from './request-shapes.js';

export interface TokenGrant {
  tenantId: string;
  clientId: string;
  audience: string;
  roles: readonly Permission[];
  expiresAtMs: number;
}

export type TokenLookup = { ok: true; grant: TokenGrant } | { ok: false; reason: 'missing' | 'unknown' | 'expired' };

export class AccessTokens {
  // Keyed by a hash so the token itself is not kept around as a map key.
  private readonly grants = new Map<string, TokenGrant>();

  constructor(private readonly lifetimeSeconds: number) {}

  issue(grant: Omit<TokenGrant, 'expiresAtMs'>): { token: string; expiresIn: number } {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const claims = { aud: grant.audience, tid: grant.tenantId, appid: grant.clientId, roles: grant.roles, exp: Math.floor(Date.now() / 1000) + this.lifetimeSeconds };
    const token = `${part({ typ: 'JWT', alg: 'none' })}.${part(claims)}.${randomBytes(32).toString('base64url')}`;
    this.grants.set(digest(token), { ...grant, expiresAtMs: Date.now() + this.lifetimeSeconds * 1000 });
    return { token, expiresIn: this.lifetimeSeconds };
  }

  /** `authorization` is the raw Authorization header. */
  lookup(authorization: string | undefined): TokenLookup {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return { ok: false, reason: 'missing' };
    const grant = this.grants.get(digest(m[1]!));
    if (!grant) return { ok: false, reason: 'unknown' };
    if (grant.expiresAtMs <= Date.now()) return { ok: false, reason: 'expired' };
    return { ok: true, grant };
  }

  /** Expire every token (of one tenant), as if their lifetime had run out. */
  expireAll(tenantId?: string): void {
    for (const grant of this.grants.values()) if (tenantId === undefined || grant.tenantId === tenantId) grant.expiresAtMs = 0;
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
