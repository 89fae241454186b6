// Secrets named by reference and read at run time, so a new customer's authId or SIEM token needs no restart:
// a setting name (read from the same sources as every setting) or a Key Vault secret URI read with the app's
// identity (GET {vault}/secrets/{name}?api-version=7.4 -> {"value": ...}, Key Vault REST "Get Secret").
import { z } from 'zod';
import type { TokenCredential } from '@azure/identity';
import { readBody, type HttpTransport } from '../api/http';
import { SecretReference } from '../pipeline/tenants';

export interface SecretResolver {
  /** The secret's value; throws an Error naming the reference (never a value) when it cannot be read. */
  resolve(reference: string): Promise<string>;
}

/** How Key Vault is reached: a credential for its token, the one HTTP client, and for local runs a fake vault. */
export interface KeyVaultAccess {
  credential: TokenCredential;
  http: HttpTransport;
  scope?: string;
  /** Every vault URI is read from this origin instead (O365_KEYVAULT_URL_OVERRIDE, local runs only). */
  origin?: string | undefined;
}

export interface SecretResolverDeps {
  setting(name: string): string;
  /** For Key Vault URIs: the app's identity and the one HTTP client, built at the first Key Vault reference (not at
   * start-up: most deployments have none). Absent: Key Vault references are refused. */
  keyVault?: () => KeyVaultAccess;
  /** Key Vault answers are kept this long (default 5 min): a rotated secret is picked up without a restart. */
  ttlMs?: number;
  now?: () => number;
}

const KeyVaultSecret = z.looseObject({ value: z.string().min(1) });

export function createSecretResolver(deps: SecretResolverDeps): SecretResolver {
  const cache = new Map<string, { value: string; until: number }>();
  const now = deps.now ?? Date.now;
  const ttlMs = deps.ttlMs ?? 5 * 60_000;
  let keyVault: KeyVaultAccess | undefined;

  async function fromKeyVault(uri: string): Promise<string> {
    const kv = (keyVault ??= deps.keyVault?.());
    if (kv === undefined) throw new Error(`secret reference ${uri}: Key Vault references need the app's identity (not configured here)`);
    const cached = cache.get(uri);
    if (cached && cached.until > now()) return cached.value;
    // The vault's own cloud: vault.azure.net, or vault.usgovcloudapi.net for GCC High and DoD.
    const token = await kv.credential.getToken(kv.scope ?? `https://${new URL(uri).hostname.split('.').slice(1).join('.')}/.default`);
    if (token === null) throw new Error(`secret reference ${uri}: no token for Key Vault`);
    // Local runs: the fake vault at O365_KEYVAULT_URL_OVERRIDE answers for every vault (the secret's path kept).
    const url = kv.origin === undefined ? new URL(uri) : new URL(new URL(uri).pathname, kv.origin);
    url.searchParams.set('api-version', '7.4');
    const answer = await kv.http.request({ method: 'GET', url, headers: { Authorization: `Bearer ${token.token}`, Accept: 'application/json' }, responseTimeoutMs: 10_000, idleTimeoutMs: 10_000 });
    const body = await readBody(answer.body, 256 * 1024);
    if (answer.status !== 200) throw new Error(`secret reference ${uri}: Key Vault answered HTTP ${answer.status} (give the app's identity Key Vault Secrets User)`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new Error(`secret reference ${uri}: Key Vault's answer is not JSON`);
    }
    const secret = KeyVaultSecret.safeParse(parsed);
    if (!secret.success) throw new Error(`secret reference ${uri}: Key Vault's answer has no value`);
    cache.set(uri, { value: secret.data.value, until: now() + ttlMs });
    return secret.data.value;
  }

  return {
    async resolve(reference) {
      const ref = SecretReference.safeParse(reference);
      if (!ref.success) throw new Error('secret reference is neither a setting name nor a Key Vault secret URI');
      return ref.data.kind === 'setting' ? deps.setting(ref.data.name) : fromKeyVault(ref.data.uri);
    },
  };
}
