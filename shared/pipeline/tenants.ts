// The tenant registry's rules (pure): what a registry row is, which state changes are allowed, which tenants the
// timers and the webhook follow (the settings' tenants plus the table's active ones), where the settings and the
// table disagree, and the admin-consent link a new customer's admin opens.
import { z } from 'zod';
import { CloudName } from '../api/clouds';
import { ContentType } from '../api/content-types';
import { guidPattern } from '../settings/setting-values';

/** The registry table when O365_TENANT_REGISTRY does not name another. */
export const defaultTenantTable = 'relaytenants';

/** A secret named, never held: a setting name, or a Key Vault secret URI read at run time with the app's identity. */
export const SecretReference = z.union([
  z
    .string()
    .regex(/^https:\/\/[a-z0-9-]{3,24}\.vault\.(azure\.net|usgovcloudapi\.net)\/secrets\/[A-Za-z0-9-]{1,127}(\/[0-9a-f]{32})?$/i)
    .transform((uri) => ({ kind: 'keyVault' as const, uri })),
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).transform((name) => ({ kind: 'setting' as const, name })),
], { error: 'must be a setting name or a Key Vault secret URI (https://<vault>.vault.azure.net/secrets/<name>)' });
export type SecretReference = z.infer<typeof SecretReference>;

export const tenantStates = ['onboarding', 'active', 'paused', 'removed'] as const;
export const TenantState = z.enum(tenantStates);
export type TenantState = z.infer<typeof TenantState>;

const referenceText = (what: string) =>
  z.string().refine((v) => SecretReference.safeParse(v).success, { error: `${what} must be a setting name or a Key Vault secret URI` });

/** One registry row, as the store reads and writes it (the references are kept as written, resolved at run time). */
export const TenantRecord = z.strictObject({
  tenantId: z.string().regex(guidPattern, { error: 'tenantId must be a GUID' }).transform((v) => v.toLowerCase()),
  displayName: z.string().min(1).max(256),
  cloud: CloudName,
  contentTypes: z.array(ContentType).min(1),
  /** Names of O365_SINKS sinks this tenant's records go to; empty: the default routing. */
  sinks: z.array(z.string().min(1)).default([]),
  /** The tenant's webhook authId, by reference (a setting name or a Key Vault secret URI). */
  authIdRef: referenceText('authIdRef').optional(),
  /** Per sink (by O365_SINKS name), this tenant's own SIEM token by reference: used for its blobs instead of the sink's. */
  sinkTokens: z.record(z.string().min(1), referenceText('a sink token')).default({}),
  state: TenantState,
  added: z.iso.datetime(),
  changed: z.iso.datetime(),
}).superRefine((r, ctx) => {
  // A token for a sink the tenant is not routed to would never be used: a typo the operator should see.
  if (r.sinks.length === 0) return;
  for (const name of Object.keys(r.sinkTokens)) {
    if (!r.sinks.includes(name)) ctx.addIssue({ code: 'custom', path: ['sinkTokens', name], message: `sink ${name} is not one of the tenant's sinks (${r.sinks.join(', ')})` });
  }
});
export type TenantRecord = z.infer<typeof TenantRecord>;

export type TenantAction = 'activate' | 'pause' | 'resume' | 'remove';

/** Which state each action leaves from, and where it goes: a table, not a switch. */
const transitions: Readonly<Record<TenantAction, { from: readonly TenantState[]; to: TenantState }>> = {
  activate: { from: ['onboarding', 'paused', 'active'], to: 'active' },
  pause: { from: ['active', 'onboarding'], to: 'paused' },
  resume: { from: ['paused'], to: 'active' },
  remove: { from: ['onboarding', 'active', 'paused'], to: 'removed' },
};

/** The row after `action`, or why it is refused (a removed tenant is added again, not resumed). */
export function applyAction(record: TenantRecord, action: TenantAction, now: Date): { ok: true; record: TenantRecord } | { ok: false; reason: string } {
  const rule = transitions[action];
  if (!rule.from.includes(record.state)) return { ok: false, reason: `tenant ${record.tenantId} is ${record.state}: ${action} needs ${rule.from.join(' or ')}` };
  return { ok: true, record: { ...record, state: rule.to, changed: now.toISOString() } };
}

/** A tenant the timers plan and the webhook accepts. */
export interface FollowedTenant {
  tenantId: string;
  contentTypes: readonly ContentType[];
  /** From the registry only: sink names and the authId reference. */
  sinks?: readonly string[];
  authIdRef?: string;
}

/** The settings' tenants, then the registry's active ones (rows for settings tenants are checked by disagreements). */
export function followedTenants(fromSettings: readonly FollowedTenant[], records: readonly TenantRecord[]): FollowedTenant[] {
  const named = new Set(fromSettings.map((t) => t.tenantId));
  const fromTable = records
    .filter((r) => r.state === 'active' && !named.has(r.tenantId))
    .map((r) => ({ tenantId: r.tenantId, contentTypes: r.contentTypes, sinks: r.sinks, ...(r.authIdRef === undefined ? {} : { authIdRef: r.authIdRef }) }));
  return [...fromSettings, ...fromTable];
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v) => b.includes(v));

/**
 * Where the settings (O365_TENANT_ID / O365_TENANTS) and the registry table name one tenant differently: one line
 * each, naming both sides. A removed row is history, not a claim; any other row must match the settings.
 */
export function registryDisagreements(fromSettings: readonly FollowedTenant[], records: readonly TenantRecord[], table: string): string[] {
  const problems: string[] = [];
  for (const r of records) {
    const s = fromSettings.find((t) => t.tenantId === r.tenantId);
    if (s === undefined || r.state === 'removed') continue;
    if (r.state !== 'active') problems.push(`tenant ${r.tenantId} is in O365_TENANT_ID (followed) but ${r.state} in table ${table}`);
    else if (!sameSet(s.contentTypes, r.contentTypes)) {
      problems.push(`tenant ${r.tenantId}: O365_TENANT_ID/O365_TENANTS give content types ${s.contentTypes.join(',')}, table ${table} gives ${r.contentTypes.join(',')}`);
    }
  }
  return problems;
}

/** The admin-consent link for the multi-tenant app registration (Microsoft identity platform, v1 admin consent). */
export function consentUrl(authorityHost: string, tenantId: string, clientId: string, redirectUri: string): string {
  const url = new URL(`/${encodeURIComponent(tenantId)}/adminconsent`, authorityHost);
  url.searchParams.set('client_id', clientId);
  url.searchParams.set('redirect_uri', redirectUri);
  return url.toString();
}
