// Webhook-AuthID is the only sender check the API offers: a shared secret on every POST. Several may be valid
// at once (rotation), and one may be bound to some tenants only. Comparison is constant-time: both sides are
// hashed first, so neither the content nor the length of a configured authId leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto';

export interface WebhookAuthId {
  value: string;
  /** Tenants whose notifications may carry this authId; undefined = any configured tenant. */
  tenants?: ReadonlySet<string> | undefined;
}

export type AuthMatch = { ok: true; tenants: ReadonlySet<string> | undefined } | { ok: false };

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export function matchAuthId(received: string | null | undefined, configured: readonly WebhookAuthId[]): AuthMatch {
  if (received === null || received === undefined || received === '') return { ok: false };
  const candidate = digest(received);
  let match: AuthMatch = { ok: false };
  // Every configured id is compared, matched or not, so timing does not tell which one (or whether any) matched.
  for (const id of configured) {
    const equal = timingSafeEqual(candidate, digest(id.value));
    if (equal && !match.ok) match = { ok: true, tenants: id.tenants };
  }
  return match;
}
