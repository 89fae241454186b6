// The app roles an access token carries, read from the JWT payload's `roles` claim WITHOUT verifying the
// signature: the doctor only wants a hint for the admin; the API's own answer is the authority.
import { z } from 'zod';

const RolesClaim = z.object({ roles: z.array(z.string()).optional() }).loose();

export type TokenRoles = { kind: 'jwt'; roles: string[] } | { kind: 'opaque' };

export function rolesOfToken(token: string): TokenRoles {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return { kind: 'opaque' };
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return { kind: 'opaque' };
  }
  const parsed = RolesClaim.safeParse(payload);
  if (!parsed.success) return { kind: 'opaque' };
  return { kind: 'jwt', roles: parsed.data.roles ?? [] };
}

/** The roles the relay needs: DLP content needs its own permission. */
export function requiredRoles(contentTypes: readonly string[]): string[] {
  return contentTypes.includes('DLP.All') ? ['ActivityFeed.Read', 'ActivityFeed.ReadDlp'] : ['ActivityFeed.Read'];
}
