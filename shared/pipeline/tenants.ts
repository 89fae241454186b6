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

/** A row after a change, or why the change is refused. */
export type TenantChange = { ok: true; record: TenantRecord } | { ok: false; reason: string };

/** The row after `action`, or why it is refused (a removed tenant is added again, not resumed). */
export function applyAction(record: TenantRecord, action: TenantAction, now: Date): TenantChange {
  const rule = transitions[action];
  if (!rule.from.includes(record.state)) return { ok: false, reason: `tenant ${record.tenantId} is ${record.state}: ${action} needs ${rule.from.join(' or ')}` };
  return { ok: true, record: { ...record, state: rule.to, changed: now.toISOString() } };
}

/** What `tenants set` changes; a field left out stays as it is. */
export interface TenantEdit {
  displayName?: string;
  contentTypes?: readonly ContentType[];
  sinks?: readonly string[];
  /** A reference; null takes the row's authId binding away (the deployment's authId then applies). */
  authIdRef?: string | null;
  /** Per sink name: a reference to send for this tenant, or null to go back to the sink's own token. */
  sinkTokens?: Readonly<Record<string, string | null>>;
}

/** Field names an edit touches, for a change report that never carries a reference. */
export function editedFields(edit: TenantEdit): string[] {
  return Object.entries(edit).flatMap(([k, v]) => (v === undefined ? [] : [k === 'sinkTokens' ? `sinkTokens(${Object.keys(v as object).join(',')})` : k]));
}

/**
 * The row after an edit, checked by the one row schema (the token-for-its-own-sinks rule included), or why it is
 * refused. A removed row is history: it is added again, not edited. Applied to the row as it is at write time, so
 * a concurrent edit of other fields is kept.
 */
export function applyEdit(record: TenantRecord, edit: TenantEdit, now: Date): TenantChange {
  if (record.state === 'removed') return { ok: false, reason: `tenant ${record.tenantId} is removed: add it again instead (tenants add)` };
  const sinkTokens: Record<string, string> = { ...record.sinkTokens };
  for (const [sink, reference] of Object.entries(edit.sinkTokens ?? {})) {
    if (reference === null) delete sinkTokens[sink];
    else sinkTokens[sink] = reference;
  }
  const { authIdRef: _authIdRef, ...rest } = record;
  const authIdRef = edit.authIdRef === undefined ? record.authIdRef : (edit.authIdRef ?? undefined);
  const next = TenantRecord.safeParse({
    ...rest,
    ...(edit.displayName === undefined ? {} : { displayName: edit.displayName }),
    ...(edit.contentTypes === undefined ? {} : { contentTypes: edit.contentTypes }),
    ...(edit.sinks === undefined ? {} : { sinks: edit.sinks }),
    ...(authIdRef === undefined ? {} : { authIdRef }),
    sinkTokens,
    changed: now.toISOString(),
  });
  // The schema's messages name the field and the rule, never the value (a reference may be a pasted secret).
  if (!next.success) return { ok: false, reason: `tenant ${record.tenantId}: ${next.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  return { ok: true, record: next.data };
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
